import Foundation
import StewardJSON
import StewardPlugins

/// One labelled query: the text a user typed and the id of the article that answers it.
public struct LabelledQuery: Sendable, Hashable {
    /// The query text.
    public let query: String
    /// The id of the right article.
    public let article: String

    /// Creates a labelled query.
    public init(query: String, article: String) {
        self.query = query
        self.article = article
    }

    /// Reads a JSON-lines file of `{"query": "...", "article": "..."}`.
    public static func load(from url: URL) throws(KnowledgeBaseError) -> [LabelledQuery] {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw KnowledgeBaseError("cannot read \(url.path): \(error)")
        }
        var queries: [LabelledQuery] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            let value: JSONValue
            do {
                value = try JSONValue.parse(String(line))
            } catch {
                throw KnowledgeBaseError("\(url.path):\(number + 1): \(error)")
            }
            guard let query = value["query"]?.stringValue, let article = value["article"]?.stringValue else {
                throw KnowledgeBaseError("\(url.path):\(number + 1): expected {\"query\": string, \"article\": string}")
            }
            queries.append(LabelledQuery(query: query, article: article))
        }
        return queries
    }
}

/// The BM25F parameters `kb.search` accepts in its step config.
public struct RankingParameters: Sendable, Hashable, CustomStringConvertible {
    /// Term-frequency saturation.
    public var k1: Double
    /// Length normalisation of the title field, 0...1.
    public var bTitle: Double
    /// Length normalisation of the answers field, 0...1.
    public var bBody: Double
    /// Weight of a title occurrence relative to one in the answers.
    public var titleWeight: Double

    /// Creates a parameter set.
    public init(k1: Double, bTitle: Double, bBody: Double, titleWeight: Double) {
        self.k1 = k1
        self.bTitle = bTitle
        self.bBody = bBody
        self.titleWeight = titleWeight
    }

    /// The plugin's built-in defaults, as `kb_default_params` in Plugins/kb/kb_index.c sets them
    /// (a test checks the two agree).
    public static let defaults = RankingParameters(k1: 6, bTitle: 0.5, bBody: 1, titleWeight: 10)

    /// The settings cross-validation chooses from: 5 x 3 x 5 = 75, over the three parameters
    /// that matter (b_title moves top-3 by less than one query in 625, so it stays at 0.5).
    public static let grid: [RankingParameters] = [1.2, 2, 4, 6, 10].flatMap { k1 in
        [0.5, 0.75, 1.0].flatMap { bBody in
            [1.0, 3, 5, 10, 20].map { RankingParameters(k1: k1, bTitle: 0.5, bBody: bBody, titleWeight: $0) }
        }
    }

    /// The step config carrying these parameters and the articles file.
    public func config(articles: String) -> JSONValue {
        [
            "articles": .string(articles), "k1": .double(k1), "b_title": .double(bTitle), "b_body": .double(bBody),
            "title_weight": .double(titleWeight),
        ]
    }

