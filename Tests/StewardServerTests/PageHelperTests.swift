@testable import StewardServer
import StewardJSON
import Testing

/// The small pure helpers behind the reviewer page.
@Suite struct PageHelperTests {
    @Test(arguments: [
        (nil, "no deadline"),
        (Int64(90_000), "2m left"),
        (Int64(2 * 3_600_000 + 5 * 60_000), "2h 05m left"),
        (Int64(3 * 86_400_000 + 3_600_000), "3d 1h left"),
        (Int64(-12 * 60_000), "overdue by 12m"),
        (Int64(-(26 * 3_600_000)), "overdue by 26h 00m"),
    ] as [(Int64?, String)])
    func timeLeftReads(offset: Int64?, expected: String) {
        let now: Int64 = 1_800_000_000_000
        #expect(timeLeft(offset.map { now + $0 }, now: now) == expected)
    }

    @Test func suggestedArticlesComeFromAnyOutputAndOnlyWebLinksAreKept() throws {
        let outputs: [String: JSONValue] = [
            "kb": ["articles": [
                ["title": "Freeze a lost card", "url": "https://help.example/cards/freeze", "score": 0.91],
                ["title": "Dangerous", "url": "javascript:alert(1)"],
            ]],
            "suggestions": [["id": "KB-12"]],
            "classification": ["category": "card_lost", "confidence": 0.8],
        ]
        let articles = suggestedArticles(outputs)
        #expect(articles.count == 3)
        #expect(articles[0]["title"] as? String == "Freeze a lost card")
        #expect(articles[0]["url"] as? String == "https://help.example/cards/freeze")
        #expect(articles[0]["score"] as? String == "0.91")
        #expect(articles[1]["url"] == nil, "a javascript: link is not made clickable")
        #expect(articles[2]["title"] as? String == "KB-12")
        #expect(suggestedArticles(["classification": ["category": "fees"]]).isEmpty)
        // What the kb plugin's search step returns, under the triage template's `suggestions`.
        let kb = suggestedArticles(["suggestions": ["results": [["id": "faq-001", "title": "Report a stolen card", "score": 12.3456]]]])
        #expect(kb.count == 1 && kb[0]["title"] as? String == "Report a stolen card" && kb[0]["score"] as? String == "12.35", "\(kb)")
    }

    @Test func formBodiesDecode() {
        let fields = FormData.parse(Array("csrf=ab12&output=%7B%22a%22%3A+1%7D&reason=too+vague%21&empty=".utf8))
        #expect(fields == ["csrf": "ab12", "output": "{\"a\": 1}", "reason": "too vague!", "empty": ""])
    }
}
