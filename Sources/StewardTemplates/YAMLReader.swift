import StewardExpressions
import StewardJSON
import Yams

/// Reads a Yams node tree while collecting every problem with its location, so that one
/// pass reports all the mistakes in a file rather than the first.
struct YAMLReader {
    let file: String
    private(set) var diagnostics: [TemplateDiagnostic] = []
    /// States that did not parse, with the state names their mapping mentions as exits, so
    /// the graph checks can still run without reporting false unreachable or unknown states.
    var opaqueStates: [String: [String]] = [:]

    init(file: String) {
        self.file = file
    }

    func location(of node: Node?) -> SourceLocation {
        let mark = node?.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    mutating func error(_ node: Node?, _ message: String) {
        diagnostics.append(TemplateDiagnostic(location(of: node), message))
    }

    mutating func error(at location: SourceLocation, _ message: String) {
        diagnostics.append(TemplateDiagnostic(location, message))
    }

    /// Name of a node's YAML type for messages.
    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): return "scalar '\(scalar.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// The mapping's entries by key, reporting keys outside `allowed`.
    mutating func entries(
        of node: Node, context: String, allowed: [String]
    ) -> [String: (key: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            error(node, "expected a mapping for \(context), found \(Self.describe(node))")
            return nil
        }
        var result: [String: (key: Node, value: Node)] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                error(key, "expected a plain key in \(context)")
                continue
            }
            let name = scalar.string
            if !allowed.contains(name) {
                let suggestion = Self.closest(to: name, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                error(key, "unknown key '\(name)' in \(context)\(suggestion); expected one of: \(allowed.joined(separator: ", "))")
                continue
            }
            result[name] = (key, value)
        }
        return result
    }

    mutating func string(_ node: Node?, _ what: String) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            error(node, "expected a string for \(what), found \(node.mark == nil ? "nothing" : Self.describe(node))")
            return nil
        }
        return scalar.string
    }

    mutating func required(
        _ entries: [String: (key: Node, value: Node)], _ key: String, in parent: Node, context: String
    ) -> Node? {
        guard let entry = entries[key] else {
            error(parent, "missing '\(key)' in \(context)")
            return nil
        }
        return entry.value
    }

    mutating func stringList(_ node: Node?, _ what: String) -> [String]? {
        guard let node else { return nil }
        guard case .sequence(let sequence) = node else {
            error(node, "expected a list of strings for \(what), found \(Self.describe(node))")
            return nil
        }
        var result: [String] = []
        for item in sequence {
            if let text = string(item, "an item of \(what)") { result.append(text) }
        }
        return result
    }

    /// The integer a plain scalar spells. Yams also reads `1:30` as base 60, trapping when that
    /// overflows (`1:1:1:1:1:1:1:1:1:1:1:1`); such scalars are never numbers here.
    static func integer(_ node: Node) -> Int? {
        guard let scalar = node.scalar, !scalar.string.contains(":") else { return nil }
        return node.int
    }

    /// The floating-point number a plain scalar spells (not base 60, as for `integer`).
    static func float(_ node: Node) -> Double? {
        guard let scalar = node.scalar, !scalar.string.contains(":") else { return nil }
        return node.float
    }

    mutating func integer(_ node: Node?, _ what: String, range: ClosedRange<Int>) -> Int? {
        guard let node else { return nil }
        guard let value = Self.integer(node), range.contains(value) else {
            error(node, "expected a whole number in \(range.lowerBound)...\(range.upperBound) for \(what), found \(Self.describe(node))")
            return nil
        }
        return value
    }

    /// `true` or `false` (nil, with a located error, for anything else).
    mutating func bool(_ node: Node?, _ what: String) -> Bool? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, let flag = Bool(scalar.string) else {
            error(node, "expected true or false for \(what)")
            return nil
        }
        return flag
    }

    mutating func number(_ node: Node?, _ what: String) -> Double? {
        guard let node else { return nil }
        guard let value = Self.float(node), value.isFinite else {
            error(node, "expected a finite number for \(what), found \(Self.describe(node))")
            return nil
        }
        return value
    }

    /// Compiles an expression written in a scalar, locating a syntax error inside it.
    mutating func expression(_ node: Node?, _ what: String) -> Expression? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node else {
            error(node, "expected an expression for \(what), found \(Self.describe(node))")
            return nil
        }
        do {
            return try Expression(scalar.string)
        } catch {
            var location = self.location(of: node)
            let quoted = scalar.style == .singleQuoted || scalar.style == .doubleQuoted
            if scalar.style == .plain || quoted {
                location.column += error.offset + (quoted ? 1 : 0)
            }
            self.error(at: location, "invalid expression in \(what): \(error.message)")
            return nil
        }
    }

    /// Converts a YAML node to JSON (plain scalars by their YAML type, quoted ones as strings).
    /// A number no 64-bit double holds (`1e999`, `.inf`, `.nan`) is an error: JSON cannot carry
    /// it, so what is stored would not be what was written.
    mutating func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain { return .string(scalar.string) }
            if node.null != nil { return .null }
            if let flag = node.bool { return .bool(flag) }
            if let integer = Self.integer(node) { return .integer(Int64(integer)) }
            if let double = Self.float(node) {
                guard double.isFinite else {
                    error(node, "the number '\(scalar.string)' is not finite in a 64-bit floating-point number; expected a finite number, or quote it to make it a string")
                    return .null
                }
                return .double(double)
            }
            return .string(scalar.string)
        case .sequence(let sequence):
            return .array(sequence.map { json($0) })
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (key, value) in mapping { members[key.string ?? ""] = json(value) }
            return .object(members)
        case .alias:
            return .null
        }
    }

    /// The allowed word nearest to `word` by edit distance, if close enough to be a typo.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(1, word.count / 3) else { return nil }
        return best
    }

    /// Edit distance counting a swap of two neighbouring letters as one edit (optimal string
    /// alignment), so the commonest typo, `stpe` for `step`, is found.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var beforePrevious: [Int] = []
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], beforePrevious[j - 2] + 1)
                }
            }
            beforePrevious = previous
            previous = current
        }
        return previous[b.count]
    }
}
