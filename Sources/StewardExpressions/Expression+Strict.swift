import StewardJSON

/// Why an expression could not be evaluated strictly: the values it met do not let it decide.
///
/// Thrown by `Expression.evaluateStrictly(in:)` and `Expression.isTrueStrictly(in:)`. The
/// `reason` is written for the person who will decide instead (it names the sub-expression
/// and the value found, e.g. `input.amount is a string ("5000"), but '>' compares numbers
/// with numbers or strings with strings`).
public struct ExpressionEvaluationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem it is. New kinds may be added; switch with a `default`.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case typeMismatch = "type_mismatch", missingValue = "missing_value", notBoolean = "not_boolean"
        }
        private let base: Base

        /// An operator or function got a value of a type it does not take (`"5000" > 100`,
        /// `len(5)`, `1 == "1"`).
        public static let typeMismatch = Kind(base: .typeMismatch)
        /// A path read nothing (or `null`) where a value is needed (`input.amount > 100` when
        /// `amount` is missing).
        public static let missingValue = Kind(base: .missingValue)
        /// A condition (`and`, `or`, `not`, or the whole guard) is neither `true` nor `false`.
        public static let notBoolean = Kind(base: .notBoolean)

        /// `type_mismatch`, `missing_value` or `not_boolean`.
        public var description: String { base.rawValue }
    }

    /// The kind of problem.
    public let kind: Kind
    /// The source text of the whole expression.
    public let expression: String
    /// What could not be decided and why, naming the sub-expression and the value it had.
    public let reason: String

    /// Creates an error.
    public init(kind: Kind, expression: String, reason: String) {
        self.kind = kind
        self.expression = expression
        self.reason = reason
    }

    /// "cannot evaluate 'input.amount > 100': input.amount is missing, …".
    public var description: String { "cannot evaluate '\(expression)': \(reason)" }
}

extension Expression {
    /// Evaluates the expression against `data`, refusing to guess.
    ///
    /// Where `evaluate(in:)` makes every operation total (a missing path is `null`, a
    /// comparison of mismatched types is `false`), this throws as soon as the answer would
    /// rest on such a guess:
    /// - `<`, `<=`, `>`, `>=` need two numbers or two strings; a missing or `null` operand,
    ///   or any other pair, throws.
    /// - `==`, `!=` need operands of the same type (integers and decimals are one type). `null`
    ///   compares with anything (`x == null` tests presence), but a path that is missing is an
    ///   error unless the other side is `null`.
    /// - `a in b` needs `b` a list, a string or an object, and for a string or an object `a`
    ///   a string; a missing operand throws.
    /// - `len` takes a string, a list or an object; `lower` and `upper` a string. `exists`
    ///   never throws.
    /// - `and`, `or` and `not` need `true` or `false`. They short-circuit left to right, so
    ///   `exists(x) and x > 3` is safe when `x` is missing.
    ///
    /// A path on its own, or as a list element, may be missing: it gives `null`, as in
    /// `evaluate(in:)`. When this returns, the result is the one `evaluate(in:)` gives.
    ///
    /// Pure and thread-safe; `data` is usually the instance data with `config` and `instance`.
    public func evaluateStrictly(in data: JSONValue) throws(ExpressionEvaluationError) -> JSONValue {
        do {
            return try root.strictValue(in: data).value
        } catch {
            throw ExpressionEvaluationError(kind: error.kind, expression: source, reason: error.reason)
        }
    }

    /// Evaluates the expression strictly (see `evaluateStrictly(in:)`) as a condition: the
    /// result must be `true` or `false`, not merely truthy (`input.items` as a guard throws).
    ///
    /// This is the evaluation for guards whose failure must be seen: a checkpoint `when` that
    /// throws opens the checkpoint (a person decides, and the task says the reason); a choice
    /// guard that throws is a transition error.
    public func isTrueStrictly(in data: JSONValue) throws(ExpressionEvaluationError) -> Bool {
        do throws(StrictFailure) {
            let result = try root.strictValue(in: data)
            guard let flag = result.value.boolValue else {
                throw StrictFailure(.notBoolean, "the condition must be true or false, but \(result.described)")
            }
            return flag
        } catch {
            throw ExpressionEvaluationError(kind: error.kind, expression: source, reason: error.reason)
        }
    }
}

/// A problem found inside the tree; the public error adds the whole expression.
struct StrictFailure: Error {
    let kind: ExpressionEvaluationError.Kind
    let reason: String

    init(_ kind: ExpressionEvaluationError.Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }
}

/// A value met during strict evaluation, with the sub-expression that gave it.
struct StrictOperand {
    let value: JSONValue
    /// The operand is a path that read nothing (not even `null`).
    let missing: Bool
    let node: Node

    /// "input.amount is a string ("5000")", "input.amount is missing", "100 is a number".
    var described: String {
        let text = node.sourceText
        if missing { return "\(text) is missing" }
        if case .literal = node { return "\(text) is \(Self.article(value.typeName))" }
        if value.isNull { return "\(text) is null" }
        var shown = value.jsonString
        if shown.count > 40 { shown = String(shown.prefix(37)) + "..." }
        return "\(text) is \(Self.article(value.typeName)) (\(shown))"
    }

    var isAbsent: Bool { missing || value.isNull }

    static func article(_ typeName: String) -> String {
        (["a", "e", "i", "o", "u"].contains(typeName.prefix(1)) ? "an " : "a ") + typeName
    }

    /// The JSON type for the strict type rules (integers and decimals are both "number").
    var kind: String { value.typeName }
}

