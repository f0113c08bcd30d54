import Testing

@testable import StewardJSON

/// Every malformed document is refused with the byte offset of the problem.
@Suite("JSONValue parse errors")
struct JSONValueErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let maxDepth: Int
        let offset: Int
        let reason: String
        var testDescription: String { name }

        init(_ name: String, _ text: String, maxDepth: Int = 256, offset: Int, _ reason: String) {
            self.init(name, Array(text.utf8), maxDepth: maxDepth, offset: offset, reason)
        }

        init(_ name: String, _ bytes: [UInt8], maxDepth: Int = 256, offset: Int, _ reason: String) {
            self.name = name
            self.bytes = bytes
            self.maxDepth = maxDepth
            self.offset = offset
            self.reason = reason
        }
    }

    static let cases: [Case] = [
        // Invalid UTF-8 inside a string: the offset is where the string's content starts.
        Case("lone continuation byte", [0x22, 0x61, 0x80, 0x22], offset: 1, "not valid UTF-8"),
        Case("truncated 2-byte sequence", [0x7B, 0x22, 0x6B, 0x22, 0x3A, 0x22, 0xC3, 0x22, 0x7D], offset: 6, "not valid UTF-8"),
        Case("overlong encoding", [0x22, 0xC0, 0xAF, 0x22], offset: 1, "not valid UTF-8"),
        Case("encoded surrogate", [0x22, 0xED, 0xA0, 0x80, 0x22], offset: 1, "not valid UTF-8"),
        Case("invalid UTF-8 after an escape", [0x22, 0x5C, 0x6E, 0xFF, 0x22], offset: 1, "not valid UTF-8"),
        // Trailing data.
        Case("second document", "{} {}", offset: 3, "unexpected data after the document"),
        Case("trailing garbage", "[1]x", offset: 3, "unexpected data after the document"),
        Case("trailing comma at top level", "1,", offset: 1, "unexpected data after the document"),
        // Unterminated strings.
        Case("unterminated string", #""abc"#, offset: 4, "unterminated string"),
        Case("unterminated after escape", #"["a\n"#, offset: 5, "unterminated string"),
        Case("unterminated escape", #""abc\"#, offset: 5, "unterminated escape"),
        // Bad escapes point at the backslash that starts them.
        Case("unknown escape letter", #""ab\qc""#, offset: 3, "invalid escape"),
        Case("escaped single quote", #"{"k":"\'"}"#, offset: 6, "invalid escape"),
        Case("bad hex digit", #""\u12G4""#, offset: 5, "bad hex digit"),
        Case("short unicode escape", #""\u12"#, offset: 3, "short \\u escape"),
        Case("lone high surrogate", #""\ud83dx""#, offset: 1, "unpaired surrogate"),
        Case("high surrogate then non-surrogate", #""\ud83d\u0041""#, offset: 1, "unpaired surrogate"),
        Case("lone low surrogate", #""a\ude00""#, offset: 2, "unpaired surrogate"),
        // Nesting deeper than maxDepth: the offset is the bracket that goes one level too deep.
        Case("arrays beyond maxDepth", "[[[1]]]", maxDepth: 2, offset: 2, "nesting deeper than 2"),
        Case("objects beyond maxDepth", #"{"a":{"b":{}}}"#, maxDepth: 2, offset: 10, "nesting deeper than 2"),
        Case("any container beyond maxDepth 0", "[]", maxDepth: 0, offset: 0, "nesting deeper than 0"),
        // Control characters must be escaped inside strings.
        Case("raw newline in string", "\"a\nb\"", offset: 2, "control character"),
        Case("raw tab in key", "{\"a\tb\":1}", offset: 3, "control character"),
        Case("raw NUL after escape", [0x22, 0x5C, 0x74, 0x00, 0x22], offset: 3, "control character"),
        // Structure.
        Case("empty input", "", offset: 0, "expected a value"),
        Case("only whitespace", "  ", offset: 2, "expected a value"),
        Case("missing colon", #"{"a" 1}"#, offset: 5, "expected ':'"),
        Case("unquoted key", "{a:1}", offset: 1, "expected a string key"),
        Case("trailing comma in object", #"{"a":1,}"#, offset: 7, "expected a string key"),
        Case("trailing comma in array", "[1,]", offset: 3, "expected a value"),
        Case("missing comma in array", "[1 2]", offset: 3, "expected ',' or ']'"),
        Case("unclosed object", #"{"a":1"#, offset: 6, "expected ',' or '}'"),
        Case("misspelled literal", "tru", offset: 0, "expected 'true'"),
        Case("leading plus", "+1", offset: 0, "expected a value"),
        Case("leading zero", "01", offset: 1, "unexpected data after the document"),
        Case("bare minus", "-", offset: 1, "expected a digit"),
        Case("fraction without digits", "1.", offset: 2, "expected a digit after '.'"),
        Case("exponent without digits", "1e+", offset: 3, "expected a digit in the exponent"),
    ]

    @Test("malformed input is refused at the right byte", arguments: cases)
    func malformed(_ testCase: Case) {
        do {
            let value = try JSONValue.parse(testCase.bytes, maxDepth: testCase.maxDepth)
            Issue.record("parsed as \(value); expected an error at byte \(testCase.offset)")
        } catch {
            #expect(error.offset == testCase.offset, "reason: \(error.reason)")
            #expect(error.reason.contains(testCase.reason), "offset \(error.offset): \(error.reason)")
        }
    }

    @Test("nesting exactly maxDepth deep is accepted")
    func nestingAtTheLimit() throws {
        #expect(try JSONValue.parse("[[1]]", maxDepth: 2) == [[1]])
        #expect(try JSONValue.parse(#"{"a":{"b":1}}"#, maxDepth: 2) == ["a": ["b": 1]])
        #expect(try JSONValue.parse("7", maxDepth: 0) == 7)
        let deep = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
        #expect(throws: Never.self) { try JSONValue.parse(deep) }
        // The error names the path to the value: index 0 of each enclosing array.
        #expect(throws: JSONParseError(offset: 256, reason: "nesting deeper than 256", path: Array(repeating: "0", count: 256))) {
            try JSONValue.parse("[" + deep + "]")
        }
    }

    @Test("the error describes itself with the byte offset")
    func description() {
        let error = JSONParseError(offset: 12, reason: "expected ':'")
        #expect(error.description == "invalid JSON at byte 12: expected ':'")
    }
}
