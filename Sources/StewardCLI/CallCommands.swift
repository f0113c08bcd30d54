import ArgumentParser
import Foundation
import StewardBootstrap
import StewardJSON
import StewardPlugins

/// `steward steps call`: one step call through the real host — the REPL of plugin development.
struct StepsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steps", abstract: "Call plugin steps by hand, through the engine's host.", subcommands: [Call.self])

    struct Call: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Call one step as the engine does and print its output, status, error message and timing (exit 1 when it fails).")
        @Argument(help: "The step, as templates name it: plugin.step.") var step: String
        @Option(help: "The input: JSON text, or @FILE to read it.") var input: String
        @Option(help: "The step's config: JSON text or @FILE (default {}).") var config = "{}"
        @Option(help: "The largest output accepted, in bytes.") var maxOutputBytes = OutputLimit.defaultBytes
        @Flag(name: .customLong("json"), help: "Print JSON instead of text.") var jsonFlag = false
        @OptionGroup var format: OutputChoice
        var json: Bool { jsonFlag || format.isJSON }
        @OptionGroup var plugins: PluginOptions

        func run() throws {
            let registry = try Workspace().loadPlugins(explicit: plugins.directories, build: !plugins.noBuild)
            guard let found = registry.step(step) else {
                let names = registry.stepNames.sorted()
                let suggestion = ManifestNames.closest(step, names).map { " (did you mean '\($0)'?)" } ?? ""
                throw CLIError("error: no loaded plugin provides step '\(step)'\(suggestion); loaded: \(names.joined(separator: ", "))")
            }
            let inputBytes = try PluginCalls.bytes(of: input, option: "--input")
            let configBytes = try PluginCalls.bytes(of: config, option: "--config")
            let call = found.observe(input: inputBytes, config: configBytes, idempotencyKey: "cli/\(step)/1", maxOutputBytes: maxOutputBytes)
            // The call has returned: the plugins' deinit (ABI 1.2) runs as at any orderly end.
            defer { registry.deinitializeAll() }
            try PluginCalls.report(call, callee: "step \(found.fullName) \(found.version) (\(found.pluginPath))", json: json)
        }
    }
}

/// `steward models call`: one model adapter call through the real host.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "Call model adapters by hand, through the engine's host.", subcommands: [Call.self])

    struct Call: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Call one adapter as a model state does and print its output, confidence, usage, status and timing (exit 1 when it fails).")
        @Argument(help: "The adapter: id@version (banking-intent@2.0.0).") var adapter: String
        @Option(help: "The task: classify, extract, generate or score.") var task: String
        @Option(help: "The structured input: JSON text, or @FILE.") var input: String
        @Option(help: "The rendered prompt: text, or @FILE.") var prompt = ""
        @Option(help: "Call parameters: JSON text or @FILE (default {}).") var parameters = "{}"
        @Flag(name: .customLong("json"), help: "Print JSON instead of text.") var jsonFlag = false
        @OptionGroup var format: OutputChoice
        var json: Bool { jsonFlag || format.isJSON }
        @OptionGroup var plugins: PluginOptions

        func run() throws {
            guard let kind = ModelTask.allCases.first(where: { $0.description == task }) else {
                throw CLIError("error: unknown task '\(task)'; expected one of: \(ModelTask.allCases.map(\.description).joined(separator: ", "))")
            }
            let parts = adapter.split(separator: "@", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw CLIError("error: expected id@version for the adapter, found '\(adapter)'") }
            let registry = try Workspace().loadPlugins(explicit: plugins.directories, build: !plugins.noBuild)
            guard let found = registry.adapter(id: parts[0], version: parts[1]) else {
                let keys = registry.adapterKeys.sorted()
                let suggestion = ManifestNames.closest(adapter, keys).map { " (did you mean '\($0)'?)" } ?? ""
                throw CLIError("error: no loaded plugin provides adapter '\(adapter)'\(suggestion); loaded: \(keys.joined(separator: ", "))")
            }
            guard found.serves(kind) else {
                let served = ModelTask.allCases.filter(found.serves).map(\.description).joined(separator: ", ")
                throw CLIError("error: adapter \(adapter) does not serve the \(task) task; it serves: \(served)")
            }
            let promptText = prompt.hasPrefix("@") ? String(decoding: try PluginCalls.bytes(of: prompt, option: "--prompt"), as: UTF8.self) : prompt
            let call = found.observe(
                task: kind, input: try PluginCalls.bytes(of: input, option: "--input"), parameters: try PluginCalls.bytes(of: parameters, option: "--parameters"),
                prompt: promptText, idempotencyKey: "cli/\(adapter)/1")
            defer { registry.deinitializeAll() }
            try PluginCalls.report(call, callee: "adapter \(adapter) (\(found.pluginPath))", json: json, adapter: true)
        }
    }
}

