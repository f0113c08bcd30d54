// steward-bench: measures Steward and prints JSON; `report` turns a results folder into the
// comparison table. Benchmarks/run.sh drives it; see BENCHMARKS.md.
import StewardJSON

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let usage = """
    usage: steward-bench plugin-calls --plugin LIB [--iterations N] [--repeats R]
           steward-bench triage --n N --plugins DIR --template FILE --input FILE --db FILE [--concurrency C] [--synchronous full|shipped]
           steward-bench shadow --n N --plugins DIR --template FILE --input FILE --db FILE [--concurrency C] [--customer C] [--candidate A@V]
           steward-bench waits --n N --timers T --events E --plugins DIR --scratch DIR [--concurrency C]
           steward-bench event-http --steward BIN --plugins DIR --scratch DIR [--n N]
           steward-bench scale-out --steward BIN --plugins DIR --template FILE --input FILE --scratch DIR --config 'NAME,ENGINES,STORE_URL;...' [--n N] [--decisions D] [--libraries DIR] [--lease-seconds S]
           steward-bench overhead --n N --plugins DIR --scratch DIR --raw BIN [--concurrency C] [--payloads 0,1024] [--rounds R]
           steward-bench resume --samples S --plugins DIR --template FILE --input FILE --db FILE
           steward-bench cold-start --steward BIN --root DIR --plugins DIR --scratch DIR [--runs R]
           steward-bench isolation --bench-plugin LIB --faults-plugin LIB --plugins DIR --template FILE --input FILE --scratch DIR [--libraries DIR] [--calls N] [--triage-n N] [--chaos-n N]
           steward-bench fsync-probe --db FILE [--commits N]
           steward-bench report --results DIR
    Each measuring command prints one JSON document on stdout.
    """

/// `--name value` pairs after the command.
struct Arguments {
    var values: [String: String] = [:]

    init(_ list: ArraySlice<String>) throws {
        var iterator = list.makeIterator()
        while let name = iterator.next() {
            guard name.hasPrefix("--"), let value = iterator.next() else { throw BenchError("expected --name value, found '\(name)'\n\(usage)") }
            values[String(name.dropFirst(2))] = value
        }
    }

    func string(_ name: String) throws -> String {
        guard let value = values[name] else { throw BenchError("missing --\(name)\n\(usage)") }
        return value
    }

    func int(_ name: String, default fallback: Int? = nil) throws -> Int {
        guard let text = values[name] else {
            if let fallback { return fallback }
            throw BenchError("missing --\(name)\n\(usage)")
        }
        guard let value = Int(text), value > 0 else { throw BenchError("--\(name) must be a positive integer, found '\(text)'") }
        return value
    }
}

