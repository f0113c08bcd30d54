import Foundation
import StewardABI
import StewardJSON
import Synchronization

/// What one conformance check concluded.
public enum ConformanceVerdict: String, Sendable, Hashable, Codable {
    /// The plugin does what the ABI and its manifest promise here.
    case pass
    /// It does not: a plugin team's CI must stop.
    case fail
    /// Worth a look, not a breach (no examples to run, a missing description).
    case warn
}

/// One check of the battery and what came of it.
public struct ConformanceResult: Sendable, Hashable {
    /// The check's place in the battery (stable for one plugin and manifest).
    public var index: Int
    /// What it looks at: `plugin`, `step keywords.classify`, `adapter banking-intent@2.0.0`.
    public var subject: String
    /// What it does: `call with {}`, `example 1`, `PURE: same input, same output`.
    public var check: String
    /// The verdict.
    public var verdict: ConformanceVerdict
    /// What happened, for people.
    public var detail: String
    /// Measured figures (latency percentiles in microseconds).
    public var figures: [String: Double] = [:]

    /// Creates a result.
    public init(index: Int, subject: String, check: String, verdict: ConformanceVerdict, detail: String, figures: [String: Double] = [:]) {
        self.index = index
        self.subject = subject
        self.check = check
        self.verdict = verdict
        self.detail = detail
        self.figures = figures
    }

    /// The result as JSON.
    public var jsonValue: JSONValue {
        var object: [String: JSONValue] = [
            "index": .integer(Int64(index)), "subject": .string(subject), "check": .string(check), "result": .string(verdict.rawValue),
            "detail": .string(detail),
        ]
        if !figures.isEmpty { object["figures"] = .object(figures.mapValues { .double(($0 * 10).rounded() / 10) }) }
        return .object(object)
    }

    /// Rebuilds a result from `jsonValue` (the validator's worker process sends them so).
    public init?(json: JSONValue) {
        guard let index = json["index"]?.integerValue, let subject = json["subject"]?.stringValue, let check = json["check"]?.stringValue,
            let verdict = json["result"]?.stringValue.flatMap(ConformanceVerdict.init(rawValue:)), let detail = json["detail"]?.stringValue
        else { return nil }
        self.init(
            index: Int(index), subject: subject, check: check, verdict: verdict, detail: detail,
            figures: (json["figures"]?.objectValue ?? [:]).compactMapValues(\.doubleValue))
    }
}

/// The conformance battery `steward plugins validate` runs against a loaded plugin: its
/// descriptor and manifest, then for every step and adapter calls with `{}`, the manifest's
/// examples, a 1 MiB input, malformed JSON and the manifest's invalid inputs; the `PURE` and
/// `THREAD_SAFE` promises; host-table memory balance on every call; latency percentiles.
///
/// The list of checks is fixed by the plugin and the manifest, so a process that crashed at
/// check `k` can be replaced by one that runs from `k + 1` (`run(_:)` runs one check).
/// Thread rules: `run` may be called from any thread, one check at a time.
public struct ConformanceBattery: Sendable {
    /// What one check is.
    public struct Check: Sendable, Hashable {
        /// What it looks at.
        public var subject: String
        /// What it does.
        public var check: String
        let kind: Kind
    }

    enum Kind: Sendable, Hashable {
        case descriptor
        case manifest
        case stepCall(step: Int, input: Input)
        case stepPure(step: Int)
        case stepThreadSafe(step: Int)
        case stepLatency(step: Int)
        case adapterCall(adapter: Int, task: Int32, input: Input)
        case adapterLatency(adapter: Int)
        /// `get_extension` / `get_extension_with_state` answer NULL for an id no host defines.
        case extensionLookup
        /// `deinit` (ABI 1.2) returns: the battery's last check, after every call.
        case deinitialize
    }

    /// The input a call check sends and what it demands of the answer.
    enum Input: Sendable, Hashable {
        case emptyObject
        case example(Int)
        case large
        case malformed
        case invalid(Int)
    }