extension Node {
    func strictValue(in data: JSONValue) throws(StrictFailure) -> StrictOperand {
        switch self {
        case .literal(let value):
            return StrictOperand(value: value, missing: false, node: self)
        case .path(let segments):
            let found = data.value(at: segments)
            return StrictOperand(value: found ?? .null, missing: found == nil, node: self)
        case .list(let nodes):
            var elements: [JSONValue] = []
            for node in nodes { elements.append(try node.strictValue(in: data).value) }
            return StrictOperand(value: .array(elements), missing: false, node: self)
        case .not(let node):
            return StrictOperand(value: .bool(!(try node.strictCondition(in: data, for: "'not'"))), missing: false, node: self)
        case .and(let nodes), .or(let nodes):
            // Left to right, stopping at the first operand that decides (false for and, true for or).
            let isAnd: Bool
            if case .and = self { isAnd = true } else { isAnd = false }
            for node in nodes {
                let flag = try node.strictCondition(in: data, for: isAnd ? "'and'" : "'or'")
                if flag != isAnd { return StrictOperand(value: .bool(flag), missing: false, node: self) }
            }
            return StrictOperand(value: .bool(isAnd), missing: false, node: self)
        case .compare(let op, let lhs, let rhs):
            let left = try lhs.strictValue(in: data), right = try rhs.strictValue(in: data)
            try Self.checkStrict(op, left, right, in: self)
            return StrictOperand(value: .bool(Self.compare(op, left.value, right.value)), missing: false, node: self)
        case .call(let function, let arguments):
            // The parser gives every call exactly one argument.
            let argument = try arguments[0].strictValue(in: data)
            switch function {
            case .exists:
                break
            case .len:
                guard ["string", "array", "object"].contains(argument.kind), !argument.missing else {
                    throw StrictFailure(argument.isAbsent ? .missingValue : .typeMismatch, "len() takes a string, a list or an object, but \(argument.described)")
                }
            case .lower, .upper:
                guard argument.kind == "string", !argument.missing else {
                    throw StrictFailure(argument.isAbsent ? .missingValue : .typeMismatch, "\(function.rawValue)() takes a string, but \(argument.described)")
                }
            }
            return StrictOperand(value: evaluate(in: data), missing: false, node: self)
        }
    }

    /// The operand of `and`, `or`, `not` as a boolean, or why it is not one.
    func strictCondition(in data: JSONValue, for operator: String) throws(StrictFailure) -> Bool {
        let operand = try strictValue(in: data)
        guard let flag = operand.value.boolValue else {
            throw StrictFailure(operand.isAbsent ? .missingValue : .notBoolean, "\(`operator`) needs true or false, but \(operand.described)")
        }
        return flag
    }

    /// Refuses a comparison whose answer would be a guess.
    static func checkStrict(_ op: Comparison, _ left: StrictOperand, _ right: StrictOperand, in node: Node) throws(StrictFailure) {
        let text = "'\(node.sourceText)'"
        switch op {
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            if let absent = [left, right].first(where: \.isAbsent) {
                throw StrictFailure(.missingValue, "\(absent.described), so \(text) cannot be decided")
            }
            guard left.kind == right.kind, left.kind == "number" || left.kind == "string" else {
                throw StrictFailure(
                    .typeMismatch, "\(left.described) and \(right.described), but '\(op.rawValue)' compares numbers with numbers or strings with strings")
            }
        case .equal, .notEqual:
            // `x == null` asks whether x is there; any other comparison needs x.
            if left.value.isNull && !left.missing || right.value.isNull && !right.missing { return }
            if let absent = [left, right].first(where: \.missing) {
                throw StrictFailure(.missingValue, "\(absent.described), so \(text) cannot be decided (compare with null to test for it)")
            }
            guard left.kind == right.kind else {
                throw StrictFailure(.typeMismatch, "\(left.described) and \(right.described), so \(text) compares different types")
            }
        case .contains, .notContains:
            if let absent = [left, right].first(where: \.missing) {
                throw StrictFailure(.missingValue, "\(absent.described), so \(text) cannot be decided")
            }
            switch right.kind {
            case "array": return
            case "string", "object":
                guard left.kind == "string" else {
                    throw StrictFailure(.typeMismatch, "\(left.described), but 'in' looks for a string in \(StrictOperand.article(right.kind == "object" ? "object's keys" : "string"))")
                }
            default:
                throw StrictFailure(
                    right.isAbsent ? .missingValue : .typeMismatch, "\(right.described), but 'in' looks in a list, a string or an object")
            }
        }
    }

    /// The node written back as expression text, for messages (parenthesised where needed).
    var sourceText: String {
        switch self {
        case .literal(let value): return value.jsonString
        case .path(let segments): return segments.joined(separator: ".")
        case .list(let nodes): return "[" + nodes.map(\.sourceText).joined(separator: ", ") + "]"
        case .call(let function, let nodes): return function.rawValue + "(" + nodes.map(\.sourceText).joined(separator: ", ") + ")"
        case .not(let node): return "not " + node.parenthesised(above: precedence)
        case .and(let nodes): return nodes.map { $0.parenthesised(above: precedence) }.joined(separator: " and ")
        case .or(let nodes): return nodes.map { $0.parenthesised(above: precedence) }.joined(separator: " or ")
        case .compare(let op, let lhs, let rhs):
            return lhs.parenthesised(above: precedence + 1) + " \(op.rawValue) " + rhs.parenthesised(above: precedence + 1)
        }
    }

    /// Binding strength: `or` 1, `and` 2, `not` 3, comparisons 4, operands 5.
    private var precedence: Int {
        switch self {
        case .or: return 1
        case .and: return 2
        case .not: return 3
        case .compare: return 4
        default: return 5
        }
    }

    private func parenthesised(above parent: Int) -> String {
        precedence < parent ? "(" + sourceText + ")" : sourceText
    }
}
