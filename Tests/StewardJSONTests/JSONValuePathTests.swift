import Testing

@testable import StewardJSON

/// Reading and writing by dotted paths.
@Suite("JSONValue paths")
struct JSONValuePathTests {
    static let document: JSONValue = [
        "ticket": [
            "subject": "Card stolen",
            "tags": ["urgent", "card", ["nested": true]],
            "meta": ["score": 0.5, "empty": nil],
        ],
        "count": 3,
    ]

    @Test(
        "value(at:) follows object keys and array indices",
        arguments: [
            ("", JSONValuePathTests.document as JSONValue?),
            ("count", 3),
            ("ticket.subject", "Card stolen"),
            ("ticket.tags.0", "urgent"),
            ("ticket.tags.1", "card"),
            ("ticket.tags.2.nested", true),
            ("ticket.meta.score", 0.5),
            ("ticket.meta.empty", .null),
            ("ticket.tags.3", nil),
            ("ticket.tags.-1", nil),
            ("ticket.tags.first", nil),
            ("ticket.missing", nil),
            ("ticket.subject.length", nil),
            ("count.0", nil),
            ("nothing.at.all", nil),
        ] as [(String, JSONValue?)])
    func read(path: String, expected: JSONValue?) {
        let segments = path.isEmpty ? [] : path.split(separator: ".")
        #expect(Self.document.value(at: segments) == expected)
    }

    @Test("subscript reads one member of an object only")
    func subscriptMember() {
        #expect(Self.document["count"] == 3)
        #expect(Self.document["absent"] == nil)
        #expect(JSONValue.array([1])["0"] == nil)
    }

    @Test(
        "setting(_:at:) stores a value and leaves the rest alone",
        arguments: [
            (["count"], JSONValue.integer(4), #"{"count":4,"ticket":"kept"}"#),
            (["new"], "x", #"{"count":3,"new":"x","ticket":"kept"}"#),
            (["a", "b", "c"], true, #"{"a":{"b":{"c":true}},"count":3,"ticket":"kept"}"#),
            // A non-object on the way is replaced by an object.
            (["count", "inner"], 1, #"{"count":{"inner":1},"ticket":"kept"}"#),
            ([], "whole", #""whole""#),
        ] as [([String], JSONValue, String)])
    func write(path: [String], value: JSONValue, expected: String) throws {
        let base: JSONValue = ["count": 3, "ticket": "kept"]
        let updated = base.setting(value, at: ArraySlice(path))
        #expect(updated.jsonString == expected)
        #expect(base.jsonString == #"{"count":3,"ticket":"kept"}"#, "setting must not mutate the original")
        #expect(updated.value(at: path) == value)
    }

    @Test("setting on a scalar root makes an object")
    func settingOnScalar() {
        #expect(JSONValue.null.setting(1, at: ["reviews", "review_reply"]) == ["reviews": ["review_reply": 1]])
    }

    @Test(
        "typeName names the JSON type",
        arguments: [
            (JSONValue.null, "null"), (true, "boolean"), (1, "number"), (1.5, "number"), ("s", "string"), ([], "array"),
            ([:], "object"),
        ] as [(JSONValue, String)])
    func typeNames(value: JSONValue, name: String) {
        #expect(value.typeName == name)
    }

    @Test("accessors return nil for the wrong type")
    func accessors() {
        #expect(JSONValue.null.isNull)
        #expect(!JSONValue.integer(0).isNull)
        #expect(JSONValue.string("s").stringValue == "s")
        #expect(JSONValue.bool(false).boolValue == false)
        #expect(JSONValue.array([1]).arrayValue == [1])
        #expect(JSONValue.object(["k": 1]).objectValue == ["k": 1])
        #expect(JSONValue.integer(1).stringValue == nil)
        #expect(JSONValue.string("true").boolValue == nil)
        #expect(JSONValue.object([:]).arrayValue == nil)
    }
}
