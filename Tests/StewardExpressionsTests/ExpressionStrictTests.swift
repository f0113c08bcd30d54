import StewardJSON
import Testing

@testable import StewardExpressions

/// Strict evaluation: a guard whose answer would rest on a guess throws instead of failing
/// open (issue 17, item 6). Lenient evaluation is unchanged.
@Suite("Strict expression evaluation")
struct ExpressionStrictTests {
    /// The data of a refund: an amount sent as text, a null and a missing member.
    static let data: JSONValue = [
        "input": ["amount": "5000", "limit": 100, "ratio": 0.5, "nothing": nil, "tags": ["vip"], "name": "Jo", "flag": true, "meta": ["a": 1]],
        "config": ["threshold": 100],
    ]

    struct Refusal: Sendable, CustomTestStringConvertible {
        let source: String
        let kind: ExpressionEvaluationError.Kind
        let reason: String
        /// What lenient evaluation answers (the fail-open value).
        let lenient: JSONValue
        var testDescription: String { source }

        init(_ source: String, _ kind: ExpressionEvaluationError.Kind, _ reason: String, lenient: JSONValue) {
            self.source = source
            self.kind = kind
            self.reason = reason
            self.lenient = lenient
        }
    }

    static let refusals: [Refusal] = [
        // The issue's case: the amount arrived as a string, so `> 100` silently said no.
        Refusal(
            "input.amount > 100", .typeMismatch,
            "input.amount is a string (\"5000\") and 100 is a number, but '>' compares numbers with numbers or strings with strings", lenient: false),
        Refusal("input.missing > 100", .missingValue, "input.missing is missing, so 'input.missing > 100' cannot be decided", lenient: false),
        Refusal("input.nothing >= config.threshold", .missingValue, "input.nothing is null, so 'input.nothing >= config.threshold' cannot be decided", lenient: false),
        Refusal("100 < input.missing", .missingValue, "input.missing is missing", lenient: false),
        Refusal("input.tags < 3", .typeMismatch, "input.tags is an array ([\"vip\"]) and 3 is a number", lenient: false),
        Refusal("input.amount == 5000", .typeMismatch, "input.amount is a string (\"5000\") and 5000 is a number, so 'input.amount == 5000' compares different types", lenient: false),
        Refusal("input.limit != \"100\"", .typeMismatch, "compares different types", lenient: true),
        Refusal("input.tier == \"gold\"", .missingValue, "input.tier is missing, so 'input.tier == \"gold\"' cannot be decided (compare with null to test for it)", lenient: false),
        Refusal("input.tier in [\"gold\"]", .missingValue, "input.tier is missing", lenient: false),
        Refusal("\"vip\" in input.missing", .missingValue, "input.missing is missing", lenient: false),
        Refusal("\"vip\" in input.limit", .typeMismatch, "input.limit is a number (100), but 'in' looks in a list, a string or an object", lenient: false),
        Refusal("input.limit in input.name", .typeMismatch, "input.limit is a number (100), but 'in' looks for a string in a string", lenient: false),
        Refusal("1 not in input.meta", .typeMismatch, "1 is a number, but 'in' looks for a string in an object's keys", lenient: true),
        Refusal("len(input.limit) > 0", .typeMismatch, "len() takes a string, a list or an object, but input.limit is a number (100)", lenient: false),
        Refusal("len(input.missing) == 0", .missingValue, "len() takes a string, a list or an object, but input.missing is missing", lenient: true),
        Refusal("lower(input.limit) == \"x\"", .typeMismatch, "lower() takes a string, but input.limit is a number (100)", lenient: false),
        Refusal("upper(input.nothing)", .missingValue, "upper() takes a string, but input.nothing is null", lenient: nil),
        Refusal("input.name and input.flag", .notBoolean, "'and' needs true or false, but input.name is a string (\"Jo\")", lenient: true),
        Refusal("input.flag and input.missing", .missingValue, "'and' needs true or false, but input.missing is missing", lenient: false),
        Refusal("not input.tags", .notBoolean, "'not' needs true or false, but input.tags is an array", lenient: false),
        Refusal("false or len(input.name)", .notBoolean, "'or' needs true or false, but len(input.name) is a number (2)", lenient: true),
        Refusal("(input.limit > 5 and input.amount > 100) or input.flag", .typeMismatch, "input.amount is a string", lenient: true),
    ]

    @Test("a comparison or function that would guess throws a typed error with the reason", arguments: refusals)
    func refused(_ refusal: Refusal) throws {
        let expression = try Expression(refusal.source)
        #expect(expression.evaluate(in: Self.data) == refusal.lenient, "lenient evaluation is unchanged")
        let error = try #require(throws: ExpressionEvaluationError.self) { try expression.evaluateStrictly(in: Self.data) }
        #expect(error.kind == refusal.kind, "\(error)")
        #expect(error.expression == refusal.source)
        #expect(error.reason.contains(refusal.reason), "\(error.reason)")
        #expect(error.description == "cannot evaluate '\(refusal.source)': \(error.reason)")
        // As a condition too.
        #expect(throws: ExpressionEvaluationError.self) { try expression.isTrueStrictly(in: Self.data) }
    }

