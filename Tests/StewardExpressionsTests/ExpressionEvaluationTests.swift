import StewardJSON
import Testing

@testable import StewardExpressions

/// The data every evaluation case reads.
let sampleData: JSONValue = [
    "ticket": [
        "subject": "Card STOLEN",
        "word_count": 12,
        "tags": ["urgent", "card", ["kind": "label"]],
        "meta": ["channel": "chat"],
        "nothing": nil,
    ],
    "classification": ["category": "card_lost", "confidence": 0.62],
    "routing": ["priority": "P1", "queue": "cards-urgent"],
    "config": ["review_threshold": 0.8, "limit": 10],
    "score": -2,
    "ratio": 1.0,
    "flag": true,
    "empty": "",
    "list": [],
    "object": [:],
]

/// One row of an evaluation table.
struct EvaluationCase: Sendable, CustomTestStringConvertible {
    let source: String
    let expected: JSONValue
    let data: JSONValue
    var testDescription: String { "\(source) => \(expected)" }

    init(_ source: String, _ expected: JSONValue, data: JSONValue = sampleData) {
        self.source = source
        self.expected = expected
        self.data = data
    }
}

@Suite("Expression evaluation")
struct ExpressionEvaluationTests {
    static let paths: [EvaluationCase] = [
        .init("ticket.subject", "Card STOLEN"),
        .init("ticket.word_count", 12),
        .init("classification.confidence", 0.62),
        .init("ticket.meta.channel", "chat"),
        .init("ticket.tags.0", "urgent"),
        .init("ticket.tags.1", "card"),
        .init("ticket.tags.2.kind", "label"),
        .init("ticket", sampleData["ticket"]!),
        // Missing paths are null, never an error.
        .init("ticket.missing", nil),
        .init("missing.deeper.still", nil),
        .init("ticket.tags.3", nil),
        .init("ticket.subject.length", nil),
        .init("ticket.nothing", nil),
        .init("routing.priority.0", nil),
        // Names may contain '_' and '-'.
        .init("under_score-dash", 1, data: ["under_score-dash": 1]),
    ]

