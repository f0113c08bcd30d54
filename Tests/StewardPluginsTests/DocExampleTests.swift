import Foundation
import StewardABI
import StewardJSON
import StewardPlugins
import Testing

/// The complete plugins printed in Docs/writing-a-plugin.md are `Fixtures/doc_example.c` and
/// `Fixtures/hello-swift/HelloSwift.swift`, byte for byte, and they build and run: the guide
/// cannot rot.
@Suite("The plugin guide's examples")
struct DocExampleTests {
    /// The fenced code block that follows `<!-- fixture: <path> -->` in the guide.
    static func codeBlockInGuide(fixture path: String, language: String) throws -> String {
        let guide = try String(
            contentsOf: FixtureBuilder.packageRoot.appendingPathComponent("Docs/writing-a-plugin.md"), encoding: .utf8)
        let marker = "<!-- fixture: \(path) -->\n```\(language)\n"
        let start = try #require(guide.range(of: marker), "the guide must mark its example with the fixture comment for \(path)")
        let end = try #require(guide.range(of: "\n```\n", range: start.upperBound..<guide.endIndex))
        return String(guide[start.upperBound..<end.lowerBound]) + "\n"
    }

    @Test(arguments: [
        ("Tests/StewardPluginsTests/Fixtures/doc_example.c", "c"),
        ("Tests/StewardPluginsTests/Fixtures/hello-swift/HelloSwift.swift", "swift"),
        ("Tests/StewardPluginsTests/Fixtures/doc_adapter.c", "c"),
        ("Plugins/examples/rust-hello/src/lib.rs", "rust"),
    ])
    func guideShowsTheFixtureByteForByte(path: String, language: String) throws {
        let fixture = try String(contentsOf: FixtureBuilder.packageRoot.appendingPathComponent(path), encoding: .utf8)
        let block = try Self.codeBlockInGuide(fixture: path, language: language)
        #expect(Array(block.utf8) == Array(fixture.utf8))
    }

    /// `libHelloSwiftPlugin.so`: the Swift example built by SwiftPM as a dynamic-library product.
    static let swiftExample = FixtureBuilder.product("HelloSwiftPlugin")

    @Test(.enabled(if: swiftExample != nil, "libHelloSwiftPlugin.so is not in the build products directory"))
    func swiftExampleLoadsAndRuns() throws {
        let path = try #require(Self.swiftExample)
        let registry = try PluginRegistry(loading: [path])
        let plugin = try #require(registry.plugins.first)
        #expect(plugin.name == "hello_swift")
        #expect(plugin.description == "The smallest useful Swift plugin")
        #expect(plugin.abiMajor == PluginLoader.hostABI.major && plugin.abiMinor == PluginLoader.hostABI.minor)
        let step = try #require(registry.step("hello_swift.measure"))
        #expect(step.isThreadSafe && step.isPure)
        #expect(step.version == "1.0.0")
        #expect(step.description == "Counts the bytes of a text")

        for attempt in 1...2 {
            let output = try registry.call(
                "hello_swift.measure", input: ["text": "héllo"], config: [:], idempotencyKey: "i-1/measure/\(attempt)", attempt: attempt)
            #expect(output == ["bytes": 6, "attempt": .integer(Int64(attempt)), "call_key": "i-1/measure"])
        }
        #expect(throws: StepCallError(
            step: "hello_swift.measure", kind: .invalidInput, message: "hello_swift: the input needs a string field 'text'")
        ) {
            _ = try registry.call("hello_swift.measure", input: ["text": 5], config: [:], idempotencyKey: "i-1/measure/1", attempt: 1)
        }
    }

    /// StewardPluginKit reads `call_key` only when `struct_size` covers it: from a host that
    /// fills a 1.0-sized `stw_step_call`, the step sees no call key.
    @Test(.enabled(if: swiftExample != nil, "libHelloSwiftPlugin.so is not in the build products directory"))
    func swiftExampleSeesNoCallKeyFromA10Host() throws {
        let path = try #require(Self.swiftExample)
        let step = try #require(try CallKeyTests.rawSteps(path).first)
        let old = RawHost.callStep(step, input: #"{"text":"hi"}"#, structSize: RawHost.size10, callKey: "must-not-be-read")
        #expect(try JSONValue.parse(old) == ["bytes": 2, "attempt": 1, "call_key": nil])
        let current = RawHost.callStep(step, input: #"{"text":"hi"}"#, structSize: MemoryLayout<stw_step_call>.size, callKey: "raw/echo")
        #expect(try JSONValue.parse(current)["call_key"] == "raw/echo")
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
