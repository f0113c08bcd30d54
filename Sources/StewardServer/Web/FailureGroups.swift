import Foundation
import StewardCore
import StewardEngine

/// Failed instances grouped by what went wrong, for the operator console: pure (the caller
/// reads the instances and their failures from the store).
enum FailureGroups {
    /// One failed instance with why it failed.
    struct Failed: Sendable, Equatable {
        var summary: InstanceSummary
        var failure: Failure
    }

    /// Instances that failed the same way: same template, state, failure kind and normalised message.
    struct Group: Sendable, Equatable {
        var template: String
        var state: String
        var kind: String
        /// The message with what varies between instances (numbers, ids) replaced.
        var message: String
        /// Every instance of the group, newest first.
        var instances: [Failed]
        /// The group's identity, usable as an HTML id.
        var key: String
    }

    /// `failed` grouped, the largest group first (ties: the one whose newest failure is newer,
    /// then by template, state and message), each group's instances newest first.
    static func group(_ failed: [Failed]) -> [Group] {
        var groups: [String: Group] = [:]
        var order: [String] = []
        for item in failed {
            let message = normalise(item.failure.message)
            let identity = [item.summary.template, item.failure.state, item.failure.kind.rawValue, message].joined(separator: "\u{0}")
            if groups[identity] == nil {
                order.append(identity)
                groups[identity] = Group(
                    template: item.summary.template, state: item.failure.state, kind: item.failure.kind.rawValue, message: message, instances: [],
                    key: "")
            }
            groups[identity]!.instances.append(item)
        }
        var result = order.map { identity -> Group in
            var group = groups[identity]!
            group.instances.sort { ($0.summary.updatedAt, $0.summary.id) > ($1.summary.updatedAt, $1.summary.id) }
            return group
        }
        result.sort { a, b in
            if a.instances.count != b.instances.count { return a.instances.count > b.instances.count }
            let newestA = a.instances.first?.summary.updatedAt ?? 0, newestB = b.instances.first?.summary.updatedAt ?? 0
            if newestA != newestB { return newestA > newestB }
            return (a.template, a.state, a.message) < (b.template, b.state, b.message)
        }
        for index in result.indices { result[index].key = "group-\(index + 1)" }
        return result
    }

    /// `message` with what differs between instances of one failure replaced: UUIDs and long
    /// hex runs (ids, hashes) by `<id>`, runs of digits by `#`; whitespace collapsed.
    /// `"HTTP 503 after 1200 ms for 5f0c...e2"` becomes `"HTTP # after # ms for <id>"`.
    static func normalise(_ message: String) -> String {
        var output = ""
        let characters = Array(message)
        var index = 0
        func isHex(_ c: Character) -> Bool { c.isHexDigit }
        while index < characters.count {
            let c = characters[index]
            // A run of hex digits and dashes of 8 or more holding a digit: an id or a hash.
            if isHex(c), index == 0 || !(characters[index - 1].isLetter || characters[index - 1].isNumber) {
                var end = index
                while end < characters.count, isHex(characters[end]) || characters[end] == "-" { end += 1 }
                let run = characters[index..<end]
                let boundary = end == characters.count || !(characters[end].isLetter || characters[end].isNumber)
                if run.count >= 8, boundary, run.contains(where: \.isNumber), run.filter({ $0 != "-" }).count >= 8 {
                    output += "<id>"
                    index = end
                    continue
                }
            }
            if c.isNumber {
                while index < characters.count, characters[index].isNumber { index += 1 }
                output += "#"
                continue
            }
            if c.isWhitespace {
                while index < characters.count, characters[index].isWhitespace { index += 1 }
                output += " "
                continue
            }
            output.append(c)
            index += 1
        }
        return output.trimmingCharacters(in: .whitespaces)
    }
}