    /// The plugin under test.
    public let plugin: LoadedPlugin
    /// Its manifest, when one was found.
    public let manifest: PluginManifest?
    /// Every check, in order.
    public let checks: [Check]
    /// How long the latency checks sample each callee, at most (at least 20 calls are made).
    public var latencyBudgetNanoseconds: UInt64 = 300_000_000
    /// How long the THREAD_SAFE check keeps its threads calling, at most (each makes at least
    /// 4 and at most 64 calls): a slow step is checked without holding every core for long.
    public var concurrencyBudgetNanoseconds: UInt64 = 1_000_000_000
    /// Why the manifest found could not be read (its located problems), if it could not.
    public var manifestError: String?

    /// The battery for `plugin` (and its manifest's examples).
    public init(plugin: LoadedPlugin, manifest: PluginManifest?) {
        self.plugin = plugin
        self.manifest = manifest
        var checks: [Check] = [
            Check(subject: "plugin", check: "descriptor", kind: .descriptor), Check(subject: "plugin", check: "manifest", kind: .manifest),
        ]
        if plugin.hasExtensionLookup {
            checks.append(Check(subject: "plugin", check: "extension lookup of an unknown id", kind: .extensionLookup))
        }
        for (index, step) in plugin.steps.enumerated() {
            let subject = "step \(step.fullName)"
            let examples = Self.stepExamples(step, manifest: manifest)
            checks.append(Check(subject: subject, check: "call with {}", kind: .stepCall(step: index, input: .emptyObject)))
            for number in examples.examples.indices {
                checks.append(Check(subject: subject, check: "example \(number + 1)", kind: .stepCall(step: index, input: .example(number))))
            }
            checks.append(Check(subject: subject, check: "1 MiB input", kind: .stepCall(step: index, input: .large)))
            checks.append(Check(subject: subject, check: "malformed JSON input", kind: .stepCall(step: index, input: .malformed)))
            for number in examples.invalid.indices {
                checks.append(Check(subject: subject, check: "invalid input \(number + 1)", kind: .stepCall(step: index, input: .invalid(number))))
            }
            if step.isPure { checks.append(Check(subject: subject, check: "PURE: same input, same output", kind: .stepPure(step: index))) }
            if step.isThreadSafe {
                checks.append(Check(subject: subject, check: "THREAD_SAFE: concurrent calls, sequential results", kind: .stepThreadSafe(step: index)))
            }
            checks.append(Check(subject: subject, check: "latency", kind: .stepLatency(step: index)))
        }
        for (index, adapter) in plugin.modelAdapters.enumerated() {
            let subject = "adapter \(adapter.info.id)@\(adapter.info.version)"
            let examples = manifest?.adapters["\(adapter.info.id)@\(adapter.info.version)"]?.examples ?? []
            for task in ModelTask.allCases where adapter.serves(task) {
                checks.append(Check(subject: subject, check: "\(task) with {}", kind: .adapterCall(adapter: index, task: task.rawValue, input: .emptyObject)))
                checks.append(Check(subject: subject, check: "\(task) with a 1 MiB input", kind: .adapterCall(adapter: index, task: task.rawValue, input: .large)))
                checks.append(Check(subject: subject, check: "\(task) with malformed JSON", kind: .adapterCall(adapter: index, task: task.rawValue, input: .malformed)))
            }
            for (number, example) in examples.enumerated() {
                let task = ModelTask.allCases.first { $0.description == example.task } ?? .classify
                checks.append(Check(subject: subject, check: "example \(number + 1)", kind: .adapterCall(adapter: index, task: task.rawValue, input: .example(number))))
            }
            checks.append(Check(subject: subject, check: "latency", kind: .adapterLatency(adapter: index)))
        }
        if plugin.hasDeinit { checks.append(Check(subject: "plugin", check: "deinit at shutdown", kind: .deinitialize)) }
        self.checks = checks
    }

