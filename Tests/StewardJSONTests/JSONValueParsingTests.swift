import Testing

@testable import StewardJSON

/// Round trips, number handling and unicode escapes of the JSON parser and serialiser.
@Suite("JSONValue parsing and serialisation")
struct JSONValueParsingTests {
    /// Documents whose compact serialisation is exactly the input (keys sorted, no spaces).
    static let canonical: [String] = [
        "null", "true", "false", "0", "-1", "42", "9223372036854775807", "-9223372036854775808",
        "1.5", "-0.25", "1.0", "1e+300", "\"\"", "\"plain\"", "[]", "{}", "[1,2,[3,[4]]]",
        "{\"a\":1,\"b\":[true,null],\"c\":{\"d\":\"e\"}}",
        "\"caf\u{e9} \u{1F600}\"", "\"quote \\\" backslash \\\\ newline \\n tab \\t cr \\r\"",
        "\"\\u0001\\u001f\"",
    ]

    @Test("compact serialisation reproduces canonical text", arguments: canonical)
    func canonicalRoundTrip(text: String) throws {
        let value = try JSONValue.parse(text)
        #expect(value.jsonString == text)
        #expect(try JSONValue.parse(value.jsonString) == value)
        #expect(value.jsonBytes == Array(text.utf8))
    }

    /// Values built in Swift survive serialise -> parse unchanged.
    static let values: [JSONValue] = [
        .null, true, 0, .integer(.max), .integer(.min), 0.1, -3.75, 1e-7, 6.02214076e23,
        "a\u{0}b", "\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}",
        ["nested": ["deep": [1, 2.5, "x", nil, [:]]]], [[], [[]], [[[]]]],
    ]

    @Test("serialise then parse is the identity", arguments: values)
    func valueRoundTrip(value: JSONValue) throws {
        #expect(try JSONValue.parse(value.jsonString) == value)
        #expect(try JSONValue.parse(value.prettyJSONString) == value)
    }

    @Test("whitespace around and inside a document is ignored")
    func whitespace() throws {
        let value = try JSONValue.parse(" \n\t{ \"a\" :\r\n [ 1 , 2 ] }\n ")
        #expect(value == ["a": [1, 2]])
    }

    @Test("object keys are sorted so output is deterministic")
    func sortedKeys() throws {
        let value: JSONValue = ["b": 1, "a": 2, "c": ["z": 0, "y": 1]]
        #expect(value.jsonString == #"{"a":2,"b":1,"c":{"y":1,"z":0}}"#)
        #expect(value.prettyJSONString == "{\n  \"a\": 2,\n  \"b\": 1,\n  \"c\": {\n    \"y\": 1,\n    \"z\": 0\n  }\n}")
    }

    @Test("a non-finite double serialises as null")
    func nonFinite() {
        #expect(JSONValue.double(.infinity).jsonString == "null")
        #expect(JSONValue.double(.nan).jsonString == "null")
    }
}

/// Integers and doubles are stored apart but compare by numeric value.
@Suite("JSONValue numbers")
struct JSONValueNumberTests {
    @Test("integers without fraction or exponent stay integers")
    func integersStayIntegers() throws {
        guard case .integer(let negative) = try JSONValue.parse("-17") else {
            Issue.record("-17 is not an integer")
            return
        }
        #expect(negative == -17)
        guard case .double(let one) = try JSONValue.parse("1.0"), case .double(let hundred) = try JSONValue.parse("1e2") else {
            Issue.record("1.0 or 1e2 is not a double")
            return
        }
        #expect(one == 1)
        #expect(hundred == 100)
    }

    @Test("Int64 extremes survive exactly; beyond them becomes a double")
    func int64Extremes() throws {
        let max = try JSONValue.parse("9223372036854775807")
        #expect(max == .integer(.max))
        #expect(max.integerValue == Int64.max)
        #expect(max.jsonString == "9223372036854775807")
        let min = try JSONValue.parse("-9223372036854775808")
        #expect(min.integerValue == Int64.min)
        // Int64.max and Int64.max - 1 are distinct integers even though they round to one Double.
        let belowMax = try JSONValue.parse("9223372036854775806")
        #expect(max != belowMax)
        let beyond = try JSONValue.parse("9223372036854775808")
        guard case .double(let value) = beyond else {
            Issue.record("expected a double, got \(beyond)")
            return
        }
        #expect(value == 9_223_372_036_854_775_808.0)
    }

    @Test(
        "numbers compare by value across integer and double",
        arguments: [
            (JSONValue.integer(1), JSONValue.double(1.0), true),
            (.integer(0), .double(-0.0), true),
            (.integer(2), .double(2.5), false),
            (.integer(-3), .double(-3), true),
            (.integer(1), .string("1"), false),
            (.integer(1), .bool(true), false),
            (.integer(0), .null, false),
        ])
    func crossTypeEquality(lhs: JSONValue, rhs: JSONValue, equal: Bool) {
        #expect((lhs == rhs) == equal)
        #expect((rhs == lhs) == equal)
        if equal { #expect(lhs.hashValue == rhs.hashValue) }
    }

    @Test("equal numbers collapse in a Set")
    func setOfNumbers() {
        let set: Set<JSONValue> = [.integer(1), .double(1.0), .integer(2)]
        #expect(set.count == 2)
    }

    @Test("arrays and objects compare numerically inside")
    func nestedNumericEquality() throws {
        #expect(try JSONValue.parse("[1, {\"a\": 2}]") == JSONValue.parse("[1.0, {\"a\": 2.0}]"))
        #expect(try JSONValue.parse("[1, 2]") != JSONValue.parse("[2, 1]"))
    }

    @Test("integerValue and doubleValue accessors")
    func accessors() {
        #expect(JSONValue.double(3.0).integerValue == 3)
        #expect(JSONValue.double(3.5).integerValue == nil)
        #expect(JSONValue.double(1e30).integerValue == nil)
        #expect(JSONValue.integer(7).doubleValue == 7.0)
        #expect(JSONValue.string("7").doubleValue == nil)
        #expect(JSONValue.double(2.5).jsonString == "2.5")
        #expect(JSONValue.double(3).jsonString == "3.0")
    }
}

/// `\u` escapes, including UTF-16 surrogate pairs.
@Suite("JSONValue unicode escapes")
struct JSONValueUnicodeTests {
    @Test(
        "escapes decode to the right scalars",
        arguments: [
            (#""\u0041""#, "A"),
            (#""\u00e9""#, "\u{e9}"),
            (#""\u00E9""#, "\u{e9}"),
            (#""\u20ac""#, "\u{20ac}"),
            (#""\ud83d\ude00""#, "\u{1F600}"),
            (#""\uD834\uDD1E clef""#, "\u{1D11E} clef"),
            (#""a\u0000b""#, "a\u{0}b"),
            (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{8}\u{c}\n\r\t"),
            ("\"mixed caf\\u00e9 and raw caf\u{e9}\"", "mixed caf\u{e9} and raw caf\u{e9}"),
        ])
    func escapes(json: String, expected: String) throws {
        #expect(try JSONValue.parse(json) == .string(expected))
    }

    @Test("an astral character decoded from a surrogate pair is written back as raw UTF-8")
    func astralRoundTrip() throws {
        let value = try JSONValue.parse(#""\ud83d\ude00""#)
        #expect(value.jsonString == "\"\u{1F600}\"")
        #expect(value.jsonBytes == [0x22, 0xF0, 0x9F, 0x98, 0x80, 0x22])
    }
}
