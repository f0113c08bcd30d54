import Foundation
import StewardJSON
import StewardPlugins

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A test set-up failure with a message saying what to do.
struct SetupError: Error, CustomStringConvertible {
    let description: String
}

/// A plugin library this package builds (a dynamic-library product), found next to the test
/// binary (`swift build` / `swift test` build every product), or named by an environment variable.
enum BuiltPlugin {
    static func path(product: String, variable: String) throws -> String {
        if let explicit = ProcessInfo.processInfo.environment[variable], !explicit.isEmpty {
            return explicit
        }
        var directory = Bundle.main.bundleURL
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        } else {
            directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        }
        // On macOS the test binary sits inside an .xctest bundle a few levels below the products.
        for _ in 0..<4 {
            for name in ["lib\(product).so", "lib\(product).dylib"] where FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path) {
                return directory.appendingPathComponent(name).path
            }
            directory = directory.deletingLastPathComponent()
        }
        throw SetupError(description: "lib\(product) not found beside the test binary; run `swift build --product \(product)` or set \(variable)")
    }
}

/// The real plugin, or the library named by `$STEWARD_OPENAI_PLUGIN`.
enum OpenAIPlugin {
    static func path() throws -> String {
        try BuiltPlugin.path(product: "StewardOpenAIPlugin", variable: "STEWARD_OPENAI_PLUGIN")
    }

    /// A registry holding only the openai plugin, loaded through the engine's loader.
    static func registry() throws -> PluginRegistry {
        var registry = PluginRegistry()
        try registry.register(PluginLoader.load(path: path()))
        return registry
    }
}

/// The API key the tests hand the adapter through an environment variable. `scripts/test.sh`
/// exports it before the tests start, so this process never changes its environment while
/// other threads read it (setenv is not safe then: every test that starts a process reads it);
/// a plain `swift test` sets it on first use, once.
enum TestKey {
    static let variable = "STEWARD_TEST_OPENAI_KEY"
    static let value: String = {
        if let given = ProcessInfo.processInfo.environment[variable], given.hasPrefix("sk-test-") { return given }
        let key = "sk-test-" + UUID().uuidString.lowercased()
        setenv(variable, key, 1)
        return key
    }()
}

extension PluginRegistry {
    /// Calls `openai-chat@1.0.0`.
    func chat(
        _ task: ModelTask, input: JSONValue = ["text": "where is my card?"], parameters: JSONValue, prompt: String = "", key: String = "test/1/1"
    ) throws(StepCallError) -> AdapterResponse {
        try callAdapter(
            id: "openai-chat", version: "1.0.0", task: task, input: input, parameters: parameters, prompt: prompt, idempotencyKey: key,
            attempt: 1)
    }
}

/// Parameters pointing at `server`, with the test key, quick retries, and `extra` merged over them.
func parameters(_ server: FakeChatServer, _ extra: [String: JSONValue] = [:]) -> JSONValue {
    var base: [String: JSONValue] = [
        "base_url": .string(server.baseURL), "model": "test-model", "api_key_env": .string(TestKey.variable),
        "retry_backoff_ms": 10,
    ]
    _ = TestKey.value
    for (key, value) in extra { base[key] = value }
    return .object(base)
}

extension ContinuousClock.Instant {
    /// Seconds from `self` to `later`.
    func seconds(to later: ContinuousClock.Instant) -> Double {
        let elapsed = later - self
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