    static func stepExamples(_ step: PluginStep, manifest: PluginManifest?) -> PluginManifest.StepExamples {
        let name = String(step.fullName.split(separator: ".", maxSplits: 1).last ?? "")
        return manifest?.steps[name] ?? PluginManifest.StepExamples(examples: [], invalid: [])
    }

    /// Runs check `index`.
    public func run(_ index: Int) -> ConformanceResult {
        let check = checks[index]
        func result(_ verdict: ConformanceVerdict, _ detail: String, _ figures: [String: Double] = [:]) -> ConformanceResult {
            ConformanceResult(index: index, subject: check.subject, check: check.check, verdict: verdict, detail: detail, figures: figures)
        }
        switch check.kind {
        case .descriptor:
            let (verdict, detail) = descriptorFindings()
            return result(verdict, detail)
        case .manifest:
            let (verdict, detail) = manifestFindings()
            return result(verdict, detail)
        case .stepCall(let stepIndex, let input):
            let step = plugin.steps[stepIndex]
            let examples = Self.stepExamples(step, manifest: manifest)
            let (bytes, config, expect) = payload(input, examples: examples.examples, invalid: examples.invalid)
            let call = step.observe(input: bytes, config: config, idempotencyKey: "validate/\(step.fullName)/\(index)")
            let (verdict, detail) = judge(call, input: input, expect: expect, adapter: false)
            return result(verdict, detail)
        case .adapterCall(let adapterIndex, let task, let input):
            let adapter = plugin.modelAdapters[adapterIndex]
            let examples = manifest?.adapters["\(adapter.info.id)@\(adapter.info.version)"]?.examples ?? []
            let (bytes, parameters, expect) = payload(input, examples: examples, invalid: [])
            var prompt = ""
            if case .example(let number) = input { prompt = examples[number].prompt }
            let call = adapter.observe(
                task: ModelTask(rawValue: task) ?? .classify, input: bytes, parameters: parameters, prompt: prompt,
                idempotencyKey: "validate/\(adapter.info.id)/\(index)")
            let (verdict, detail) = judge(call, input: input, expect: expect, adapter: true)
            return result(verdict, detail)
        case .stepPure(let stepIndex):
            let (verdict, detail) = pureFindings(plugin.steps[stepIndex])
            return result(verdict, detail)
        case .stepThreadSafe(let stepIndex):
            let (verdict, detail) = threadSafetyFindings(plugin.steps[stepIndex])
            return result(verdict, detail)
        case .stepLatency(let stepIndex):
            let step = plugin.steps[stepIndex]
            let inputs = sampleInputs(step)
            let samples = sample { round in
                let (input, config) = inputs[round % inputs.count]
                return step.observe(input: input, config: config, idempotencyKey: "validate/latency/\(round)").nanoseconds
            }
            let (verdict, detail) = latencyFindings(
                samples, inputs: inputs.count, nonBlocking: step.flags & STW_STEP_NONBLOCKING != 0, threadSafe: step.isThreadSafe)
            return result(verdict, detail, latencyFigures(samples))
        case .extensionLookup:
            let id = "steward.validator-unknown/1"
            guard let answer = plugin.extensionPointer(id: id) else {
                return result(.pass, "\(plugin.hasStatefulExtensionLookup ? "get_extension_with_state" : "get_extension")(\"\(id)\") returned NULL")
            }
            return result(.fail, "returned \(answer) for \"\(id)\", an id no host defines: a host would read that memory as the extension's struct")
        case .deinitialize:
            let start = ContinuousClock.now
            plugin.deinitialize()
            let elapsed = ContinuousClock.now - start
            let milliseconds = Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
            return result(.pass, "returned after \(String(format: "%.1f", milliseconds)) ms")
        case .adapterLatency(let adapterIndex):
            let adapter = plugin.modelAdapters[adapterIndex]
            let examples = manifest?.adapters["\(adapter.info.id)@\(adapter.info.version)"]?.examples ?? []
            let task = examples.first.flatMap { example in ModelTask.allCases.first { $0.description == example.task } }
                ?? ModelTask.allCases.first(where: adapter.serves) ?? .classify
            let input = examples.first.map { Array($0.input.jsonBytes) } ?? Array("{}".utf8)
            let samples = sample { round in
                adapter.observe(task: task, input: input, parameters: Array("{}".utf8), prompt: examples.first?.prompt ?? "", idempotencyKey: "validate/latency/\(round)").nanoseconds
            }
            let (verdict, detail) = latencyFindings(samples, inputs: 1, nonBlocking: adapter.info.nonBlocking, threadSafe: adapter.info.threadSafe)
            return result(verdict, detail, latencyFigures(samples))
        }
    }