func printError(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

let commandLine = CommandLine.arguments
guard commandLine.count >= 2 else {
    printError(usage)
    exit(64)
}
do {
    let arguments = try Arguments(commandLine.dropFirst(2))
    let result: JSONValue
    switch commandLine[1] {
    case "plugin-calls":
        result = try PluginCallBenchmark(
            library: arguments.string("plugin"), iterations: arguments.int("iterations", default: 2_000_000),
            repeats: arguments.int("repeats", default: 7)
        ).run()
    case "triage":
        let synchronous = arguments.values["synchronous"] ?? "full"
        guard ["full", "shipped"].contains(synchronous) else { throw BenchError("--synchronous must be full or shipped") }
        result = try await TriageBenchmark(
            n: arguments.int("n"), concurrency: arguments.int("concurrency", default: 256), plugins: arguments.string("plugins"),
            template: arguments.string("template"), input: arguments.string("input"), database: arguments.string("db"),
            forceFullSync: synchronous == "full", libraries: arguments.values["libraries"]
        ).run()
    case "event-http":
        result = try await EventHTTPBenchmark(
            steward: arguments.string("steward"), plugins: arguments.string("plugins"), scratch: arguments.string("scratch"),
            n: arguments.int("n", default: 1_000)
        ).run()
    case "scale-out":
        result = try await ScaleOutBenchmark(
            steward: arguments.string("steward"), plugins: arguments.string("plugins"), libraries: arguments.values["libraries"],
            template: arguments.string("template"), input: arguments.string("input"), scratch: arguments.string("scratch"),
            n: arguments.int("n", default: 3_000), decisions: arguments.int("decisions", default: 300),
            configurations: try ScaleOutBenchmark.parse(arguments.string("config")), leaseSeconds: Double(arguments.values["lease-seconds"] ?? "3") ?? 3
        ).run()
    case "shadow":
        result = try await ShadowBenchmark(
            n: arguments.int("n"), concurrency: arguments.int("concurrency", default: 64), plugins: arguments.string("plugins"),
            template: arguments.string("template"), input: arguments.string("input"), database: arguments.string("db"),
            libraries: arguments.values["libraries"], customer: arguments.values["customer"] ?? "harbour-credit",
            candidate: arguments.values["candidate"] ?? "banking-intent@2.0.0"
        ).run()
    case "waits":
        result = try await WaitsBenchmark(
            n: arguments.int("n"), timers: arguments.int("timers", default: 10_000), events: arguments.int("events", default: 500),
            plugins: arguments.string("plugins"), scratch: arguments.string("scratch"), concurrency: arguments.int("concurrency", default: 256)
        ).run()
    case "overhead":
        let payloads = try (arguments.values["payloads"] ?? "0,1024").split(separator: ",").map { text -> Int in
            guard let value = Int(text), value >= 0 else { throw BenchError("--payloads takes byte counts, found '\(text)'") }
            return value
        }
        result = try await OverheadBenchmark(
            n: arguments.int("n"), concurrency: arguments.int("concurrency", default: 256), plugins: arguments.string("plugins"),
            scratch: arguments.string("scratch"), raw: arguments.string("raw"), payloads: payloads, rounds: arguments.int("rounds", default: 3)
        ).run()
    case "resume":
        result = try await ResumeBenchmark(
            samples: arguments.int("samples", default: 2_000), plugins: arguments.string("plugins"),
            template: arguments.string("template"), input: arguments.string("input"), database: arguments.string("db"),
            libraries: arguments.values["libraries"]
        ).run()
    case "cold-start":
        result = try ColdStartBenchmark(
            steward: arguments.string("steward"), root: arguments.string("root"), plugins: arguments.string("plugins"),
            runs: arguments.int("runs", default: 10), scratch: arguments.string("scratch")
        ).run()
    case "isolation":
        result = try await IsolationBenchmark(
            benchPlugin: arguments.string("bench-plugin"), faultsPlugin: arguments.string("faults-plugin"), plugins: arguments.string("plugins"),
            libraries: arguments.values["libraries"], template: arguments.string("template"), input: arguments.string("input"),
            scratch: arguments.string("scratch"), calls: arguments.int("calls", default: 30_000), triageN: arguments.int("triage-n", default: 1_000),
            chaosN: arguments.int("chaos-n", default: 2_000)
        ).run()
    case "fsync-probe":
        result = try FsyncProbe(database: arguments.string("db"), commits: arguments.int("commits", default: 200)).run()
    case "report":
        let report = try Report(results: arguments.string("results"))
        print(report.table())
        result = report.combined
    default:
        throw BenchError("unknown command '\(commandLine[1])'\n\(usage)")
    }
    if commandLine[1] != "report" { print(result.prettyJSONString) }
    else { try writeTextFile(try Arguments(commandLine.dropFirst(2)).string("results") + "/results.json", result.prettyJSONString + "\n") }
} catch {
    printError("steward-bench: \(error)")
    exit(1)
}

/// Writes a text file, replacing it.
func writeTextFile(_ path: String, _ text: String) throws {
    guard let file = fopen(path, "w") else { throw BenchError("cannot write \(path)") }
    defer { fclose(file) }
    let bytes = Array(text.utf8)
    guard fwrite(bytes, 1, bytes.count, file) == bytes.count else { throw BenchError("short write to \(path)") }
}
