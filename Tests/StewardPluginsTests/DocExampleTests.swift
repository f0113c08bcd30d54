import Foundation
import StewardJSON
import StewardPlugins
import Testing

/// The complete C plugin printed in Docs/writing-a-plugin.md is `Fixtures/doc_example.c`,
/// byte for byte, and it builds and runs: the guide cannot rot.
@Suite("The plugin guide's C example")
struct DocExampleTests {
    static let marker = "<!-- fixture: Tests/StewardPluginsTests/Fixtures/doc_example.c -->\n```c\n"

    /// The fenced code block that follows the marker in the guide.
    static func codeBlockInGuide() throws -> String {
        let guide = try String(
            contentsOf: FixtureBuilder.packageRoot.appendingPathComponent("Docs/writing-a-plugin.md"), encoding: .utf8)
        let start = try #require(guide.range(of: marker), "the guide must mark its C example with the fixture comment")
        let end = try #require(guide.range(of: "\n```\n", range: start.upperBound..<guide.endIndex))
        return String(guide[start.upperBound..<end.lowerBound]) + "\n"
    }

    @Test func guideShowsTheFixtureByteForByte() throws {
        let fixture = try String(contentsOf: FixtureBuilder.fixtures.appendingPathComponent("doc_example.c"), encoding: .utf8)
        let block = try Self.codeBlockInGuide()
        #expect(Array(block.utf8) == Array(fixture.utf8))
    }

    @Test func exampleBuildsLoadsAndRuns() async throws {
        let path = try await FixtureBuilder.plugin("doc_example.c", extraFlags: ["-O2", "-pedantic"])
        let registry = try PluginRegistry(loading: [path])
        let plugin = try #require(registry.plugins.first)
        #expect(plugin.name == "hello")
        #expect(plugin.description == "The smallest useful plugin")
        let step = try #require(registry.step("hello.measure"))
        #expect(step.isThreadSafe && step.isPure)
        #expect(step.description == "Counts the bytes of its input")

        let input: JSONValue = ["text": "hi"]
        let output = try registry.call("hello.measure", input: input, config: [:], idempotencyKey: "i/measure/2", attempt: 2)
        #expect(output == ["bytes": .integer(Int64(input.jsonBytes.count)), "attempt": 2])

        let empty = [UInt8]().withUnsafeBytes { none in
            Result { () throws(StepCallError) -> [UInt8] in try step.callRaw(input: none, config: none, idempotencyKey: "k", attempt: 1) }
        }
        #expect(throws: StepCallError(step: "hello.measure", kind: .invalidInput, message: "hello: the input is empty")) {
            _ = try empty.get()
        }
    }

    /// The README's minimal plugin (the first ```c block) compiles with -Werror -pedantic, loads and runs.
    @Test func readmeExampleBuildsLoadsAndRuns() async throws {
        let readme = try String(contentsOf: FixtureBuilder.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "```c\n"), "README.md must show a C plugin")
        let end = try #require(readme.range(of: "\n```\n", range: start.upperBound..<readme.endIndex))
        let source = FileManager.default.temporaryDirectory.appendingPathComponent("readme_example_\(UUID().uuidString).c")
        try (String(readme[start.upperBound..<end.lowerBound]) + "\n").write(to: source, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: source) }
        let path = try await FixtureBuilder.plugin(at: source, extraFlags: ["-O2", "-pedantic"])
        let registry = try PluginRegistry(loading: [path])
        #expect(registry.plugins.first?.name == "hello")
        let input: JSONValue = ["name": "Ada"]
        let output = try registry.call("hello.greet", input: input, config: [:], idempotencyKey: "i/greet/1", attempt: 1)
        #expect(output == ["greeting": "hello", "input_bytes": .integer(Int64(input.jsonBytes.count))])
    }
}