    // MARK: - Findings

    func descriptorFindings() -> (ConformanceVerdict, String) {
        var notes = ["\(plugin.name) \(plugin.version), built for ABI \(plugin.abiMajor).\(plugin.abiMinor) (this host: \(PluginLoader.hostABI.major).\(PluginLoader.hostABI.minor))"]
        notes.append("\(plugin.steps.count) step(s), \(plugin.adapters.count) adapter(s)")
        var verdict = ConformanceVerdict.pass
        func semantic(_ version: String) -> Bool { version.split(separator: ".").count == 3 && version.split(separator: ".").allSatisfy { Int($0) != nil } }
        if !semantic(plugin.version) {
            verdict = .fail
            notes.append("the plugin version '\(plugin.version)' is not MAJOR.MINOR.PATCH")
        }
        for step in plugin.steps where !semantic(step.version) {
            verdict = .fail
            notes.append("step \(step.fullName)'s version '\(step.version)' is not MAJOR.MINOR.PATCH")
        }
        let undocumented = plugin.steps.filter { ($0.description ?? "").isEmpty }.map(\.fullName)
            + plugin.adapters.filter { ($0.description ?? "").isEmpty }.map { "\($0.id)@\($0.version)" }
        if !undocumented.isEmpty {
            if verdict == .pass { verdict = .warn }
            notes.append("no description: \(undocumented.joined(separator: ", "))")
        }
        if plugin.abiMinor < PluginLoader.hostABI.minor {
            notes.append("built for an older minor: fields appended since \(plugin.abiMajor).\(plugin.abiMinor) are absent to it")
        }
        return (verdict, notes.joined(separator: "; "))
    }

    func manifestFindings() -> (ConformanceVerdict, String) {
        if let manifestError { return (.fail, "the manifest does not read: \(manifestError)") }
        guard let manifest else {
            return (.warn, "no steward-plugin.yaml found beside the library or in Plugins/: no examples to run (pass --manifest FILE)")
        }
        var problems: [String] = []
        var warnings: [String] = []
        if manifest.name != plugin.name { problems.append("the manifest names the plugin '\(manifest.name)', the library '\(plugin.name)'") }
        if manifest.version != plugin.version { problems.append("the manifest says version \(manifest.version), the library \(plugin.version)") }
        let stepNames = Set(plugin.steps.map { String($0.fullName.split(separator: ".", maxSplits: 1).last ?? "") })
        for name in manifest.steps.keys.sorted() where !stepNames.contains(name) {
            problems.append("the manifest has examples for step '\(name)', which the library does not export")
        }
        let adapterKeys = Set(plugin.adapters.map { "\($0.id)@\($0.version)" })
        for key in manifest.adapters.keys.sorted() where !adapterKeys.contains(key) {
            problems.append("the manifest has examples for adapter \(key), which the library does not export")
        }
        let bare = stepNames.filter { (manifest.steps[$0]?.examples ?? []).isEmpty }.sorted().map { "\(plugin.name).\($0)" }
            + adapterKeys.filter { (manifest.adapters[$0]?.examples ?? []).isEmpty }.sorted()
        if !bare.isEmpty { warnings.append("no example calls for: \(bare.joined(separator: ", "))") }
        if !problems.isEmpty { return (.fail, (problems + warnings).joined(separator: "; ")) }
        if !warnings.isEmpty { return (.warn, warnings.joined(separator: "; ")) }
        return (.pass, "\(manifest.name) \(manifest.version): examples for every step and adapter")
    }