    /// "k1=6 b_title=0.5 b_body=1 title_weight=10".
    public var description: String {
        "k1=\(Self.format(k1)) b_title=\(Self.format(bTitle)) b_body=\(Self.format(bBody)) title_weight=\(Self.format(titleWeight))"
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

/// Ranking quality over a set of queries.
public struct RankingMetrics: Sendable, Equatable, CustomStringConvertible {
    /// How many queries.
    public let count: Int
    /// Queries whose right article came first.
    public let top1Hits: Int
    /// Queries whose right article was in the first three.
    public let top3Hits: Int
    /// Sum of 1/rank over the queries whose article was in the first ten (MRR@10 numerator).
    public let reciprocalRankSum: Double

    /// Metrics from the rank (1-based) of the right article for each query, nil when it was
    /// not in the first ten.
    public init(ranks: some Sequence<Int?>) {
        var count = 0, top1 = 0, top3 = 0
        var sum = 0.0
        for rank in ranks {
            count += 1
            guard let rank else { continue }
            if rank == 1 { top1 += 1 }
            if rank <= 3 { top3 += 1 }
            if rank <= 10 { sum += 1 / Double(rank) }
        }
        self.count = count
        top1Hits = top1
        top3Hits = top3
        reciprocalRankSum = sum
    }

    /// Share of queries answered by the first result.
    public var top1: Double { count == 0 ? 0 : Double(top1Hits) / Double(count) }
    /// Share of queries answered within the first three results.
    public var top3: Double { count == 0 ? 0 : Double(top3Hits) / Double(count) }
    /// Mean reciprocal rank, counting ranks past 10 as 0.
    public var mrr: Double { count == 0 ? 0 : reciprocalRankSum / Double(count) }

    /// "top-1 0.7856  top-3 0.9472  MRR@10 0.8661  (625 queries)".
    public var description: String {
        "top-1 \(Self.format(top1))  top-3 \(Self.format(top3))  MRR@10 \(Self.format(mrr))  (\(count) queries)"
    }

    static func format(_ value: Double) -> String {
        String(format: "%.4f", value)
    }
}

/// One fold of two-fold cross-validation: parameters chosen on one half, measured on the other.
public struct CrossValidationFold: Sendable {
    /// Which half tuned ("even lines" / "odd lines").
    public let tunedOn: String
    /// The setting with the best top-3 (then MRR) on the tuning half.
    public let chosen: RankingParameters
    /// Its metrics on the tuning half.
    public let tuning: RankingMetrics
    /// Its metrics on the other half: the honest figure.
    public let heldOut: RankingMetrics
}

/// Two-fold cross-validation of the parameter choice.
public struct CrossValidation: Sendable {
    /// The two folds.
    public let folds: [CrossValidationFold]

    /// Top-3 over all queries, each scored with the parameters chosen without it.
    public var top3: Double {
        let hits = folds.reduce(0) { $0 + $1.heldOut.top3Hits }
        let count = folds.reduce(0) { $0 + $1.heldOut.count }
        return count == 0 ? 0 : Double(hits) / Double(count)
    }
}

/// Per-call latency figures in microseconds.
public struct LatencyReport: Sendable, CustomStringConvertible {
    /// Number of timed calls.
    public let calls: Int
    /// Mean.
    public let mean: Double
    /// Median.
    public let p50: Double
    /// 99th percentile.
    public let p99: Double

    /// Summarises durations in microseconds.
    public init(microseconds: [Double]) {
        let sorted = microseconds.sorted()
        calls = sorted.count
        mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
        p50 = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
    }

    /// "mean 12.3 µs  p50 11.0 µs  p99 30.2 µs  (3125 calls)".
    public var description: String {
        String(format: "mean %.1f µs  p50 %.1f µs  p99 %.1f µs  (%d calls)", mean, p50, p99, calls)
    }
}

/// Runs labelled queries through `kb.search` in a loaded plugin, the way the engine calls it.
public struct KnowledgeBaseEvaluator: Sendable {
    /// The registry holding the `kb` plugin.
    public let registry: PluginRegistry
    /// The articles file passed in the step config.
    public let articles: String

    /// Loads the plugin library at `plugin` through the host.
    public init(plugin: String, articles: String) throws {
        registry = try PluginRegistry(loading: [plugin])
        self.articles = articles
    }

    /// The 1-based rank of the right article among the first ten results of each query (nil
    /// when it is not there), in query order. With `parameters` nil the step config names only
    /// the articles file, so the plugin ranks with its built-in defaults.
    public func ranks(of queries: [LabelledQuery], parameters: RankingParameters? = nil) throws -> [Int?] {
        let config = parameters?.config(articles: articles) ?? ["articles": .string(articles)]
        return try queries.enumerated().map { index, query in
            let output = try registry.call(
                "kb.search", input: ["query": .string(query.query), "k": 10], config: config,
                idempotencyKey: "eval-\(index)/search/1", attempt: 1)
            guard let results = output["results"]?.arrayValue else {
                throw KnowledgeBaseError("kb.search returned no \"results\" array: \(output)")
            }
            return results.firstIndex { $0["id"]?.stringValue == query.article }.map { $0 + 1 }
        }
    }

    /// Metrics of one parameter setting (nil: the plugin's built-in defaults) over the queries.
    public func evaluate(_ queries: [LabelledQuery], parameters: RankingParameters? = nil) throws -> RankingMetrics {
        RankingMetrics(ranks: try ranks(of: queries, parameters: parameters))
    }

    /// Two-fold cross-validation: the queries at even positions of the list and those at odd
    /// positions each choose the best setting of `grid` (top-3, then MRR), which is then scored
    /// on the other half. Every setting is run once over all queries.
    public func crossValidate(_ queries: [LabelledQuery], grid: [RankingParameters] = RankingParameters.grid) throws -> CrossValidation {
        let halves: [(name: String, indices: [Int])] = [
            ("even lines", Array(stride(from: 0, to: queries.count, by: 2))),
            ("odd lines", Array(stride(from: 1, to: queries.count, by: 2))),
        ]
        let table = try grid.map { parameters in (parameters, try ranks(of: queries, parameters: parameters)) }
        func metrics(_ ranks: [Int?], _ indices: [Int]) -> RankingMetrics { RankingMetrics(ranks: indices.map { ranks[$0] }) }
        var folds: [CrossValidationFold] = []
        for (tune, test) in [(0, 1), (1, 0)] {
            var best: (RankingParameters, [Int?])? = nil
            var bestMetrics: RankingMetrics? = nil
            for (parameters, ranks) in table {
                let candidate = metrics(ranks, halves[tune].indices)
                if let current = bestMetrics,
                   (candidate.top3Hits, candidate.reciprocalRankSum) <= (current.top3Hits, current.reciprocalRankSum) {
                    continue
                }
                best = (parameters, ranks)
                bestMetrics = candidate
            }
            guard let (parameters, ranks) = best, let tuning = bestMetrics else {
                throw KnowledgeBaseError("cross-validation needs at least one parameter setting")
            }
            folds.append(CrossValidationFold(
                tunedOn: halves[tune].name, chosen: parameters, tuning: tuning, heldOut: metrics(ranks, halves[test].indices)))
        }
        return CrossValidation(folds: folds)
    }

    /// Times `rounds` passes of the queries with k = 3 and the default parameters, after one
    /// untimed warm-up pass: through `PluginRegistry.call` (JSON values in and out, as the
    /// runtime calls a step), and through `PluginStep.callRaw` (pre-encoded bytes: the C
    /// step plus the ABI crossing, without the host's JSON encoding and parsing).
    public func latency(_ queries: [LabelledQuery], rounds: Int) throws -> (call: LatencyReport, raw: LatencyReport) {
        guard let step = registry.step("kb.search") else { throw KnowledgeBaseError("no kb.search step loaded") }
        let config: JSONValue = ["articles": .string(articles)]
        let inputs: [JSONValue] = queries.map { ["query": .string($0.query), "k": 3] }
        let clock = ContinuousClock()
        func microseconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
        }
        var viaCall: [Double] = []
        for round in 0...rounds {
            for (index, input) in inputs.enumerated() {
                let start = clock.now
                _ = try registry.call("kb.search", input: input, config: config, idempotencyKey: "lat-\(index)/search/1", attempt: 1)
                if round > 0 { viaCall.append(microseconds(clock.now - start)) }
            }
        }
        let configBytes = config.jsonBytes
        let inputBytes = inputs.map(\.jsonBytes)
        var viaRaw: [Double] = []
        for round in 0...rounds {
            for (index, bytes) in inputBytes.enumerated() {
                let elapsed = try bytes.withUnsafeBytes { input in
                    try configBytes.withUnsafeBytes { config in
                        let start = clock.now
                        _ = try step.callRaw(input: input, config: config, idempotencyKey: "raw-\(index)/search/1", attempt: 1)
                        return clock.now - start
                    }
                }
                if round > 0 { viaRaw.append(microseconds(elapsed)) }
            }
        }
        return (LatencyReport(microseconds: viaCall), LatencyReport(microseconds: viaRaw))
    }
}
