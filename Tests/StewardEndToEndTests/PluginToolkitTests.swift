import Foundation
import StewardJSON
import StewardTesting
import Testing

/// The plugin authors' toolkit through the real executable: `steward plugins validate` finds and
/// names each fault of a deliberately broken plugin (a crash fails its check and the battery goes
/// on), passes the shipped plugins and the guide's example, and `steward steps call` /
/// `steward models call` run one call through the host.
@Suite("plugin authors' toolkit", .serialized)
struct PluginToolkitTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/validate")

    /// Compiles a C plugin against the ABI header, on a thread of its own.
    static func compile(_ source: URL, name: String) async throws -> URL {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("steward-validate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let library = output.appendingPathComponent("lib\(name).so")
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    try ChildProcess.run("cc", [
                        "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-O1", "-shared", "-fPIC", "-fvisibility=hidden",
                        "-I", StewardCLITests.packageRoot.appendingPathComponent("Sources/StewardABI/include").path, source.path, "-o", library.path,
                    ]).status
                })
            }.start()
        }
        try #require(status == 0, "cc failed for \(source.lastPathComponent)")
        return library
    }

    /// Builds the guide's Rust plugin, `Plugins/examples/rust-hello` (a crate with no
    /// dependencies), with `steward plugins build FOLDER`: cargo, offline, as a plugin team
    /// would (`scripts/setup.sh` installs Debian's cargo when there is none).
    static func buildRustExample() async throws -> URL {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("steward-validate-\(UUID().uuidString)")
        let run = try await StewardCLITests.stewardAsync([
            "plugins", "build", "Plugins/examples/rust-hello", "--into", output.appendingPathComponent("plugins").path,
            "--libraries-into", output.appendingPathComponent("lib").path,
        ])
        try #require(run.status == 0, "steward plugins build Plugins/examples/rust-hello: \(run)")
        #expect(run.stdout.hasSuffix("/plugins/libhello_rust.so\n") && run.stderr.contains("building plugin 'hello_rust' (rust)"), "\(run)")
        return output.appendingPathComponent("plugins/libhello_rust.so")
    }

    static func checks(_ run: StewardCLITests.Run) throws -> [JSONValue] {
        let report = try JSONValue.parse(run.stdout)
        return try #require(report["checks"]?.arrayValue, "\(run)")
    }

    static func result(_ checks: [JSONValue], _ subject: String, _ check: String) -> (String, String)? {
        checks.first { $0["subject"]?.stringValue == subject && $0["check"]?.stringValue == check }
            .map { ($0["result"]?.stringValue ?? "", $0["detail"]?.stringValue ?? "") }
    }

    @Test(.timeLimit(.minutes(3)))
    func eachFaultOfABrokenPluginIsFoundAndNamed() async throws {
        let library = try await Self.compile(Self.fixtures.appendingPathComponent("misbehaving.c"), name: "misbehaving")
        defer { try? FileManager.default.removeItem(at: library.deletingLastPathComponent()) }
        let run = try await StewardCLITests.stewardAsync([
            "plugins", "validate", library.path, "--manifest", Self.fixtures.appendingPathComponent("misbehaving.yaml").path, "--timeout", "3", "--json",
        ])
        #expect(run.status == 1, "a failing plugin fails the plugin team's CI: \(run)")
        let checks = try Self.checks(run)
        let pure = Self.result(checks, "step misbehaving.impure", "PURE: same input, same output")
        #expect(pure?.0 == "fail" && pure?.1.contains("flagged STW_STEP_PURE, but the same input gave different answers") == true, "\(String(describing: pure))")
        let racy = Self.result(checks, "step misbehaving.racy", "THREAD_SAFE: concurrent calls, sequential results")
        #expect(racy?.0 == "fail" && racy?.1.contains("flagged STW_STEP_THREAD_SAFE") == true, "\(String(describing: racy))")
        let leak = Self.result(checks, "step misbehaving.leaky", "example 1")
        #expect(leak?.0 == "fail" && leak?.1.contains("leaked 1 block(s) from the host's alloc") == true, "\(String(describing: leak))")
        let crash = Self.result(checks, "step misbehaving.crashy", "call with {}")
        #expect(crash?.0 == "fail" && crash?.1.contains("crashed the process: signal 11 (SIGSEGV)") == true, "\(String(describing: crash))")
        let hang = Self.result(checks, "step misbehaving.hangs", "call with {}")
        #expect(hang?.0 == "fail" && hang?.1.contains("did not return within 3 s") == true, "\(String(describing: hang))")
        let silent = Self.result(checks, "step misbehaving.silent", "call with {}")
        #expect(silent?.0 == "fail" && silent?.1.contains("STW_ERR_PERMANENT with no error message") == true, "\(String(describing: silent))")
        // The battery went on after each crash and hang: the last steps' checks ran too.
        #expect(Self.result(checks, "step misbehaving.silent", "latency")?.0 == "pass")
        let sleepy = Self.result(checks, "step misbehaving.sleepy", "latency")
        #expect(sleepy?.0 == "fail" && sleepy?.1.contains("flagged STW_STEP_NONBLOCKING, but its median call takes over 1 ms") == true, "\(String(describing: sleepy))")
        let lookup = Self.result(checks, "plugin", "extension lookup of an unknown id")
        #expect(lookup?.0 == "fail" && lookup?.1.contains("an id no host defines") == true, "\(String(describing: lookup))")
        let shutdown = Self.result(checks, "plugin", "deinit at shutdown")
        #expect(shutdown?.0 == "pass" && shutdown?.1.hasPrefix("returned after") == true, "\(String(describing: shutdown))")
        // Sound checks of broken steps still pass: the verdicts are per check, not per step.
        #expect(Self.result(checks, "step misbehaving.impure", "example 1")?.0 == "pass")
    }

    @Test(.timeLimit(.minutes(5)))
    func theShippedPluginsAndTheGuidesExamplePass() async throws {
        try await StewardCLITests.requirePlugins()
        for name in ["keywords", "kb", "support", "banking", "openai"] {
            let run = try await StewardCLITests.stewardAsync(["plugins", "validate", ".steward/plugins/libsteward-\(name).so", "--json"])
            #expect(run.status == 0, "\(name): \(run)")
            let checks = try Self.checks(run)
            #expect(!checks.contains { $0["result"] == "fail" }, "\(name): \(checks.filter { $0["result"] == "fail" })")
            #expect(checks.contains { $0["check"] == "latency" && $0["figures"]?["p99_us"]?.doubleValue != nil }, "\(name) reports latency percentiles")
        }
        // The C example of the plugin guide, written from the header alone, with no manifest.
        let guide = StewardCLITests.packageRoot.appendingPathComponent("Tests/StewardPluginsTests/Fixtures/doc_example.c")
        let library = try await Self.compile(guide, name: "hello")
        defer { try? FileManager.default.removeItem(at: library.deletingLastPathComponent()) }
        let run = try await StewardCLITests.stewardAsync(["plugins", "validate", library.path])
        #expect(run.status == 0 && run.stdout.contains("PASS  step hello.measure: PURE") && run.stdout.contains("WARN  plugin: manifest"), "\(run)")
        // The Swift example of the guide (StewardPluginKit), built by SwiftPM beside the tests.
        let swift = try #require(StewardCLITests.productsDirectory?.appendingPathComponent("libHelloSwiftPlugin.so"))
        if FileManager.default.fileExists(atPath: swift.path) {
            let swiftRun = try await StewardCLITests.stewardAsync(["plugins", "validate", swift.path, "--json"])
            let swiftChecks = try Self.checks(swiftRun)
            #expect(swiftRun.status == 0 && !swiftChecks.contains { $0["result"] == "fail" }, "\(swiftRun)")
        } else {
            Issue.record("libHelloSwiftPlugin.so is not among the build products")
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func stepsAndModelsAreCalledByHand() async throws {
        try await StewardCLITests.requirePlugins()
        let search = try await StewardCLITests.stewardAsync(["steps", "call", "kb.search", "--input", #"{"query": "reset my password", "k": 2}"#, "--json"])
        #expect(search.status == 0, "\(search)")
        let report = try JSONValue.parse(search.stdout)
        #expect(report["status"] == "STW_OK" && report["output"]?["results"]?.arrayValue?.count == 2 && report["milliseconds"]?.doubleValue != nil, "\(search)")
        let normalized = try await StewardCLITests.stewardAsync(["steps", "call", "support.normalize", "--input", "@workflows/examples/ticket-1.json"])
        #expect(normalized.status == 0 && normalized.stdout.contains("status   STW_OK") && normalized.stdout.contains("\"word_count\""), "\(normalized)")
        let refused = try await StewardCLITests.stewardAsync(["steps", "call", "keywords.classify", "--input", #"{"text": 5}"#])
        #expect(refused.status == 1 && refused.stdout.contains("STW_ERR_INVALID_INPUT") && refused.stdout.contains("error    input must be"), "\(refused)")
        let typo = try await StewardCLITests.stewardAsync(["steps", "call", "keywords.clasify", "--input", "{}"])
        #expect(typo.status == 1 && typo.stderr.contains("did you mean 'keywords.classify'"), "\(typo)")
        let model = try await StewardCLITests.stewardAsync([
            "models", "call", "banking-intent@2.0.0", "--task", "classify", "--input", #"{"text": "my card was stolen"}"#, "--json",
        ])
        let answer = try JSONValue.parse(model.stdout)
        #expect(model.status == 0 && answer["output"]?["label"] == "lost_or_stolen_card" && (answer["confidence"]?.doubleValue ?? 0) > 0.5, "\(model)")
        let unserved = try await StewardCLITests.stewardAsync(["models", "call", "banking-intent@2.0.0", "--task", "generate", "--input", "{}"])
        #expect(unserved.status == 1 && unserved.stderr.contains("does not serve the generate task"), "\(unserved)")
    }

    /// The guide's examples per language, a step plugin and a model adapter each (C, Swift on
    /// StewardPluginKit, Rust with `extern "C"` and no crates, built by cargo), pass `steward plugins validate`
    /// and answer a call made by hand through the host.
    @Test(.timeLimit(.minutes(3)))
    func theGuidesExamplesInEveryLanguagePassTheValidator() async throws {
        try await StewardCLITests.requirePlugins()
        let fixtures = StewardCLITests.packageRoot.appendingPathComponent("Tests/StewardPluginsTests/Fixtures")
        let adapter = try await Self.compile(fixtures.appendingPathComponent("doc_adapter.c"), name: "hello_adapter")
        let rust = try await Self.buildRustExample()
        defer {
            try? FileManager.default.removeItem(at: adapter.deletingLastPathComponent())
            try? FileManager.default.removeItem(at: rust.deletingLastPathComponent().deletingLastPathComponent())
        }
        // The example's manifest calls are part of the battery: its examples and refusals pass.
        let withManifest = try await StewardCLITests.stewardAsync([
            "plugins", "validate", rust.path, "--manifest", "Plugins/examples/rust-hello/steward-plugin.yaml", "--json",
        ])
        let manifestChecks = try Self.checks(withManifest)
        #expect(withManifest.status == 0 && !manifestChecks.contains { $0["result"] == "fail" }, "\(withManifest)")
        #expect(manifestChecks.contains { $0["subject"] == "step hello_rust.measure" && $0["check"] == "invalid input 1" && $0["result"] == "pass" })
        for library in [adapter, rust] {
            let run = try await StewardCLITests.stewardAsync(["plugins", "validate", library.path, "--json"])
            let checks = try Self.checks(run)
            #expect(run.status == 0 && !checks.contains { $0["result"] == "fail" }, "\(library.lastPathComponent): \(run)")
            #expect(checks.contains { $0["subject"] == "adapter hello-label@1.0.0" && $0["check"] == "classify with malformed JSON" && $0["result"] == "pass" })
        }
        let rustChecks = try Self.checks(try await StewardCLITests.stewardAsync(["plugins", "validate", rust.path, "--json"]))
        #expect(rustChecks.contains { $0["subject"] == "step hello_rust.measure" && $0["check"] == "PURE: same input, same output" && $0["result"] == "pass" })
        let step = try await StewardCLITests.stewardAsync([
            "steps", "call", "hello_rust.measure", "--input", #"{"text": "hi"}"#, "--plugins", rust.deletingLastPathComponent().path, "--no-build", "--json",
        ])
        let measured = try JSONValue.parse(step.stdout)
        #expect(step.status == 0 && measured["output"]?["input_bytes"] == 14, "\(step)")
        for library in [adapter, rust] {
            let model = try await StewardCLITests.stewardAsync([
                "models", "call", "hello-label@1.0.0", "--task", "classify", "--input", #"{"text": "Hello there"}"#,
                "--plugins", library.deletingLastPathComponent().path, "--no-build", "--json",
            ])
            let answer = try JSONValue.parse(model.stdout)
            #expect(model.status == 0 && answer["output"]?["label"] == "greeting" && answer["confidence"]?.doubleValue == 0.9, "\(model)")
        }
        let swift = try #require(StewardCLITests.productsDirectory)
        let swiftModel = try await StewardCLITests.stewardAsync([
            "models", "call", "hello-swift-label@1.0.0", "--task", "classify", "--input", #"{"text": "hello"}"#,
            "--plugins", swift.appendingPathComponent("libHelloSwiftPlugin.so").path, "--no-build", "--json",
        ])
        let swiftAnswer = try JSONValue.parse(swiftModel.stdout)
        #expect(swiftModel.status == 0 && swiftAnswer["output"]?["label"] == "greeting", "\(swiftModel)")
    }

    /// A command that loads plugins ends in order: each plugin's deinit (ABI 1.2) runs once
    /// after the call (the slow fixture appends "deinit" to deinit.txt beside its library).
    @Test(.timeLimit(.minutes(3)))
    func stepsCallEndsWithThePluginsDeinit() async throws {
        try await StewardCLITests.requirePlugins()
        let library = try await Self.compile(
            StewardCLITests.packageRoot.appendingPathComponent("Tests/StewardBootstrapTests/Fixtures/slow.c"), name: "slow")
        let folder = library.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try await StewardCLITests.stewardAsync(["steps", "call", "slow.quick", "--input", "{}", "--plugins", folder.path, "--no-build"])
        #expect(run.status == 0 && run.stdout.contains("status   STW_OK"), "\(run)")
        #expect(try String(contentsOf: folder.appendingPathComponent("deinit.txt"), encoding: .utf8) == "deinit\n")
    }
}