    /// The bytes a call check sends, the config or parameters, and the members it expects.
    func payload(_ input: Input, examples: [PluginManifest.Example], invalid: [JSONValue]) -> ([UInt8], [UInt8], JSONValue?) {
        let empty = Array("{}".utf8)
        switch input {
        case .emptyObject: return (empty, empty, nil)
        case .example(let number): return (examples[number].input.jsonBytes, examples[number].config.jsonBytes, examples[number].expect)
        case .large:
            // The first example with its longest string member grown to 1 MiB, or {"text": 1 MiB}.
            var object = examples.first?.input.objectValue ?? [:]
            let key = object.filter { $0.value.stringValue != nil }.max { ($0.value.stringValue?.count ?? 0) < ($1.value.stringValue?.count ?? 0) }?.key ?? "text"
            let seed = object[key]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "card payment refund "
            var text = ""
            text.reserveCapacity(1 << 20)
            while text.utf8.count < (1 << 20) { text += seed + " " }
            object[key] = .string(text)
            return (JSONValue.object(object).jsonBytes, examples.first?.config.jsonBytes ?? empty, nil)
        case .malformed: return (Array("{\"text\": \"unterminated".utf8), empty, nil)
        case .invalid(let number): return (invalid[number].jsonBytes, empty, nil)
        }
    }

