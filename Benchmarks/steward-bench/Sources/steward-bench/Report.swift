import StewardJSON

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a results folder written by run.sh and prints the comparison, the Steward/peer
/// ratios and the targets. A figure that is missing is printed as missing, never guessed.
struct Report {
    let folder: String
    var documents: [String: JSONValue] = [:]

    init(results folder: String) throws {
        self.folder = folder
        guard let dir = opendir(folder) else { throw BenchError("no results folder \(folder)") }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in String(cString: raw.bindMemory(to: CChar.self).baseAddress!) }
            guard name.hasSuffix(".json"), name != "results.json" else { continue }
            let text = try readTextFile(folder + "/" + name)
            do {
                documents[String(name.dropLast(5))] = try JSONValue.parse(text)
            } catch {
                documents[String(name.dropLast(5))] = ["error": .string("\(name) is not valid JSON: \(error)")]
            }
        }
    }

    /// Every document, plus the computed ratios and target checks.
    var combined: JSONValue {
        var all = documents
        all["ratios"] = .array(ratios.map { $0.json })
        all["targets"] = .array(targets.map { $0.json })
        return .object(all)
    }

    /// Triage runs at the default concurrency, by N.
    var triageRuns: [(n: Int, doc: JSONValue)] {
        documents.compactMap { name, doc -> (Int, JSONValue)? in
            guard name.hasPrefix("triage-"), let n = Int(name.dropFirst(7)) else { return nil }
            return (n, doc)
        }.sorted { $0.0 < $1.0 }
    }

    static let peers = [("langgraph", "LangGraph"), ("spiffworkflow", "SpiffWorkflow")]

    struct Ratio {
        var peer: String, n: Int, metric: String, steward: Double, other: Double
        var value: Double { steward / other }
        var json: JSONValue {
            ["peer": .string(peer), "n": .int(n), "metric": .string(metric), "steward": .number(steward, places: 1),
             "peer_value": .number(other, places: 1), "ratio": .number(value, places: 2)]
        }
    }

    /// Steward/peer for every N both ran (bytes per instance: peer/Steward, so > 1 is better too).
    var ratios: [Ratio] {
        var list: [Ratio] = []
        for (key, name) in Self.peers {
            for run in documents["peers"]?[key]?["runs"]?.arrayValue ?? [] {
                guard let n = run["n"]?.integerValue.map(Int.init),
                    let steward = documents["triage-\(n)"], steward["error"] == nil
                else { continue }
                for (metric, path) in [
                    ("steps/s", ["overall", "steps_per_s"]), ("instances/s to checkpoint", ["phase_a", "instances_per_s"]),
                    ("instances/s to completion", ["phase_b", "instances_per_s"]),
                ] {
                    if let s = steward.value(at: path)?.doubleValue, let p = run.value(at: path)?.doubleValue, p > 0 {
                        list.append(Ratio(peer: name, n: n, metric: metric, steward: s, other: p))
                    }
                }
                if let sequential = documents["triage-\(n)-c1"], let s = sequential.value(at: ["overall", "steps_per_s"])?.doubleValue,
                    let p = run.value(at: ["overall", "steps_per_s"])?.doubleValue, p > 0 {
                    list.append(Ratio(peer: name, n: n, metric: "steps/s, Steward at concurrency 1", steward: s, other: p))
                }
                let bytes = ["disk", "bytes_per_completed_instance"]
                if let s = steward.value(at: bytes)?.doubleValue, let p = run.value(at: bytes)?.doubleValue, s > 0 {
                    list.append(Ratio(peer: name, n: n, metric: "bytes/instance (peer/Steward)", steward: p, other: s))
                }
            }
        }
        return list
    }

    struct Target {
        var name: String, measured: String, met: Bool?, note: String
        var json: JSONValue {
            ["target": .string(name), "measured": .string(measured), "met": met.map { .bool($0) } ?? .null, "note": .string(note)]
        }
    }

    var targets: [Target] {
        var list: [Target] = []
        for (key, name, goal) in [("langgraph", "LangGraph", 50.0), ("spiffworkflow", "SpiffWorkflow", 10.0)] {
            let best = ratios.filter { $0.peer == name && $0.metric == "steps/s" }.max { $0.n < $1.n }
            if let best {
                list.append(Target(
                    name: ">= \(Int(goal))x \(name) in steps/s", measured: format2(best.value) + "x at N=\(best.n)",
                    met: best.value >= goal, note: best.value >= goal ? "" : "short by \(format2(goal / best.value))x"))
            } else {
                let why = documents["peers"]?[key]?["error"]?.stringValue ?? "no peer figures in this run"
                list.append(Target(name: ">= \(Int(goal))x \(name) in steps/s", measured: "not measured", met: nil, note: why))
            }
        }
        if let noop = documents["plugin-calls"]?.value(at: ["cases", "noop", "overhead_ns_vs_swift_direct", "steward_abi"])?.doubleValue {
            let big = documents["plugin-calls"]?.value(at: ["cases", "json_300b", "overhead_ns_vs_swift_direct", "steward_abi"])?.doubleValue ?? .nan
            list.append(Target(
                name: "plugin dispatch overhead < 100 ns beyond payload work", measured: "\(format1(noop)) ns (noop), \(format1(big)) ns (300 B)",
                met: noop < 100 && big < 100, note: "steward_abi (PluginStep.callRaw) minus the direct Swift call doing the same malloc+copy"))
        }
        if let p99 = documents["resume"]?.value(at: ["accepted_to_step_ran_ms", "p99"])?.doubleValue {
            list.append(Target(name: "p99 resume latency < 5 ms", measured: "\(format2(p99)) ms", met: p99 < 5,
                               note: p99 < 5 ? "" : "over by \(format2(p99 - 5)) ms"))
        }
        if let run = triageRuns.last(where: { $0.n >= 100_000 }) ?? triageRuns.last,
            let peak = run.doc.value(at: ["memory", "peak_rss_with_n_waiting_bytes"])?.doubleValue {
            let mb = peak / 1_048_576
            list.append(Target(name: "peak RSS < 200 MB with 100,000 waiting instances", measured: "\(format1(mb)) MB at N=\(run.n)",
                               met: run.n >= 100_000 ? mb < 200 : nil, note: run.n >= 100_000 ? "" : "N=100,000 not run (use --n ...,100000)"))
        }
        if let run = triageRuns.last, let bytes = run.doc.value(at: ["disk", "bytes_per_completed_instance"])?.doubleValue {
            list.append(Target(name: "< 2 KB on disk per completed triage instance", measured: "\(Int(bytes)) B at N=\(run.n)",
                               met: bytes < 2048, note: bytes < 2048 ? "" : "over by \(format2(bytes / 2048))x"))
        }
        return list
    }

    func table() -> String {
        var out: [String] = []
        if let machine = documents["machine"] {
            out.append("Machine: \(machine["cpu"]?.stringValue ?? "?"), \(machine["nproc"]?.integerValue ?? 0) cores, \(machine["memory"]?.stringValue ?? "?") memory; \(machine["swift"]?.stringValue ?? "")")
            out.append("Run: \(machine["date"]?.stringValue ?? "?")  \(machine["command"]?.stringValue ?? "")")
            out.append("Load average at start \(machine["loadavg_at_start"]?.stringValue ?? "?"), at end \(machine["loadavg_at_end"]?.stringValue ?? "?") (a shared machine: other builds run beside this)")
        }
        for name in ["fsync-probe", "fsync-probe-end"] {
            guard let probe = documents[name], probe["error"] == nil else { continue }
            out.append("One durable SQLite commit (WAL, synchronous=FULL) \(name == "fsync-probe" ? "before" : "after") the run: p50 \(format2(probe["commit_ms_p50"]?.doubleValue ?? .nan)) ms, p99 \(format2(probe["commit_ms_p99"]?.doubleValue ?? .nan)) ms")
        }
        if let calls = documents["plugin-calls"]?["cases"] {
            out.append("")
            out.append("Plugin call (ns/call, best of rounds)     noop     300 B JSON")
            for (path, label) in [
                ("swift_direct", "direct Swift call (baseline)"), ("c_function_pointer", "C function pointer (ffi-style)"),
                ("libffi", "libffi ffi_call"), ("steward_abi", "Steward C ABI (PluginStep.callRaw)"),
                ("steward_registry", "Steward registry (JSON in/out)"),
            ] {
                let a = calls.value(at: ["noop", "ns_per_call", path])?.doubleValue ?? .nan
                let b = calls.value(at: ["json_300b", "ns_per_call", path])?.doubleValue ?? .nan
                out.append(pad(label, 40) + lpad(format1(a), 8) + lpad(format1(b), 12))
            }
        }
        if let overhead = documents["engine-overhead"] {
            out.append("")
            if let error = overhead["error"]?.stringValue {
                out.append("Engine overhead: failed: \(error)")
            } else {
                out.append("Engine overhead: 10 no-op C steps, \(overhead["n"]?.integerValue ?? 0) instances, \(overhead["concurrency"]?.integerValue ?? 0) in flight, \(overhead["rounds"]?.integerValue ?? 0) rounds in turns with raw SQLite")
                out.append(pad("variant", 14) + lpad("engine tr/s", 13) + lpad("raw tr/s", 11) + lpad("engine/raw", 12) + lpad("spread", 15)
                           + lpad("CPU us/tr", 11) + lpad("allocs/tr", 11))
                for (name, variant) in (overhead["variants"]?.objectValue ?? [:]).sorted(by: { $0.key > $1.key }) {
                    let spread = variant["engine_over_raw_spread"]?.arrayValue?.compactMap(\.doubleValue) ?? []
                    let allocations = variant["engine"]?.arrayValue?.compactMap { $0["allocations_per_transition"]?.doubleValue } ?? []
                    out.append(pad(name, 14)
                               + lpad(format1(variant["engine_transitions_per_s_median"]?.doubleValue ?? .nan), 13)
                               + lpad(format1(variant["raw_transitions_per_s_median"]?.doubleValue ?? .nan), 11)
                               + lpad(format3(variant["engine_over_raw_median"]?.doubleValue ?? .nan), 12)
                               + lpad(spread.count == 2 ? "\(format3(spread[0]))-\(format3(spread[1]))" : "-", 15)
                               + lpad(format2(variant["cpu_us_per_transition_median"]?.doubleValue ?? .nan), 11)
                               + lpad(allocations.isEmpty ? "-" : format1(median(allocations)), 11))
                }
                out.append("  targets: >= 50,000 durable transitions/s and engine/raw >= 0.25")
            }
        }
        out.append("")
        out.append("Ticket triage on SQLite in WAL mode, synchronous=FULL")
        out.append(pad("engine", 26) + lpad("N", 8) + lpad("to ckpt/s", 11) + lpad("to done/s", 11) + lpad("steps/s", 10)
                   + lpad("trans/s", 10) + lpad("B/inst", 9) + lpad("peak RSS", 10))
        var rows: [(String, Int, JSONValue)] = triageRuns.map { ("Steward (concurrency \($0.doc["concurrency"]?.integerValue ?? 0))", $0.n, $0.doc) }
        for (name, doc) in documents.sorted(by: { $0.key < $1.key }) where name.hasPrefix("triage-") && Int(name.dropFirst(7)) == nil {
            let label = name.hasSuffix("-c1") ? "Steward (concurrency 1)" : "Steward (64, as shipped)"
            rows.append((label, doc["n"]?.integerValue.map(Int.init) ?? 0, doc))
        }
        for (key, name) in Self.peers {
            if let error = documents["peers"]?[key]?["error"]?.stringValue {
                out.append(pad(name, 26) + "  not measured: \(error)")
            }
            for run in documents["peers"]?[key]?["runs"]?.arrayValue ?? [] {
                rows.append((name, run["n"]?.integerValue.map(Int.init) ?? 0, run))
            }
        }
        if documents["peers"] == nil { out.append("  peers: not run (no peers.json)") }
        for (name, n, doc) in rows {
            if let error = doc["error"]?.stringValue {
                out.append(pad(name, 26) + lpad("\(n)", 8) + "  failed: \(error)")
                continue
            }
            let peak = doc.value(at: ["memory", "peak_rss_with_n_waiting_bytes"])?.doubleValue
            out.append(pad(name, 26) + lpad("\(n)", 8)
                       + lpad(format1(doc.value(at: ["phase_a", "instances_per_s"])?.doubleValue ?? .nan), 11)
                       + lpad(format1(doc.value(at: ["phase_b", "instances_per_s"])?.doubleValue ?? .nan), 11)
                       + lpad(format1(doc.value(at: ["overall", "steps_per_s"])?.doubleValue ?? .nan), 10)
                       + lpad(format1(doc.value(at: ["overall", "transitions_per_s"])?.doubleValue ?? .nan), 10)
                       + lpad(format0(doc.value(at: ["disk", "bytes_per_completed_instance"])?.doubleValue ?? .nan), 9)
                       + lpad(peak.map { format1($0 / 1_048_576) + " MB" } ?? "-", 10))
        }
        if !ratios.isEmpty {
            out.append("")
            out.append("Steward / peer (same N, same steps)")
            for ratio in ratios {
                out.append("  " + pad("\(ratio.peer) N=\(ratio.n) \(ratio.metric)", 52) + lpad(format2(ratio.value) + "x", 10))
            }
        }
        if let resume = documents["resume"] {
            out.append("")
            out.append("Resume latency, \(resume["samples"]?.integerValue ?? 0) samples, one at a time (ms)   p50      p90      p99      max")
            for (key, label) in [
                ("accepted_to_step_ran_ms", "decision committed -> next step ran"), ("decide_call_to_step_ran_ms", "decide called -> next step ran"),
                ("decide_call_to_return_ms", "decide called -> step result committed"),
            ] {
                let row = ["p50", "p90", "p99", "max"].map { lpad(format3(resume.value(at: [key, $0])?.doubleValue ?? .nan), 9) }.joined()
                out.append("  " + pad(label, 58) + row)
            }
        }
        if let cold = documents["cold-start"] {
            out.append("")
            out.append("Cold start (steward run ... ticket-1, fresh db, \(cold["runs"]?.integerValue ?? 0) runs): median \(format1(cold["median_ms"]?.doubleValue ?? .nan)) ms, min \(format1(cold["min_ms"]?.doubleValue ?? .nan)), max \(format1(cold["max_ms"]?.doubleValue ?? .nan))")
        }
        for (name, doc) in documents.sorted(by: { $0.key < $1.key }) {
            if let error = doc["error"]?.stringValue, !name.hasPrefix("triage-") { out.append("\(name): failed: \(error)") }
        }
        out.append("")
        out.append("Targets")
        for target in targets {
            let verdict = target.met.map { $0 ? "MET   " : "MISSED" } ?? "n/a   "
            out.append("  \(verdict) " + pad(target.name, 56) + target.measured + (target.note.isEmpty ? "" : "  (\(target.note))"))
        }
        return out.joined(separator: "\n")
    }
}

func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
func lpad(_ text: String, _ width: Int) -> String { text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text }

func format(_ value: Double, places: Int) -> String {
    guard value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let rounded = (abs(value) * scale).rounded()
    let whole = Int64(rounded / scale)
    let fraction = Int64(rounded) - whole * Int64(scale)
    let sign = value < 0 && rounded > 0 ? "-" : ""
    guard places > 0 else { return sign + String(whole) }
    let digits = String(fraction)
    return sign + String(whole) + "." + String(repeating: "0", count: places - digits.count) + digits
}
func format0(_ value: Double) -> String { format(value, places: 0) }
func format1(_ value: Double) -> String { format(value, places: 1) }
func format2(_ value: Double) -> String { format(value, places: 2) }
func format3(_ value: Double) -> String { format(value, places: 3) }
