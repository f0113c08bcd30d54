import StewardJSON

/// A compiled expression of Steward's guard language.
///
/// The language is deliberately small and safe: it reads instance data, never writes,
/// never loops, and cannot call out. Grammar (lowest precedence first):
///
/// ```
/// expression := or
/// or         := and ("or" and)*
/// and        := not ("and" not)*
/// not        := "not" not | comparison
/// comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") operand)?
/// operand    := literal | path | function "(" arguments ")" | "(" expression ")" | "[" list "]"
/// literal    := number | "string" | 'string' | true | false | null
/// path       := name ("." (name | index))*        e.g. classification.confidence, tags.0
/// function   := exists | len | lower | upper
/// ```
///
/// A missing path is `null`. `==` compares structurally (`1 == 1.0`). Ordering compares
/// numbers with numbers and strings with strings; any other pair is `false`. `x in list`
/// is membership, `x in "text"` is substring, `x in object` is "has key". Truthiness:
/// `false`, `null`, `0`, `""`, `[]` and `{}` are false; everything else is true.
public struct Expression: Sendable, Hashable, CustomStringConvertible {
    /// The source text it was compiled from.
    public let source: String
    let root: Node

    /// Compiles `source`, throwing the first syntax error with its column.
    public init(_ source: String) throws(ExpressionError) {
        var parser = ExpressionParser(source: source)
        self.root = try parser.parseAll()
        self.source = source
    }

    /// An expression that is just a string literal (a quoted YAML value).
    public init(literal text: String) {
        self.root = .literal(.string(text))
        self.source = JSONValue.string(text).jsonString
    }

    /// The source text.
    public var description: String { source }

    /// Every data path the expression reads (e.g. `["classification", "confidence"]`).
    public var referencedPaths: [[String]] {
        var paths: [[String]] = []
        root.collectPaths(into: &paths)
        return paths
    }

    /// Evaluates the expression against `data` (usually the instance's data object).
    public func evaluate(in data: JSONValue) -> JSONValue {
        root.evaluate(in: data)
    }

    /// Evaluates the expression and reduces the result to its truthiness.
    public func isTrue(in data: JSONValue) -> Bool {
        Self.truthiness(of: evaluate(in: data))
    }

    /// The truthiness rule of the language.
    public static func truthiness(of value: JSONValue) -> Bool {
        switch value {
        case .null: return false
        case .bool(let flag): return flag
        case .integer(let number): return number != 0
        case .double(let number): return number != 0
        case .string(let text): return !text.isEmpty
        case .array(let elements): return !elements.isEmpty
        case .object(let members): return !members.isEmpty
        }
    }
}

/// A syntax error in an expression.
public struct ExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Zero-based character offset of the problem within the expression text.
    public let offset: Int
    /// What was expected or wrong, e.g. "expected an operand after 'and'".
    public let message: String

    /// Creates an error.
    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    /// "at character 12: expected ')'".
    public var description: String { "at character \(offset + 1): \(message)" }
}

/// The built-in functions.
enum Function: String, Sendable, CaseIterable {
    case exists, len, lower, upper
}

/// Comparison operators.
enum Comparison: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case contains = "in", notContains = "not in"
}

/// The syntax tree.
indirect enum Node: Sendable, Hashable {
    case literal(JSONValue)
    case path([String])
    case list([Node])
    case call(Function, [Node])
    case not(Node)
    /// A chain `a and b and c`, kept flat so a long chain does not make a deep tree.
    case and([Node])
    /// A chain `a or b or c`.
    case or([Node])
    case compare(Comparison, Node, Node)

    func collectPaths(into paths: inout [[String]]) {
        switch self {
        case .literal: break
        case .path(let segments): paths.append(segments)
        case .list(let nodes), .call(_, let nodes), .and(let nodes), .or(let nodes): nodes.forEach { $0.collectPaths(into: &paths) }
        case .not(let node): node.collectPaths(into: &paths)
        case .compare(_, let lhs, let rhs):
            lhs.collectPaths(into: &paths)
            rhs.collectPaths(into: &paths)
        }
    }

    func evaluate(in data: JSONValue) -> JSONValue {
        switch self {
        case .literal(let value):
            return value
        case .path(let segments):
            return data.value(at: segments) ?? .null
        case .list(let nodes):
            return .array(nodes.map { $0.evaluate(in: data) })
        case .not(let node):
            return .bool(!Expression.truthiness(of: node.evaluate(in: data)))
        case .and(let nodes):
            return .bool(nodes.allSatisfy { Expression.truthiness(of: $0.evaluate(in: data)) })
        case .or(let nodes):
            return .bool(nodes.contains { Expression.truthiness(of: $0.evaluate(in: data)) })
        case .compare(let op, let lhs, let rhs):
            return .bool(Self.compare(op, lhs.evaluate(in: data), rhs.evaluate(in: data)))
        case .call(let function, let arguments):
            let value = arguments.first.map { $0.evaluate(in: data) } ?? .null
            switch function {
            case .exists:
                return .bool(!value.isNull)
            case .len:
                switch value {
                case .string(let text): return .integer(Int64(text.count))
                case .array(let elements): return .integer(Int64(elements.count))
                case .object(let members): return .integer(Int64(members.count))
                default: return .integer(0)
                }
            case .lower:
                return value.stringValue.map { .string($0.lowercased()) } ?? .null
            case .upper:
                return value.stringValue.map { .string($0.uppercased()) } ?? .null
            }
        }
    }

    static func compare(_ op: Comparison, _ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        switch op {
        case .equal: return lhs == rhs
        case .notEqual: return lhs != rhs
        case .contains: return contains(rhs, lhs)
        case .notContains: return !contains(rhs, lhs)
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let order: Int
            if let a = lhs.doubleValue, let b = rhs.doubleValue {
                order = a < b ? -1 : (a > b ? 1 : 0)
            } else if let a = lhs.stringValue, let b = rhs.stringValue {
                order = a < b ? -1 : (a > b ? 1 : 0)
            } else {
                return false
            }
            switch op {
            case .less: return order < 0
            case .lessOrEqual: return order <= 0
            case .greater: return order > 0
            default: return order >= 0
            }
        }
    }

    static func contains(_ container: JSONValue, _ element: JSONValue) -> Bool {
        switch container {
        case .array(let elements): return elements.contains(element)
        case .string(let text):
            guard let needle = element.stringValue else { return false }
            return text.contains(needle)
        case .object(let members):
            guard let key = element.stringValue else { return false }
            return members[key] != nil
        default: return false
        }
    }
}
