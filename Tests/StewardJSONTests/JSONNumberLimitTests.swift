import Testing

@testable import StewardJSON

/// Numbers that a double cannot hold as written are refused, so nothing evaluates as infinity
/// and is stored as null (issue 17, item 5): what is accepted survives serialise-then-parse.
@Suite("JSONValue number limits")
struct JSONNumberLimitTests {
    static let manyDigits = String(repeating: "1", count: 5_000)

    struct Refused: Sendable, CustomTestStringConvertible {
        let name: String
        let text: String
        let offset: Int
        let path: [String]
        let reason: String
        var testDescription: String { name }
    }

    static let refused: [Refused] = [
        Refused(name: "1e309", text: "1e309", offset: 0, path: [], reason: "number 1e309 is too large for a 64-bit floating-point number"),
        Refused(name: "-1e309", text: "-1e309", offset: 0, path: [], reason: "number -1e309 is too large"),
        Refused(name: "a member that overflows", text: #"{"amount": 1e309}"#, offset: 11, path: ["amount"], reason: "too large"),
        Refused(
            name: "deep inside", text: #"{"input": {"items": [1, {"n": 2.5e400}]}}"#, offset: 30, path: ["input", "items", "1", "n"],
            reason: "number 2.5e400 is too large"),
        Refused(
            name: "a 5,000-digit integer", text: #"{"n": \#(manyDigits)}"#, offset: 6, path: ["n"],
            reason: "integer 111111111111111111111111… (5000 characters) is too large: at most 309 digits"),
        Refused(
            name: "a 5,000-digit decimal", text: manyDigits + ".5", offset: 0, path: [], reason: "(5002 characters) is too large for a 64-bit floating-point number"),
        Refused(
            name: "2^64 + 1", text: "18446744073709551617", offset: 0, path: [],
            reason: "integer 18446744073709551617 is outside the 64-bit range and not exactly representable as a floating-point number; send it as a string"),
        Refused(name: "-2^63 - 1", text: "[-9223372036854775809]", offset: 1, path: ["0"], reason: "not exactly representable"),
        Refused(name: "1e-400", text: "1e-400", offset: 0, path: [], reason: "number 1e-400 is too small for a 64-bit floating-point number (it would be read as 0)"),
        Refused(name: "2e-324", text: "2e-324", offset: 0, path: [], reason: "too small"),
    ]

    @Test("numbers a double cannot hold are refused with their offset and path", arguments: refused)
    func refusedNumbers(_ testCase: Refused) {
        do {
            let value = try JSONValue.parse(testCase.text)
            Issue.record("accepted as \(value)")
        } catch {
            #expect(error.offset == testCase.offset, "\(error)")
            #expect(error.path == testCase.path, "\(error)")
            #expect(error.reason.contains(testCase.reason), "\(error)")
        }
    }

    static let accepted: [(String, JSONValue)] = [
        ("9223372036854775807", .integer(.max)),
        ("-9223372036854775808", .integer(.min)),
        ("9223372036854775808", .double(0x1p63)),
        ("18446744073709551616", .double(0x1p64)),
        ("-18446744073709551616", .double(-0x1p64)),
        ("1.7976931348623157e308", .double(.greatestFiniteMagnitude)),
        ("4.9e-324", .double(.leastNonzeroMagnitude)),
        ("0e-400", .double(0)),
        ("-0.0", .double(-0.0)),
        ("0.1", .double(0.1)),
        ("1e15", .double(1e15)),
        ("179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368", .double(.greatestFiniteMagnitude)),
    ]

    @Test("numbers a double holds are kept, and survive serialise-then-parse", arguments: accepted)
    func acceptedNumbers(text: String, expected: JSONValue) throws {
        let value = try JSONValue.parse(text)
        #expect(value == expected)
        let again = try JSONValue.parse(value.jsonString)
        #expect(again == value, "\(value.jsonString)")
        #expect(again.doubleValue?.bitPattern == value.doubleValue?.bitPattern, "not even the sign of zero changes")
    }

    @Test("the exact decimal text of integral doubles", arguments: [
        (0x1p53, "9007199254740992"), (0x1p63, "9223372036854775808"), (-0x1p64, "-18446744073709551616"), (1e22, "10000000000000000000000"),
        (12, "12"), (-0x1p52, "-4503599627370496"),
    ] as [(Double, String)])
    func decimalDigits(value: Double, text: String) {
        #expect(NumberLimits.decimalDigits(ofIntegral: value) == text)
    }

    @Test("the error names the path in its description")
    func description() throws {
        let error = try #require(throws: JSONParseError.self) { try JSONValue.parse(#"{"amount": 1e309}"#) }
        #expect(error.pathDescription == "amount")
        #expect(error.description == "invalid JSON at byte 11 (in amount): number 1e309 is too large for a 64-bit floating-point number (at most ±1.7976931348623157e308)")
    }
}
