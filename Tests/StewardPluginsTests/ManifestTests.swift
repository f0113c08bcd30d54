import Foundation
import StewardJSON
import StewardPlugins
import Testing

/// `steward-plugin.yaml` is validated: every problem located (file, line, column) with what was expected.
@Suite struct ManifestTests {
    static let valid = """
        name: keywords
        version: 1.0.0
        language: c
        sources: [keywords.c]
        library: libsteward-keywords.so
        steps:
          classify:
            examples:
              - input: {text: "I lost my card"}
                expect: {category: card_lost}
            invalid:
              - {text: 42}
        """

    static func problems(_ text: String) -> String {
        do {
            _ = try PluginManifest.parse(text, file: "steward-plugin.yaml")
            return ""
        } catch {
            return error.description
        }
    }

    @Test func aManifestReadsWithItsExamples() throws {
        let manifest = try PluginManifest.parse(Self.valid, file: "steward-plugin.yaml")
        #expect(manifest.version == "1.0.0" && manifest.steps["classify"]?.examples.first?.input == ["text": "I lost my card"])
        #expect(manifest.steps["classify"]?.examples.first?.expect == ["category": "card_lost"] && manifest.steps["classify"]?.invalid == [["text": 42]])
    }

    @Test func everyProblemIsLocated() {
        #expect(Self.problems(Self.valid.replacingOccurrences(of: "version: 1.0.0\n", with: "")).contains("missing 'version'"))
        let typo = Self.problems(Self.valid.replacingOccurrences(of: "sources:", with: "source:"))
        #expect(typo.contains("steward-plugin.yaml:4:1: error: unknown key 'source'") && typo.contains("did you mean 'sources'"), "\(typo)")
        let example = Self.problems(Self.valid.replacingOccurrences(of: "input: {text", with: "inputs: {text"))
        #expect(example.contains("steward-plugin.yaml:9:") && example.contains("unknown key 'inputs'") && example.contains("needs 'input'"), "\(example)")
        let language = Self.problems(Self.valid.replacingOccurrences(of: "language: c", with: "language: go"))
        #expect(language.contains("steward-plugin.yaml:3:11: error: unknown language 'go'; expected c, swift or rust"), "\(language)")
        #expect(Self.problems(Self.valid.replacingOccurrences(of: "language: c", with: "language: rust")).contains("a Rust plugin needs 'product'"))
        #expect(Self.problems(Self.valid.replacingOccurrences(of: "version: 1.0.0", with: "version: one")).contains("expected a version like 1.2.0"))
    }
}
