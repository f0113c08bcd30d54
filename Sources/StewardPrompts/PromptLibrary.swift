import Foundation
import Mustache
import StewardJSON
import StewardTemplates

/// Versioned prompt templates (Mustache), one file each:
/// `workflows/prompts/<vertical>/<name>@<version>.mustache`, referenced by `model` states as
/// `<vertical>/<name>@<version>`. A prompt never changes once an instance used it: a change is
/// a new version.
public struct PromptLibrary: Sendable {
    /// A loaded prompt.
    public struct Prompt: Sendable {
        /// `customer-support/draft-reply@1`.
        public var id: String
        /// The file it came from.
        public var file: String
        /// Its text, as read (templates are pinned to their prompts' texts by hash).
        public var text: String
        /// The parsed template.
        let template: MustacheTemplate
        /// Every variable the prompt reads, with where (for located render errors).
        public var variables: [(name: String, location: SourceLocation)]
    }

    /// Prompts by id.
    public private(set) var prompts: [String: Prompt] = [:]

    /// An empty library.
    public init() {}

    /// Loads every `*.mustache` under `directory` (one level of vertical folders), collecting
    /// located errors for the ones that do not parse.
    public init(directory: String) throws(TemplateErrors) {
        var diagnostics: [TemplateDiagnostic] = []
        let manager = FileManager.default
        let verticals = ((try? manager.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        for vertical in verticals {
            let folder = (directory as NSString).appendingPathComponent(vertical)
            for name in ((try? manager.contentsOfDirectory(atPath: folder)) ?? []).sorted() where name.hasSuffix(".mustache") {
                let file = (folder as NSString).appendingPathComponent(name)
                let id = vertical + "/" + String(name.dropLast(".mustache".count))
                guard id.contains("@") else {
                    diagnostics.append(TemplateDiagnostic(SourceLocation(file: file, line: 1, column: 1), "prompt file name must carry a version: NAME@VERSION.mustache"))
                    continue
                }
                do {
                    try add(id: id, text: String(contentsOfFile: file, encoding: .utf8), file: file)
                } catch let error as TemplateErrors {
                    diagnostics += error.diagnostics
                } catch {
                    diagnostics.append(TemplateDiagnostic(SourceLocation(file: file, line: 1, column: 1), "cannot read prompt: \(error)"))
                }
            }
        }
        if !diagnostics.isEmpty { throw TemplateErrors(diagnostics) }
    }

    /// Adds a prompt from text; a syntax error is reported with its line and column.
    public mutating func add(id: String, text: String, file: String) throws(TemplateErrors) {
        do {
            let template = try MustacheTemplate(string: text)
            prompts[id] = Prompt(id: id, file: file, text: text, template: template, variables: Self.variables(in: text, file: file))
        } catch let error as MustacheTemplate.ParserError {
            throw TemplateErrors([TemplateDiagnostic(
                SourceLocation(file: file, line: error.context.lineNumber, column: error.context.columnNumber),
                "invalid prompt template: \(error.error)")])
        } catch {
            throw TemplateErrors([TemplateDiagnostic(SourceLocation(file: file, line: 1, column: 1), "invalid prompt template: \(error)")])
        }
    }

    /// Renders prompt `id` with `data`. Every variable the prompt reads must be present in the
    /// data (a missing one is an error located in the prompt file), so a renamed field never
    /// silently produces an empty prompt.
    public func render(_ id: String, with data: JSONValue) throws(PromptError) -> String {
        guard let prompt = prompts[id] else {
            throw PromptError(message: "unknown prompt '\(id)'; expected one of: \(prompts.keys.sorted().joined(separator: ", "))", location: nil)
        }
        for variable in prompt.variables where data.value(at: variable.name.split(separator: ".")) == nil {
            throw PromptError(message: "prompt \(id) reads '\(variable.name)', which the input does not have", location: variable.location)
        }
        return prompt.template.render(Self.mustacheValue(data))
    }

    /// The variables (`{{name}}`, `{{{name}}}`, `{{#section}}`, `{{^inverted}}`) a prompt reads
    /// at the top level of its context. Names inside sections are relative to the section and
    /// not checked.
    static func variables(in text: String, file: String) -> [(name: String, location: SourceLocation)] {
        var found: [(String, SourceLocation)] = []
        var depth = 0
        var line = 1
        var column = 1
        var index = text.startIndex
        while index < text.endIndex {
            if text[index...].hasPrefix("{{") {
                let start = SourceLocation(file: file, line: line, column: column)
                guard let close = text[index...].range(of: "}}") else { break }
                var tag = String(text[text.index(index, offsetBy: 2)..<close.lowerBound])
                if tag.hasPrefix("{") { tag.removeFirst() }
                let sigil = tag.first
                let name = tag.trimmingCharacters(in: CharacterSet(charactersIn: "#^/&!>{} \t"))
                switch sigil {
                case "#", "^":
                    if depth == 0 { found.append((name, start)) }
                    depth += 1
                case "/": depth = max(0, depth - 1)
                case "!", ">", "=": break
                default: if depth == 0, name != "." { found.append((name, start)) }
                }
                for character in text[index..<close.upperBound] {
                    if character == "\n" { line += 1; column = 1 } else { column += 1 }
                }
                index = close.upperBound
                continue
            }
            if text[index] == "\n" { line += 1; column = 1 } else { column += 1 }
            index = text.index(after: index)
        }
        return found
    }

    /// JSON to the Foundation values Mustache renders.
    static func mustacheValue(_ value: JSONValue) -> Any {
        switch value {
        case .null: return ""
        case .bool(let flag): return flag
        case .integer(let number): return number
        case .double(let number): return number
        case .string(let text): return text
        case .array(let elements): return elements.map(mustacheValue)
        case .object(let members): return members.mapValues(mustacheValue)
        }
    }
}

/// A prompt that could not be rendered.
public struct PromptError: Error, Sendable, CustomStringConvertible {
    /// What was wrong.
    public let message: String
    /// Where in the prompt file, when known.
    public let location: SourceLocation?

    /// "file:line:col: error: message".
    public var description: String { location.map { "\($0): error: \(message)" } ?? message }
}