    /// The verdict on one call: memory balance, the answer's form, and what this input demands.
    func judge(_ call: ObservedCall, input: Input, expect: JSONValue?, adapter: Bool) -> (ConformanceVerdict, String) {
        var problems: [String] = []
        if call.leaked > 0 { problems.append("leaked \(call.leaked) block(s) from the host's alloc (neither handed over nor freed)") }
        if call.foreignFrees > 0 { problems.append("called the host's free on \(call.foreignFrees) block(s) it had not allocated in this call (or twice)") }
        if call.handedFreed { problems.append("handed over a block it had freed (the host would free it twice)") }
        if call.handedForeign { problems.append("stored a pointer in the result that did not come from the host's alloc") }
        let known: Set<Int32> = [STW_OK, STW_ERR_INVALID_INPUT, STW_ERR_TRANSIENT, STW_ERR_PERMANENT, STW_ERR_INTERNAL]
        if !known.contains(call.status) { problems.append("returned \(call.statusName), not a status a call may return") }
        var output: JSONValue?
        if call.status == STW_OK {
            if let refusal = call.refusal {
                problems.append("the host refused its output: \(refusal)")
            } else if let bytes = call.output {
                let valid = bytes.withUnsafeBytes { UTF8Validation.isValid($0) }
                if !valid {
                    problems.append("the output is not valid UTF-8")
                } else {
                    do { output = try JSONValue.parse(bytes) } catch { problems.append("the output is not JSON: \(error) (\(Self.excerpt(bytes)))") }
                }
            } else if !call.handedForeign {
                problems.append("returned STW_OK with a NULL output")
            }
            if adapter, call.confidence.isNaN || call.confidence > 1 { problems.append("confidence \(call.confidence) is outside [0, 1] (negative: not reported)") }
        } else if known.contains(call.status) {
            let message = call.errorMessage.map { String(decoding: $0, as: UTF8.self) } ?? ""
            if message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                problems.append("returned \(call.statusName) with no error message")
            }
        }
        let said = call.status == STW_OK ? "STW_OK" : "\(call.statusName): \(call.errorMessage.map { String(decoding: $0.prefix(160), as: UTF8.self) } ?? "")"
        switch input {
        case .example:
            if call.status != STW_OK { problems.append("an example call must succeed; it returned \(said)") }
            if let expect, let output, let missing = Self.mismatch(expect, in: output) { problems.append(missing) }
        case .invalid:
            if call.status != STW_ERR_INVALID_INPUT {
                problems.append("an input the manifest lists as invalid must be refused with STW_ERR_INVALID_INPUT; it returned \(said)")
            }
        case .malformed:
            // The engine only ever sends JSON, so this is a warning: a step that reads a truncated
            // document as far as it goes may misread one from a caller of its own.
            if problems.isEmpty, call.status != STW_ERR_INVALID_INPUT {
                return (.warn, "a truncated JSON document should be refused with STW_ERR_INVALID_INPUT; it returned \(said)")
            }
        case .emptyObject, .large:
            break
        }
        if !problems.isEmpty { return (.fail, problems.joined(separator: "; ")) }
        let memory = "\(call.allocations) alloc, \(call.frees) free, balanced"
        return (.pass, "\(said) in \(String(format: "%.2f", Double(call.nanoseconds) / 1e6)) ms; \(memory)")
    }

    /// Why `output` lacks what `expect` names (nil when every member matches).
    static func mismatch(_ expect: JSONValue, in output: JSONValue) -> String? {
        for (key, value) in (expect.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            let found = output[key]
            if let object = value.objectValue, let inner = found, inner.objectValue != nil {
                if let problem = mismatch(.object(object), in: inner) { return problem }
                continue
            }
            if found != value {
                return "the output's '\(key)' is \(found?.jsonString ?? "missing"), the manifest expects \(value.jsonString)"
            }
        }
        return nil
    }

    static func excerpt(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(80), as: UTF8.self)
        return bytes.count > 80 ? text + "..." : text
    }

    /// The inputs a step answers with `STW_OK` among its examples (or `{}`), with their configs.
    func sampleInputs(_ step: PluginStep) -> [([UInt8], [UInt8])] {
        let examples = Self.stepExamples(step, manifest: manifest).examples.map { ($0.input.jsonBytes, $0.config.jsonBytes) }
        return examples.isEmpty ? [(Array("{}".utf8), Array("{}".utf8))] : examples
    }

    func pureFindings(_ step: PluginStep) -> (ConformanceVerdict, String) {
        for (input, config) in sampleInputs(step) {
            var first: ObservedCall?
            for round in 0..<5 {
                // Identical calls: the same input, config, key and attempt.
                let call = step.observe(input: input, config: config, idempotencyKey: "validate/pure/\(step.fullName)")
                guard let earlier = first else {
                    first = call
                    continue
                }
                if call.status != earlier.status || Self.parsed(call.output) != Self.parsed(earlier.output) {
                    return (.fail, "flagged STW_STEP_PURE, but the same input gave different answers: \(Self.describe(earlier)) then \(Self.describe(call)) (call \(round + 1) of 5)")
                }
            }
        }
        return (.pass, "5 calls per input, identical answers")
    }

    func threadSafetyFindings(_ step: PluginStep) -> (ConformanceVerdict, String) {
        let inputs = sampleInputs(step)
        let expected = inputs.enumerated().map { index, pair in
            step.observe(input: pair.0, config: pair.1, idempotencyKey: "validate/sequential/\(index)")
        }
        let threads = 8, perThread = 64
        let mismatches = Mutex<[String]>([])
        let made = Atomic<Int>(0)
        let group = DispatchGroup()
        let start = MonotonicNanoseconds.now()
        let budget = concurrencyBudgetNanoseconds
        for thread in 0..<threads {
            group.enter()
            let worker = Thread {
                for round in 0..<perThread where round < 4 || MonotonicNanoseconds.now() - start < budget {
                    made.add(1, ordering: .relaxed)
                    let which = (thread + round) % inputs.count
                    // The sequential call's key: a step that answers by its key (a dedupe) answers alike.
                    let call = step.observe(input: inputs[which].0, config: inputs[which].1, idempotencyKey: "validate/sequential/\(which)")
                    let reference = expected[which]
                    if call.status != reference.status || Self.parsed(call.output) != Self.parsed(reference.output) {
                        mismatches.withLock { $0.append("thread \(thread) call \(round): \(Self.describe(call)), sequentially \(Self.describe(reference))") }
                    }
                }
                group.leave()
            }
            worker.stackSize = 1 << 22
            worker.start()
        }
        group.wait()
        let found = mismatches.withLock { $0 }
        if !found.isEmpty {
            return (.fail, "flagged STW_STEP_THREAD_SAFE, but \(found.count) of \(made.load(ordering: .relaxed)) concurrent calls on \(threads) threads differed from the sequential answers; first: \(found[0])")
        }
        return (.pass, "\(made.load(ordering: .relaxed)) calls on \(threads) threads at once agree with the sequential answers")
    }

    static func parsed(_ bytes: [UInt8]?) -> JSONValue? { bytes.flatMap { try? JSONValue.parse($0) } }

    static func describe(_ call: ObservedCall) -> String {
        call.status == STW_OK ? (call.output.map { excerpt($0) } ?? "no output") : call.statusName
    }

    /// Calls `body` until the budget is spent (at least 20, at most 2,000 times), returning sorted durations.
    func sample(_ body: (Int) -> UInt64) -> [UInt64] {
        var samples: [UInt64] = []
        let start = MonotonicNanoseconds.now()
        while samples.count < 2_000, samples.count < 20 || MonotonicNanoseconds.now() - start < latencyBudgetNanoseconds {
            samples.append(body(samples.count))
        }
        return samples.sorted()
    }

    func latencyFigures(_ sorted: [UInt64]) -> [String: Double] {
        func percentile(_ p: Double) -> Double {
            let rank = min(max(Int((p / 100 * Double(sorted.count)).rounded(.up)), 1), sorted.count)
            return Double(sorted[rank - 1]) / 1_000
        }
        return ["p50_us": percentile(50), "p90_us": percentile(90), "p99_us": percentile(99), "calls": Double(sorted.count)]
    }

    /// The latency check's verdict. A callee flagged `STW_STEP_NONBLOCKING` promises to return
    /// within a millisecond (the engine may run it on one of its own threads): a median over
    /// 1 ms breaks the promise (fail); a p99 over 1 ms, which a loaded machine's preemption can
    /// cause, is a warning; the flag without `STW_STEP_THREAD_SAFE` has no effect (warning).
    func latencyFindings(_ sorted: [UInt64], inputs: Int, nonBlocking: Bool, threadSafe: Bool) -> (ConformanceVerdict, String) {
        let detail = latencyDetail(sorted, inputs: inputs)
        guard nonBlocking else { return (.pass, detail) }
        let figures = latencyFigures(sorted)
        if (figures["p50_us"] ?? 0) > 1_000 {
            return (.fail, "flagged STW_STEP_NONBLOCKING, but its median call takes over 1 ms: \(detail)")
        }
        if !threadSafe { return (.warn, "flagged STW_STEP_NONBLOCKING without STW_STEP_THREAD_SAFE, which the host ignores: \(detail)") }
        if (figures["p99_us"] ?? 0) > 1_000 {
            return (.warn, "flagged STW_STEP_NONBLOCKING, but 1 call in 100 takes over 1 ms (preemption on a loaded machine, or real work?): \(detail)")
        }
        return (.pass, detail)
    }

    func latencyDetail(_ sorted: [UInt64], inputs: Int) -> String {
        let figures = latencyFigures(sorted)
        return String(
            format: "%d calls over %d input(s): p50 %.1f us, p90 %.1f us, p99 %.1f us", sorted.count, inputs, figures["p50_us"] ?? 0,
            figures["p90_us"] ?? 0, figures["p99_us"] ?? 0)
    }
}
