import Testing

@testable import StewardExpressions

/// One row of the syntax-error table: the text, the 0-based character offset of the
/// problem and a fragment the message must contain.
struct SyntaxErrorCase: Sendable, CustomTestStringConvertible {
    let source: String
    let offset: Int
    let fragment: String
    var testDescription: String { "\(source.debugDescription) @\(offset)" }

    init(_ source: String, _ offset: Int, _ fragment: String) {
        self.source = source
        self.offset = offset
        self.fragment = fragment
    }
}

@Suite("Expression syntax errors")
struct ExpressionSyntaxErrorTests {
    static let cases: [SyntaxErrorCase] = [
        // A single '=' suggests '=='.
        .init("a = 1", 2, "did you mean '=='?"),
        .init("routing.priority='P1'", 16, "did you mean '=='?"),
        // Unterminated strings point at the opening quote.
        .init("name == \"abc", 8, "unterminated string"),
        .init("'abc", 0, "unterminated string"),
        .init("a == 'it\\'", 5, "unterminated string"),
        // Unknown functions name the known ones.
        .init("foo(x)", 0, "unknown function 'foo'; expected one of exists, len, lower, upper"),
        .init("a and size(b) > 1", 6, "unknown function 'size'"),
        // Trailing tokens after a complete expression.
        .init("a b", 2, "expected an operator or the end, found 'b'"),
        .init("a == 1 2", 7, "expected an operator or the end, found number 2"),
        .init("(a) (b)", 4, "expected an operator or the end, found '('"),
        .init("a == 1 == 2", 7, "expected an operator or the end, found '=='"),
        // Nothing at all.
        .init("", 0, "expected an expression, found nothing"),
        .init("   ", 0, "expected an expression, found nothing"),
        // 'not' without 'in' after an operand.
        .init("a not b", 2, "expected 'in' after 'not'"),
        .init("'x' not ['x']", 4, "expected 'in' after 'not'"),
        // Missing operands.
        .init("a ==", 4, "expected an operand, found the end"),
        .init("a and", 5, "expected an operand, found the end"),
        .init("not", 3, "expected an operand, found the end"),
        .init("and a", 0, "expected an operand, found keyword 'and'"),
        .init("a or or b", 5, "expected an operand, found keyword 'or'"),
        .init("a == in", 5, "expected an operand, found keyword 'in'"),
        .init("== 1", 0, "expected an operand, found '=='"),
        .init(") ", 0, "expected an operand, found ')'"),
        // Brackets.
        .init("(a == 1", 7, "expected ')', found the end"),
        .init("(a == 1]", 7, "expected ')', found ']'"),
        .init("[1, 2", 5, "expected ',' or ']', found the end"),
        .init("[1 2]", 3, "expected ',' or ']', found number 2"),
        .init("len(a", 5, "expected ')' after the argument of len, found the end"),
        .init("len(a, b)", 5, "expected ')' after the argument of len, found ','"),
        // Paths.
        .init("a.", 2, "expected a name or index after '.', found the end"),
        .init("a.'b'", 2, "expected a name or index after '.', found string \"b\""),
        .init("tags.-1", 5, "expected a name or index after '.'"),
        // Characters outside the language.
        .init("a # b", 2, "unexpected character '#'"),
        .init("a && b", 2, "unexpected character '&'"),
        .init("!a", 0, "unexpected character '!'"),
        .init("1.2.3", 0, "invalid number '1.2.3'"),
    ]

    @Test("syntax errors are located and explained", arguments: cases)
    func syntaxError(_ row: SyntaxErrorCase) {
        do {
            let expression = try Expression(row.source)
            Issue.record("compiled \(expression.source.debugDescription); expected an error at \(row.offset)")
        } catch {
            #expect(error.offset == row.offset, "message: \(error.message)")
            #expect(error.message.contains(row.fragment), "offset \(error.offset): \(error.message)")
        }
    }

    @Test("the description counts characters from 1")
    func description() {
        #expect(ExpressionError(offset: 2, message: "unexpected '='; did you mean '=='?").description
            == "at character 3: unexpected '='; did you mean '=='?")
    }

    @Test("offsets count characters, not bytes")
    func offsetsCountCharacters() {
        // 'é' is two UTF-8 bytes but one character: the '=' is character 12, byte 13.
        #expect(throws: ExpressionError(offset: 12, message: "unexpected '='; did you mean '=='?")) {
            try Expression("'caf\u{e9}' == a = 1")
        }
    }
}