    static let literals: [EvaluationCase] = [
        .init("42", 42),
        .init("-7", -7),
        .init("2.5", 2.5),
        .init("-0.5", -0.5),
        .init("1e3", 1000.0),
        .init("\"double\"", "double"),
        .init("'single'", "single"),
        .init(#""esc\"aped""#, "esc\"aped"),
        .init("true", true),
        .init("false", false),
        .init("null", nil),
        .init("[1, 'a', null]", [1, "a", nil]),
        .init("[]", []),
        .init("[[1], [2, [3]]]", [[1], [2, [3]]]),
    ]

    static let equality: [EvaluationCase] = [
        .init("routing.priority == \"P1\"", true),
        .init("routing.priority == 'P2'", false),
        .init("routing.priority != 'P2'", true),
        .init("ratio == 1", true),
        .init("1 == 1.0", true),
        .init("ticket.word_count == 12.0", true),
        .init("'1' == 1", false),
        .init("1 != '1'", true),
        .init("true == 1", false),
        .init("false == 0", false),
        .init("null == false", false),
        .init("missing == null", true),
        .init("ticket.nothing == null", true),
        .init("missing != null", false),
        .init("'' == null", false),
        .init("empty == ''", true),
        .init("list == []", true),
        .init("ticket.tags.0 == 'urgent'", true),
        .init("[1, 2] == [1.0, 2.0]", true),
        .init("[1, 2] == [2, 1]", false),
        .init("ticket.meta == ticket.meta", true),
        .init("ticket.meta == routing", false),
        .init("'Card STOLEN' == ticket.subject", true),
    ]

    static let ordering: [EvaluationCase] = [
        .init("classification.confidence < config.review_threshold", true),
        .init("classification.confidence >= config.review_threshold", false),
        .init("2 < 10", true),
        .init("10 <= 10.0", true),
        .init("10 > 9.99", true),
        .init("-3 < -2", true),
        .init("score < 0", true),
        .init("score > -3", true),
        .init("score >= -2", true),
        .init("'apple' < 'banana'", true),
        .init("'b' > 'a'", true),
        .init("'2' < '10'", false),
        .init("'abc' <= 'abc'", true),
        // Mixed types never order, in either direction, whatever the operator.
        .init("'10' > 2", false),
        .init("'10' < 2", false),
        .init("2 >= '1'", false),
        .init("2 <= '3'", false),
        .init("missing < 1", false),
        .init("missing >= 0", false),
        .init("true > false", false),
        .init("true >= true", false),
        .init("[1] < [2]", false),
        .init("ticket.meta < routing", false),
    ]

    static let membership: [EvaluationCase] = [
        .init("'card' in ticket.tags", true),
        .init("'lost' in ticket.tags", false),
        .init("'lost' not in ticket.tags", true),
        .init("'card' not in ticket.tags", false),
        .init("1 in [1.0, 2]", true),
        .init("'1' in [1, 2]", false),
        .init("null in [null]", true),
        .init("[1] in [[1], [2]]", true),
        .init("'STOLEN' in ticket.subject", true),
        .init("'stolen' in ticket.subject", false),
        .init("'' in 'anything'", true),
        .init("1 in '123'", false),
        .init("'priority' in routing", true),
        .init("'urgency' in routing", false),
        .init("'urgency' not in routing", true),
        .init("1 in routing", false),
        .init("'x' in missing", false),
        .init("'x' not in missing", true),
        .init("'x' in 5", false),
        .init("routing.priority in ['P1', 'P2']", true),
        .init("routing.queue in ['general']", false),
    ]

    static let logic: [EvaluationCase] = [
        .init("true and true", true),
        .init("true and false", false),
        .init("false or true", true),
        .init("false or false", false),
        .init("not true", false),
        .init("not not true", true),
        .init("not missing", true),
        .init("not ticket", false),
        // 'and' binds tighter than 'or'.
        .init("true or false and false", true),
        .init("false and false or true", true),
        .init("(true or false) and false", false),
        .init("false and (false or true)", false),
        // 'not' binds tighter than 'and' and 'or' but looser than comparisons.
        .init("not false and false", false),
        .init("not (false and false)", true),
        .init("not routing.priority == 'P2'", true),
        .init("not routing.priority == 'P1'", false),
        .init("not 'card' in ticket.tags", false),
        .init("routing.priority == 'P1' or classification.confidence < config.review_threshold", true),
        .init("routing.priority == 'P2' or classification.confidence < 0.5", false),
        .init("routing.priority == 'P1' and not flag", false),
        // and/or yield booleans by truthiness.
        .init("ticket.subject and 1", true),
        .init("empty or list", false),
        .init("object or 0", false),
        .init("0.0 or ''", false),
        .init("-1 and 'x'", true),
        .init("missing or ticket.tags", true),
    ]

    static let functions: [EvaluationCase] = [
        .init("exists(ticket.subject)", true),
        .init("exists(ticket.missing)", false),
        .init("exists(ticket.nothing)", false),
        .init("exists(empty)", true),
        .init("exists(flag) and not exists(nope)", true),
        .init("len(ticket.tags)", 3),
        .init("len(ticket.subject)", 11),
        .init("len('caf\u{e9}')", 4),
        .init("len(routing)", 2),
        .init("len(list)", 0),
        .init("len(missing)", 0),
        .init("len(42)", 0),
        .init("len(ticket.tags) >= 3", true),
        .init("lower(ticket.subject)", "card stolen"),
        .init("upper('P1')", "P1"),
        .init("upper(routing.queue)", "CARDS-URGENT"),
        .init("lower(ticket.subject) == 'card stolen'", true),
        .init("'stolen' in lower(ticket.subject)", true),
        .init("lower(42)", nil),
        .init("upper(missing)", nil),
        .init("len(lower('ABC'))", 3),
        .init("exists((missing))", false),
    ]

    @Test("paths read instance data; a missing path is null", arguments: paths)
    func evaluatePaths(_ row: EvaluationCase) throws { try check(row) }

    @Test("literals, including negative numbers", arguments: literals)
    func evaluateLiterals(_ row: EvaluationCase) throws { try check(row) }

    @Test("== and != compare structurally across types", arguments: equality)
    func evaluateEquality(_ row: EvaluationCase) throws { try check(row) }

    @Test("ordering compares number/number and string/string only", arguments: ordering)
    func evaluateOrdering(_ row: EvaluationCase) throws { try check(row) }

    @Test("in / not in for arrays, strings and objects", arguments: membership)
    func evaluateMembership(_ row: EvaluationCase) throws { try check(row) }

    @Test("and / or / not with precedence", arguments: logic)
    func evaluateLogic(_ row: EvaluationCase) throws { try check(row) }

    @Test("exists, len, lower, upper", arguments: functions)
    func evaluateFunctions(_ row: EvaluationCase) throws { try check(row) }

    func check(_ row: EvaluationCase) throws {
        let expression = try Expression(row.source)
        let value = expression.evaluate(in: row.data)
        #expect(value == row.expected, "\(row.source)")
        // Equality treats 1 and 1.0 alike; the type must match too (a boolean is never a number).
        #expect(value.typeName == row.expected.typeName, "\(row.source)")
        #expect(expression.isTrue(in: row.data) == Expression.truthiness(of: row.expected))
    }

    @Test(
        "truthiness: false, null, 0, empty string/list/object are false",
        arguments: [
            (JSONValue.null, false), (false, false), (true, true), (0, false), (0.0, false), (-1, true), (0.5, true),
            ("", false), ("0", true), ([], false), ([nil], true), ([:], false), (["k": nil], true),
        ] as [(JSONValue, Bool)])
    func truthiness(value: JSONValue, expected: Bool) {
        #expect(Expression.truthiness(of: value) == expected)
    }

    @Test("referencedPaths lists every path read, in order")
    func referencedPaths() throws {
        let expression = try Expression("routing.priority == 'P1' or len(ticket.tags.0) > config.limit and 'x' in [a.b, 1]")
        #expect(expression.referencedPaths == [["routing", "priority"], ["ticket", "tags", "0"], ["config", "limit"], ["a", "b"]])
        #expect(try Expression("1 == 'a'").referencedPaths.isEmpty)
    }

    @Test("an expression keeps its source and compares by it")
    func sourceAndIdentity() throws {
        let expression = try Expression("a == 1")
        #expect(expression.source == "a == 1")
        #expect(expression.description == "a == 1")
        #expect(try expression == Expression("a == 1"))
        #expect(try expression != Expression("a == 2"))
    }

    @Test("evaluation is deterministic and does not change the data")
    func deterministic() throws {
        let expression = try Expression("lower(ticket.subject) == 'card stolen' and not missing")
        let before = sampleData
        let first = expression.evaluate(in: sampleData)
        for _ in 0..<10 { #expect(expression.evaluate(in: sampleData) == first) }
        #expect(sampleData == before)
    }
}
