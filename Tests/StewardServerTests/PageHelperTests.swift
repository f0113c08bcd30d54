@testable import StewardServer
import Foundation
import StewardJSON
import StewardReview
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

    @Test func anAccountPanelShowsOnlyWhatTheContextStepReturned() {
        let panels = accountPanels([
            "account": ["tier": "gold", "health": ["score": 0.42, "trend": "down"], "recent_tickets": [["subject": "Card declined", "status": "closed"]]],
            "lookup": ["account": ["tier": "basic"]],
            "classification": ["label": "card_arrival", "confidence": 0.8],
        ])
        #expect(panels.count == 2, "outputs without tier, health or recent tickets make no panel")
        #expect(panels.first?["tier"] as? String == "gold" && panels.first?["health"] as? String == "score: 0.42, trend: down")
        #expect((panels.first?["recent"] as? [[String: Any]])?.first?["text"] as? String == "Card declined (closed)")
        #expect(panels.last?["tier"] as? String == "basic" && panels.last?["health"] == nil && panels.last?["recent"] == nil, "nothing made up")
    }

    @Test func aClassificationReadsAsItsLabelConfidenceAndAlternatives() {
        let parts = OutputView.render(["label": "card_arrival", "confidence": 0.8234, "alternatives": [["label": "lost_or_stolen_card", "confidence": 0.1]]])
        #expect(parts.map { $0["label"] as? String } == ["Label", "Alternatives"])
        #expect(parts.first?["text"] as? String == "card_arrival" && parts.first?["note"] as? String == "confidence 82%")
        #expect((parts.last?["items"] as? [[String: Any]])?.first?["text"] as? String == "lost_or_stolen_card (10%)")
        let reply = OutputView.render(["subject": "Re: Lost card", "body": "Hi,\nwe blocked it."])
        #expect(reply.map { $0["label"] as? String } == ["Subject", "Body"] && reply.last?["text"] as? String == "Hi,\nwe blocked it.")
    }

    @Test func localTimesNameTheCustomersZone() throws {
        // 2026-12-02 15:15 UTC is 10:15 in New York (EST, UTC-5).
        let at: Int64 = 1_796_224_500_000
        // The abbreviation is the platform's (EST on macOS, GMT-5 with Linux Foundation).
        let newYork = LocalTimeText.format(at, in: try #require(TimeZone(identifier: "America/New_York")))
        #expect(newYork.hasPrefix("2026-12-02 10:15 ") && newYork.hasSuffix(" (America/New_York)"), "\(newYork)")
        #expect(LocalTimeText.format(at, in: try #require(TimeZone(identifier: "UTC"))) == "2026-12-02 15:15 UTC")
    }
}
