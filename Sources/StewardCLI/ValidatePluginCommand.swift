import ArgumentParser
import Foundation
import StewardBootstrap
import StewardJSON
import StewardPlugins
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `steward plugins validate LIB`: the conformance battery (`ConformanceBattery`) against a
/// plugin library, each check reported pass / fail / warn. The checks run in a child process
/// (this executable with `--worker`), so a plugin that crashes or hangs fails the check it was
/// in and the battery goes on from the next one in a fresh process.
struct ValidatePlugin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Run the conformance battery on a plugin library: descriptor, manifest, calls, PURE and THREAD_SAFE promises, memory, latency (exit 1 on any fail).")

    @Argument(help: "Path to the plugin's shared library.") var library: String
    @Option(help: "The plugin's steward-plugin.yaml (default: beside the library, or the Plugins/ folder that builds it).") var manifest: String?
    @Option(help: "Seconds one check may take before it counts as hung.") var timeout = 30
    @Flag(name: .customLong("json"), help: "Print JSON instead of text.") var jsonFlag = false
    @OptionGroup var format: OutputChoice
    var json: Bool { jsonFlag || format.isJSON }
    @Flag(help: .hidden) var worker = false
    @Option(help: .hidden) var from = 0

    func run() throws {
        if worker { return try runWorker() }
        let manifestPath = manifest ?? Self.findManifest(for: library)
        var results: [ConformanceResult] = []
        var loadError: String?
        var plugin: (name: String, version: String)?
        var next = 0
        var total: Int?
        var restarts = 0
        while total == nil || next < total ?? 0 {
            let run = try WorkerRun.start(library: library, manifest: manifestPath, from: next)
            let outcome = run.collect(timeout: timeout)
            for line in outcome.lines {
                if let count = line["count"]?.integerValue { total = Int(count) }
                if let name = line["plugin"]?.stringValue, let version = line["version"]?.stringValue { plugin = (name, version) }
                if let error = line["load_error"]?.stringValue { loadError = error }
                if line["result"] != nil, let result = ConformanceResult(json: line) { results.append(result) }
            }
            if loadError != nil { break }
            next = (results.last?.index ?? next - 1) + 1
            guard let begun = outcome.begun, begun.index >= next else {
                if outcome.finished { break }
                // Died before it began a check (while loading): the load itself crashed.
                loadError = "the library crashed the process while loading (\(outcome.ending)); its init or entry point is at fault"
                break
            }
            // The worker died or hung inside check `begun`: that check fails, the rest go on.
            results.append(ConformanceResult(
                index: begun.index, subject: begun.subject, check: begun.check, verdict: .fail,
                detail: outcome.hung ? "did not return within \(timeout) s (the process was killed)" : "crashed the process: \(outcome.ending)"))
            next = begun.index + 1
            restarts += 1
            if restarts > 64 { break }
        }
        try report(results, plugin: plugin, loadError: loadError, manifest: manifestPath)
    }

    /// Prints the report and exits 1 when anything failed.
    func report(_ results: [ConformanceResult], plugin: (name: String, version: String)?, loadError: String?, manifest: String?) throws {
        let failed = results.filter { $0.verdict == .fail }.count
        let warned = results.filter { $0.verdict == .warn }.count
        let passed = loadError == nil && failed == 0
        if json {
            var object: [String: JSONValue] = [
                "library": .string(library), "passed": .bool(passed), "checks": .array(results.map(\.jsonValue)),
                "summary": ["checks": .integer(Int64(results.count)), "failed": .integer(Int64(failed)), "warnings": .integer(Int64(warned))],
            ]
            if let plugin { object["plugin"] = .string(plugin.name); object["version"] = .string(plugin.version) }
            if let loadError { object["load_error"] = .string(loadError) }
            if let manifest { object["manifest"] = .string(manifest) }
            print(JSONValue.object(object).prettyJSONString)
        } else {
            if let plugin { print("plugin \(plugin.name) \(plugin.version) (\(library))") }
            if let manifest { print("manifest \(manifest)") }
            if let loadError { print("FAIL  load: \(loadError)") }
            for result in results {
                print("\(result.verdict.rawValue.uppercased().padding(toLength: 5, withPad: " ", startingAt: 0)) \(result.subject): \(result.check): \(result.detail)")
            }
            print("\(results.count) checks: \(results.count - failed - warned) passed, \(failed) failed, \(warned) warnings\(loadError == nil ? "" : "; the library did not load")")
        }
        if !passed { throw ExitCode(1) }
    }

    /// The manifest beside the library, or the `Plugins/` folder whose manifest builds it.
    static func findManifest(for library: String) -> String? {
        let url = URL(fileURLWithPath: library)
        let beside = url.deletingLastPathComponent().appendingPathComponent("steward-plugin.yaml").path
        if FileManager.default.fileExists(atPath: beside) { return beside }
        let workspace = Workspace()
        guard let folders = try? workspace.pluginBuilder.manifests() else { return nil }
        for (folder, manifest) in folders where manifest.library == url.lastPathComponent {
            return folder.appendingPathComponent("steward-plugin.yaml").path
        }
        return nil
    }

    /// The child process: loads the library, then runs checks from `--from` on, one JSON line
    /// before (`begin`) and after (the result) each, flushed, so the parent knows where it died.
    func runWorker() throws {
        func emit(_ value: JSONValue) {
            FileHandle.standardOutput.write(Data((value.jsonString + "\n").utf8))
        }
        let loaded: LoadedPlugin
        do {
            loaded = try PluginLoader.load(path: library)
        } catch {
            emit(["load_error": .string("\(error)")])
            return
        }
        var parsed: PluginManifest?
        var manifestError: String?
        if let manifest {
            do { parsed = try PluginManifest.parse(String(contentsOfFile: manifest, encoding: .utf8), file: manifest) } catch { manifestError = "\(error)" }
        }
        var battery = ConformanceBattery(plugin: loaded, manifest: parsed)
        battery.manifestError = manifestError
        emit(["plugin": .string(loaded.name), "version": .string(loaded.version), "count": .integer(Int64(battery.checks.count))])
        for index in battery.checks.indices where index >= from {
            emit(["begin": .integer(Int64(index)), "subject": .string(battery.checks[index].subject), "check": .string(battery.checks[index].check)])
            emit(battery.run(index).jsonValue)
        }
        emit(["done": true])
    }
}

