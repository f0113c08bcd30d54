import Foundation
import StewardEngine
import StewardJSON
import StewardTemplates

/// What one golden case did in a run.
public struct CaseResult: Sendable, Hashable, Codable {
    /// The case id.
    public var id: String
    /// Whether the instance finished without failing and every per-case check held (each
    /// labelled path equal to its expected value, numbers within tolerance, judge scores at
    /// least the metric's `min` or 0.5).
    public var passed: Bool
    /// Whether a checkpoint opened: in production a person would have been asked.
    public var reviewed: Bool
    /// The instance's final status (`completed`, `rejected`, `failed`).
    public var status: String
    /// Why it failed, if it did.
    public var error: String?
    /// The instance's values at the rubric's paths (and confidence paths), nested as in the data.
    public var outputs: JSONValue
    /// The case's expected values at the rubric's paths, nested as in the dataset.
    public var expected: JSONValue
    /// The checkpoints that opened (and were approved by the sandbox).
    public var checkpoints: [String]
    /// The states whose steps are not pure and were not called.
    public var skipped: [String]
    /// Judge scores by metric name.
    public var judge: [String: Double]

    /// Creates a result.
    public init(
        id: String, passed: Bool, reviewed: Bool, status: String, error: String? = nil, outputs: JSONValue, expected: JSONValue,
        checkpoints: [String] = [], skipped: [String] = [], judge: [String: Double] = [:]
    ) {
        self.id = id
        self.passed = passed
        self.reviewed = reviewed
        self.status = status
        self.error = error
        self.outputs = outputs
        self.expected = expected
        self.checkpoints = checkpoints
        self.skipped = skipped
        self.judge = judge
    }

    /// The instance's value at a dotted path.
    public func output(at path: String) -> JSONValue? { outputs.value(at: path.split(separator: ".")) }
    /// The expected value at a dotted path.
    public func expectedValue(at path: String) -> JSONValue? { expected.value(at: path.split(separator: ".")) }
}

/// A metric's value over a run and its gate.
public struct MetricResult: Sendable, Hashable, Codable {
    /// The metric's name.
    public var name: String
    /// Its kind (`accuracy`, `recall`, ...).
    public var kind: EvalMetric.Kind
    /// The path it reads (nil for `review_rate`).
    public var path: String?
    /// The label of `recall` and `precision`.
    public var label: JSONValue?
    /// The value (nil when no case counted).
    public var value: Double?
    /// How many cases counted.
    public var n: Int
    /// The 95% interval: Wilson's for proportions, a percentile bootstrap otherwise.
    public var ciLow: Double?
    /// The interval's upper end.
    public var ciHigh: Double?
    /// The gate as applied, with the baseline's value when a baseline was compared.
    public var threshold: AppliedThreshold
    /// Whether the gate passed (true when the metric has no gate).
    public var passed: Bool
    /// Whether the gate counts toward the run's verdict (a judge metric whose agreement with
    /// people is below `min_kappa` is reported but not counted).
    public var counted: Bool
    /// Why a gate failed or did not count, for people.
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case name, kind, path, label, value, n, threshold, passed, counted, note
        case ciLow = "ci_low", ciHigh = "ci_high"
    }

    /// Creates a result.
    public init(
        name: String, kind: EvalMetric.Kind, path: String?, label: JSONValue?, value: Double?, n: Int, ciLow: Double?, ciHigh: Double?,
        threshold: AppliedThreshold, passed: Bool, counted: Bool = true, note: String? = nil
    ) {
        self.name = name
        self.kind = kind
        self.path = path
        self.label = label
        self.value = value
        self.n = n
        self.ciLow = ciLow
        self.ciHigh = ciHigh
        self.threshold = threshold
        self.passed = passed
        self.counted = counted
        self.note = note
    }

    /// Encodes every key, `null` where there is no value, so the JSON shape never changes.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(kind, forKey: .kind)
        try container.encode(path, forKey: .path)
        if let label { try container.encode(label, forKey: .label) }
        try container.encode(value, forKey: .value)
        try container.encode(n, forKey: .n)
        try container.encode(ciLow, forKey: .ciLow)
        try container.encode(ciHigh, forKey: .ciHigh)
        try container.encode(threshold, forKey: .threshold)
        try container.encode(passed, forKey: .passed)
        try container.encode(counted, forKey: .counted)
        if let note { try container.encode(note, forKey: .note) }
    }
}

/// A gate as a run applied it.
public struct AppliedThreshold: Sendable, Hashable, Codable {
    /// The bound the value had to reach.
    public var min: Double?
    /// The bound the value had to stay under.
    public var max: Double?
    /// The largest worsening allowed against the baseline.
    public var maxDrop: Double?
    /// The baseline run's value of the same metric (nil: no baseline compared).
    public var baseline: Double?

    enum CodingKeys: String, CodingKey {
        case min, max, baseline
        case maxDrop = "max_drop"
    }