/// What `steps call` and `models call` share: reading arguments and printing one call.
enum PluginCalls {
    /// The bytes of a JSON argument (text, or @FILE), checked to be JSON (the call still gets the
    /// bytes as written).
    static func bytes(of argument: String, option: String) throws -> [UInt8] {
        let bytes: [UInt8]
        if argument.hasPrefix("@") {
            let path = String(argument.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("error: \(option): cannot read \(path)") }
            bytes = Array(data)
        } else {
            bytes = Array(argument.utf8)
        }
        if option != "--prompt" {
            do { _ = try JSONValue.parse(bytes) } catch { throw CLIError("error: \(option) is not valid JSON: \(error)") }
        }
        return bytes
    }

    /// Prints the call and exits 1 (after printing) when it did not succeed.
    static func report(_ call: ObservedCall, callee: String, json: Bool, adapter: Bool = false) throws {
        let output = call.output.flatMap { try? JSONValue.parse($0) }
        let message = call.errorMessage.map { String(decoding: $0, as: UTF8.self) }
        var problems: [String] = []
        if let refusal = call.refusal { problems.append("the host refused the output: \(refusal)") }
        if call.status == 0, call.refusal == nil, call.output == nil { problems.append("STW_OK with no output") }
        if call.status == 0, let bytes = call.output, output == nil { problems.append("the output is not valid UTF-8 JSON: \(String(decoding: bytes.prefix(200), as: UTF8.self))") }
        if call.leaked > 0 { problems.append("\(call.leaked) block(s) from alloc neither handed over nor freed") }
        if call.foreignFrees > 0 { problems.append("\(call.foreignFrees) free(s) of blocks the call had not allocated") }
        if call.handedFreed { problems.append("a block stored in the result had been freed") }
        let milliseconds = Double(call.nanoseconds) / 1e6
        let succeeded = call.status == 0 && problems.isEmpty
        if json {
            var object: [String: JSONValue] = [
                "callee": .string(callee), "status": .string(call.statusName), "ok": .bool(succeeded), "milliseconds": .double(milliseconds),
                "memory": ["allocations": .integer(Int64(call.allocations)), "frees": .integer(Int64(call.frees)), "leaked": .integer(Int64(call.leaked))],
            ]
            if let output { object["output"] = output }
            if let message { object["error"] = .string(message) }
            if adapter, call.confidence >= 0 { object["confidence"] = .double(call.confidence) }
            if !problems.isEmpty { object["problems"] = .array(problems.map { .string($0) }) }
            print(JSONValue.object(object).prettyJSONString)
        } else {
            print("callee   \(callee)")
            print("status   \(call.statusName)")
            print("time     \(String(format: "%.3f", milliseconds)) ms")
            if let message { print("error    \(message)") }
            if adapter, call.confidence >= 0 { print("confidence \(String(format: "%.4f", call.confidence))") }
            if let usage = output?["usage"] { print("usage    \(usage.jsonString)") }
            print("memory   \(call.allocations) alloc, \(call.frees) free, \(call.leaked) leaked")
            for problem in problems { print("problem  \(problem)") }
            if let output { print(output.prettyJSONString) }
        }
        if !succeeded { throw ExitCode(1) }
    }
}
