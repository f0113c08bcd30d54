import Foundation
import StewardJSON
import StewardPrompts
import StewardTemplates
import Testing

@Suite struct PromptLibraryTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func shippedPromptsLoadAndRender() throws {
        let library = try PromptLibrary(directory: Self.root.appendingPathComponent("workflows/prompts").path)
        #expect(library.prompts.keys.contains("customer-support/draft-reply@1"))
        let text = try library.render(
            "customer-support/draft-reply@1",
            with: [
                "category": "card_lost", "priority": "P1", "name": "Jonas", "subject": "Stolen card", "text": "My card <was> stolen",
                "may_not": ["Promise refunds.", "Ask for a PIN."],
            ])
        #expect(text.contains("Ticket category: card_lost (priority P1)"))
        #expect(text.contains("- Never: Ask for a PIN."))
        #expect(text.contains("My card <was> stolen"), "triple braces must not escape")
    }

    @Test func aSyntaxErrorIsLocated() {
        var library = PromptLibrary()
        do {
            try library.add(id: "x/broken@1", text: "Hello\n{{#section}}\nno close", file: "broken@1.mustache")
            Issue.record("expected a parse error")
        } catch {
            #expect(error.diagnostics.count == 1)
            #expect(error.diagnostics[0].location.file == "broken@1.mustache")
            #expect(error.diagnostics[0].location.line >= 2)
        }
    }

    @Test func aMissingVariableIsALocatedRenderError() throws {
        var library = PromptLibrary()
        try library.add(id: "x/greet@1", text: "Dear {{name}},\nabout {{ticket.subject}}:\n", file: "greet@1.mustache")
        #expect(try library.render("x/greet@1", with: ["name": "Ada", "ticket": ["subject": "fees"]]) == "Dear Ada,\nabout fees:\n")
        do {
            _ = try library.render("x/greet@1", with: ["name": "Ada"])
            Issue.record("expected a missing-variable error")
        } catch {
            #expect(error.message.contains("reads 'ticket.subject'"))
            #expect(error.location?.line == 2)
            #expect(error.location?.column == 7)
        }
    }

    @Test func anUnknownPromptIsAnError() {
        #expect(throws: PromptError.self) { try PromptLibrary().render("nope@1", with: [:]) }
    }
}