/// What a worker printed so far: its complete lines, and the tail of a line still coming.
final class WorkerOutput: Sendable {
    let lines = Mutex<[String]>([])
    let pending = Mutex(Data())
    let signal = DispatchSemaphore(value: 0)
    /// Whether the pipe reached its end (every line is in).
    let ended = Atomic<Bool>(false)

    /// Takes a chunk of the pipe (empty: the end), keeping the complete lines.
    func take(_ chunk: Data) {
        let complete: [String] = pending.withLock { buffer in
            if chunk.isEmpty {
                defer { buffer.removeAll() }
                return buffer.isEmpty ? [] : [String(decoding: buffer, as: UTF8.self)]
            }
            buffer.append(chunk)
            var found: [String] = []
            while let newline = buffer.firstIndex(of: 10) {
                found.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                buffer.removeSubrange(buffer.startIndex...newline)
            }
            return found
        }
        lines.withLock { $0 += complete }
        if chunk.isEmpty { ended.store(true, ordering: .releasing) }
        signal.signal()
    }
}

/// One worker process and what it printed.
struct WorkerRun {
    let process: Process
    let output: WorkerOutput
    var signal: DispatchSemaphore { output.signal }

    /// How many complete lines the worker printed so far.
    var lineCount: Int { output.lines.withLock { $0.count } }

    /// What a worker run came to.
    struct Outcome {
        var lines: [JSONValue]
        /// The last check it began.
        var begun: (index: Int, subject: String, check: String)?
        /// Whether it printed `done`.
        var finished: Bool
        /// Whether it was killed for taking too long.
        var hung: Bool
        /// How it ended, for people (`signal 11 (SIGSEGV)`, `exit 3`).
        var ending: String
    }

    static func start(library: String, manifest: String?, from: Int) throws -> WorkerRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        var arguments = ["plugins", "validate", library, "--worker", "--from", String(from)]
        if let manifest { arguments += ["--manifest", manifest] }
        process.arguments = arguments
        // A crash is the worker's expected way to fail a check: no Swift backtrace (it would
        // take seconds and hold the pipe open through its helper process).
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        let output = WorkerOutput()
        let run = WorkerRun(process: process, output: output)
        try process.run()
        // A thread of its own reads the pipe to its end with blocking reads (the worker writes
        // little, and the parent waits for it anyway).
        let descriptor = pipe.fileHandleForReading.fileDescriptor
        let reader = Thread {
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                output.take(Data(chunk[0..<count]))
            }
            output.take(Data())
        }
        reader.start()
        return run
    }

    /// Waits for the worker to end, killing it when one check runs longer than `timeout` seconds.
    func collect(timeout: Int) -> Outcome {
        var deadline = DispatchTime.now() + .seconds(timeout)
        var seen = 0
        var hung = false
        while process.isRunning {
            _ = signal.wait(timeout: .now() + .milliseconds(100))
            let count = lineCount
            if count != seen {
                seen = count
                deadline = .now() + .seconds(timeout)
            } else if DispatchTime.now() > deadline {
                hung = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
        }
        process.waitUntilExit()
        // The last lines may still be in the pipe: wait for its end (a child the worker left
        // holding the pipe open is not waited for long).
        for _ in 0..<100 where !output.ended.load(ordering: .acquiring) {
            _ = signal.wait(timeout: .now() + .milliseconds(20))
        }
        let parsed = output.lines.withLock { $0 }.compactMap { try? JSONValue.parse($0) }
        var begun: (Int, String, String)?
        var finished = false
        for line in parsed {
            if let index = line["begin"]?.integerValue {
                begun = (Int(index), line["subject"]?.stringValue ?? "?", line["check"]?.stringValue ?? "?")
            }
            if line["result"] != nil, let index = line["index"]?.integerValue, begun?.0 == Int(index) { begun = nil }
            if line["done"] != nil || line["load_error"] != nil { finished = true }
        }
        let status = process.terminationStatus
        let ending: String
        if process.terminationReason == .uncaughtSignal {
            ending = "signal \(status) (\(SignalName.of(status) ?? "signal \(status)"))"
        } else {
            ending = "exit \(status)"
        }
        return Outcome(lines: parsed, begun: begun.map { (index: $0.0, subject: $0.1, check: $0.2) }, finished: finished, hung: hung, ending: ending)
    }
}