    /// Creates an applied gate.
    public init(_ threshold: EvalThreshold, baseline: Double? = nil) {
        min = threshold.minimum
        max = threshold.maximum
        maxDrop = threshold.maxDrop
        self.baseline = baseline
    }

    /// Encodes every key, `null` where unset.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(min, forKey: .min)
        try container.encode(max, forKey: .max)
        try container.encode(maxDrop, forKey: .maxDrop)
        try container.encode(baseline, forKey: .baseline)
    }
}

/// A finished eval run: everything needed to reproduce it and every case's result.
public struct EvalRunReport: Sendable, Codable {
    /// The store's id (0 until stored).
    public var run: Int64
    /// Whether every counted gate passed.
    public var passed: Bool
    /// The metrics, in rubric order.
    public var metrics: [MetricResult]
    /// The cases, in dataset order.
    public var cases: [CaseResult]
    /// The template evaluated.
    public var template: String
    /// Its version.
    public var version: String
    /// The content hash of its text with its prompts.
    public var templateHash: String
    /// The customer whose config, bindings and gates were used.
    public var customer: String?
    /// The dataset as named.
    public var dataset: String
    /// SHA-256 of the dataset's bytes.
    public var datasetHash: String
    /// The content hash of the effective config.
    public var configHash: String
    /// The model role bindings the run used (`--bind` applied).
    public var bindings: [String: String]
    /// The prompts the template uses, by id (`vertical/name@version`) with their text's hash.
    public var prompts: [String: String]
    /// The baseline run compared (nil: none).
    public var baseline: Int64?
    /// When it started and finished, ms since 1970.
    public var startedAt: Int64
    /// When it finished.
    public var finishedAt: Int64
    /// What started it (`cli`, `api`, `schedule`, `migration`).
    public var trigger: String
    /// How many cases were in flight at once.
    public var concurrency: Int
    /// Counts for people: cases, completed, failed, reviewed.
    public var counts: [String: Int]

    enum CodingKeys: String, CodingKey {
        case run, passed, metrics, cases, template, version, customer, dataset, bindings, prompts, baseline, trigger, concurrency, counts
        case templateHash = "template_hash", datasetHash = "dataset_hash", configHash = "config_hash"
        case startedAt = "started_at", finishedAt = "finished_at"
    }

    /// The members holding times: ms since 1970 in the struct, RFC 3339 text in its JSON (as
    /// every other time Steward prints), ms in runs stored by earlier versions.
    static let timeKeys = ["started_at", "finished_at"]

    /// The run as JSON (what `--json` prints and the store keeps).
    public var jsonValue: JSONValue { Self.printed(Self.json(self)) }

    /// The run without its cases (what lists and trends read).
    public var summaryJSON: JSONValue {
        var copy = self
        copy.cases = []
        guard case .object(var members) = Self.printed(Self.json(copy)) else { return .emptyObject }
        members["cases"] = nil
        return .object(members)
    }

    /// Encoded JSON as printed: times as RFC 3339 text, and `customer` and `baseline` present
    /// (null when there is none).
    static func printed(_ encoded: JSONValue) -> JSONValue {
        guard case .object(var members) = Timestamps.rendering(timeKeys, in: encoded) else { return encoded }
        for key in ["customer", "baseline"] where members[key] == nil { members[key] = .null }
        return .object(members)
    }

    /// Reads a run's JSON (its times as RFC 3339 text, or ms since 1970 as earlier versions stored them).
    /// - Throws: `DecodingError` when it is not a run.
    public init(json: JSONValue) throws {
        self = try JSONDecoder().decode(EvalRunReport.self, from: Data(Timestamps.reading(Self.timeKeys, in: json).jsonBytes))
    }

    /// Creates a report.
    public init(
        run: Int64, passed: Bool, metrics: [MetricResult], cases: [CaseResult], template: String, version: String, templateHash: String,
        customer: String?, dataset: String, datasetHash: String, configHash: String, bindings: [String: String], prompts: [String: String],
        baseline: Int64?, startedAt: Int64, finishedAt: Int64, trigger: String, concurrency: Int, counts: [String: Int]
    ) {
        self.run = run
        self.passed = passed
        self.metrics = metrics
        self.cases = cases
        self.template = template
        self.version = version
        self.templateHash = templateHash
        self.customer = customer
        self.dataset = dataset
        self.datasetHash = datasetHash
        self.configHash = configHash
        self.bindings = bindings
        self.prompts = prompts
        self.baseline = baseline
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.trigger = trigger
        self.concurrency = concurrency
        self.counts = counts
    }

    static func json<T: Encodable>(_ value: T) -> JSONValue {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // Encoding our own plain structs cannot fail; parsing what JSONEncoder wrote cannot either.
        guard let data = try? encoder.encode(value), let parsed = try? JSONValue.parse(String(decoding: data, as: UTF8.self)) else {
            return .emptyObject
        }
        return parsed
    }

    /// Cases per second over the run's wall time.
    public var casesPerSecond: Double {
        let seconds = Double(max(finishedAt - startedAt, 1)) / 1000
        return Double(cases.count) / seconds
    }
}
