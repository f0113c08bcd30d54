/// A C type a foreign (`ffi`) step may take or return.
public enum ForeignType: String, Sendable, Hashable, CaseIterable {
    /// `void` (return only): the step's output is `null`.
    case void
    /// `bool` / `_Bool`.
    case bool
    /// Signed integers.
    case int8, int16, int32, int64
    /// Unsigned integers.
    case uint8, uint16, uint32, uint64
    /// `float`.
    case float
    /// `double`.
    case double
    /// `const char *`: a NUL-terminated UTF-8 string (arguments: borrowed for the call;
    /// returns: copied, never freed by the engine).
    case string

    /// Spellings accepted in signatures.
    static let spellings: [String: ForeignType] = [
        "void": .void, "bool": .bool, "_Bool": .bool,
        "int8_t": .int8, "int16_t": .int16, "int32_t": .int32, "int64_t": .int64, "int": .int32, "long": .int64,
        "uint8_t": .uint8, "uint16_t": .uint16, "uint32_t": .uint32, "uint64_t": .uint64, "unsigned": .uint32,
        "float": .float, "double": .double, "const char*": .string, "char*": .string,
    ]

    /// Whether the type is an integer.
    public var isInteger: Bool {
        switch self {
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64: return true
        default: return false
        }
    }

    /// The C spelling, for messages.
    public var cName: String {
        switch self {
        case .void: return "void"
        case .bool: return "bool"
        case .float: return "float"
        case .double: return "double"
        case .string: return "const char *"
        default: return rawValue + "_t"
        }
    }
}

/// A parsed C function signature: `double churn_risk(double, double, int64_t)`.
public struct ForeignSignature: Sendable, Hashable, CustomStringConvertible {
    /// The return type.
    public var returnType: ForeignType
    /// The function's name.
    public var name: String
    /// Argument types, in order.
    public var arguments: [ForeignType]

    /// Parses a signature, throwing what was expected at which character.
    public init(parsing text: String) throws(ForeignSignatureError) {
        guard let open = text.firstIndex(of: "("), text.hasSuffix(")") else {
            throw ForeignSignatureError(offset: 0, message: "expected 'RETURN NAME(ARG, ...)', e.g. 'double churn_risk(double, int64_t)'")
        }
        let head = text[..<open].trimmingCharacters(in: .whitespaces)
        var nameStart = head.endIndex
        while nameStart > head.startIndex {
            let previous = head.index(before: nameStart)
            let character = head[previous]
            guard character.isLetter || character.isNumber || character == "_" else { break }
            nameStart = previous
        }
        guard nameStart < head.endIndex else {
            throw ForeignSignatureError(offset: 0, message: "expected a function name before '('")
        }
        let name = String(head[nameStart...])
        guard let first = name.first, first.isLetter || first == "_" else {
            throw ForeignSignatureError(offset: text.distance(from: text.startIndex, to: open), message: "expected a function name before '('")
        }
        let returnText = String(head[..<nameStart])
        guard !returnText.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ForeignSignatureError(offset: 0, message: "expected a return type and a function name before '('")
        }
        returnType = try Self.type(returnText, offset: 0, allowVoid: true)
        self.name = name
        let inner = text[text.index(after: open)..<text.index(before: text.endIndex)]
        var arguments: [ForeignType] = []
        let trimmed = inner.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty && trimmed != "void" {
            var offset = text.distance(from: text.startIndex, to: open) + 1
            for part in inner.split(separator: ",", omittingEmptySubsequences: false) {
                let leading = part.prefix(while: { $0.isWhitespace }).count
                arguments.append(try Self.type(Self.dropParameterName(String(part)), offset: offset + leading, allowVoid: false))
                offset += part.count + 1
            }
        }
        self.arguments = arguments
    }

    /// `double churn_risk(double, int64_t)`.
    public var description: String {
        "\(returnType.cName) \(name)(\(arguments.map(\.cName).joined(separator: ", ")))"
    }

    /// Normalises `const char * name` and `double x` to their type spelling.
    static func dropParameterName(_ text: String) -> String {
        var words = text.replacingOccurrences(of: "*", with: " * ").split(separator: " ").map(String.init)
        if words.count >= 2, let last = words.last, last != "*", ForeignType.spellings[last] == nil, last != "const", last != "char" {
            words.removeLast()
        }
        return words.joined(separator: " ")
    }

    static func type(_ raw: String, offset: Int, allowVoid: Bool) throws(ForeignSignatureError) -> ForeignType {
        let spelled = raw.replacingOccurrences(of: "*", with: " * ").split(separator: " ").joined(separator: " ")
            .replacingOccurrences(of: " *", with: "*")
        guard !spelled.isEmpty else { throw ForeignSignatureError(offset: offset, message: "expected a type") }
        guard let type = ForeignType.spellings[spelled] else {
            let known = ["bool", "int8_t...int64_t", "uint8_t...uint64_t", "int", "long", "float", "double", "const char *"]
            throw ForeignSignatureError(offset: offset, message: "unsupported C type '\(spelled)'; expected one of: \(known.joined(separator: ", "))")
        }
        if type == .void && !allowVoid { throw ForeignSignatureError(offset: offset, message: "'void' is not an argument type") }
        return type
    }
}

/// A malformed foreign signature.
public struct ForeignSignatureError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Character offset in the signature text.
    public let offset: Int
    /// What was expected.
    public let message: String

    /// Creates an error.
    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

extension ForeignState {
    /// Why `given` arguments do not fit `signature` (nil when they do): one per parameter.
    static func argumentCountProblem(_ signature: ForeignSignature, given: Int, state: String) -> String? {
        guard given != signature.arguments.count else { return nil }
        return "\(signature.name) takes \(signature.arguments.count) argument(s) but 'args' of state '\(state)' gives \(given); expected \(signature.arguments.count) argument(s), one per parameter"
    }
}