    static let answers: [(String, JSONValue)] = [
        ("input.limit > 50", true),
        ("input.ratio < 1", true),
        ("input.name >= \"A\"", true),
        ("input.limit == 100.0", true),
        ("input.name != \"Al\"", true),
        // Presence tests compare with null, missing or not.
        ("input.missing == null", true),
        ("input.nothing == null", true),
        ("input.name != null", true),
        ("input.nothing == \"x\"", false),
        ("exists(input.missing)", false),
        ("\"vip\" in input.tags", true),
        ("null in input.tags", false),
        ("\"a\" in input.meta", true),
        ("\"J\" in input.name", true),
        ("len(input.tags) == 1", true),
        ("upper(input.name)", "JO"),
        // Short-circuit: the right side is not evaluated once the left decides.
        ("exists(input.missing) and input.missing > 3", false),
        ("not exists(input.missing) or input.missing > 3", true),
        ("input.flag and not (input.limit < 10)", true),
        // A bare path (or list element) may be missing: it is null, as leniently.
        ("input.missing", nil),
        ("[input.missing, 1]", [nil, 1]),
    ]

    @Test("when the answer does not rest on a guess, strict and lenient agree", arguments: answers)
    func answered(source: String, expected: JSONValue) throws {
        let expression = try Expression(source)
        #expect(try expression.evaluateStrictly(in: Self.data) == expected)
        #expect(expression.evaluate(in: Self.data) == expected)
    }

    @Test("a condition must be true or false, not merely truthy", arguments: ["input.name", "input.tags", "len(input.name)", "input.missing", "input.nothing"])
    func conditionMustBeBoolean(source: String) throws {
        let expression = try Expression(source)
        let error = try #require(throws: ExpressionEvaluationError.self) { try expression.isTrueStrictly(in: Self.data) }
        #expect(error.kind == .notBoolean)
        #expect(error.reason.hasPrefix("the condition must be true or false, but \(source) is "), "\(error.reason)")
        #expect(try expression.evaluateStrictly(in: Self.data) == expression.evaluate(in: Self.data), "as a value it is fine")
    }

    @Test("isTrueStrictly answers booleans")
    func booleans() throws {
        #expect(try Expression("input.limit > 50 and input.flag").isTrueStrictly(in: Self.data))
        #expect(try !Expression("input.limit > 500").isTrueStrictly(in: Self.data))
    }

    @Test("messages write sub-expressions back with the parentheses they need")
    func sourceText() throws {
        let error = try #require(throws: ExpressionEvaluationError.self) {
            try Expression("not (input.flag or input.flag) and (1 < 2) == input.nothing or input.amount > 1").evaluateStrictly(in: Self.data)
        }
        #expect(error.reason.contains("input.amount is a string"))
        let root = try Expression("not (a or b) and (1 < 2) == c").root
        #expect(root.sourceText == "not (a or b) and (1 < 2) == c")
    }
}

/// Parser bounds: nesting is limited, chains are not.
@Suite("Expression bounds")
struct ExpressionBoundsTests {
    @Test("nesting past 64 levels is a located syntax error", arguments: [
        String(repeating: "(", count: 65) + "1" + String(repeating: ")", count: 65),
        String(repeating: "[", count: 65) + String(repeating: "]", count: 65),
        String(repeating: "not ", count: 65) + "x",
        String(repeating: "len(", count: 65) + "x" + String(repeating: ")", count: 65),
    ])
    func deepNesting(source: String) {
        #expect(throws: ExpressionError.self) { try Expression(source) }
        do {
            _ = try Expression(source)
        } catch {
            #expect(error.message == "the expression nests deeper than 64 levels")
            #expect(error.offset == (source.hasPrefix("not") ? 64 * 4 : 64 * (source.hasPrefix("len") ? 4 : 1)))
        }
    }

    @Test("64 levels are accepted")
    func atTheLimit() throws {
        let source = String(repeating: "(", count: 64) + "1" + String(repeating: ")", count: 64)
        #expect(try Expression(source).evaluate(in: .null) == 1)
    }

    @Test("a chain of 20,000 'and's is one flat node, evaluated without deep recursion")
    func longChain() throws {
        let source = Array(repeating: "x", count: 20_000).joined(separator: " and ")
        let expression = try Expression(source)
        #expect(expression.isTrue(in: ["x": true]))
        #expect(try expression.isTrueStrictly(in: ["x": true]))
        #expect(expression.referencedPaths.count == 20_000)
    }

    @Test("a literal too large for a double is refused where it is written")
    func infiniteLiteral() {
        do {
            _ = try Expression("input.amount > 1e309")
            Issue.record("accepted")
        } catch {
            #expect(error == ExpressionError(offset: 15, message: "number '1e309' is too large for a 64-bit floating-point number"))
        }
    }
}
