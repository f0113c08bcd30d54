import Foundation

/// The texts a retail-banking support desk does not handle, drawn from two real public sets and
/// split so that the held-out part measures what happens on *unseen* topics:
///
/// - CLINC150 (`data/clinc150`): its 200 out-of-scope queries, and the queries of its
///   non-banking domains (travel, kitchen, home, small talk, …) except `bankingAdjacentIntents`.
///   Whole CLINC intents are held out (never a training or calibration text), so a held-out
///   query is about a topic the model never saw as out of scope.
/// - StackFAQ (`data/stackfaq/queries-dev.jsonl`): software questions; whole articles are held
///   out the same way.
///
/// The split is drawn with `SplitMix64` from one seed and is the same on every machine.
public struct OutOfScopeData: Sendable {
    /// Texts the model is fitted on, labelled `label`.
    public let training: [String]
    /// Texts used with the banking calibration rows to choose hyper-parameters and the temperature.
    public let calibration: [String]
    /// Texts only evaluated.
    public let heldOut: [String]
    /// Which source each held-out text came from ("clinc-oos", "clinc-domain", "stackfaq"), in order.
    public let heldOutSources: [String]
    /// The CLINC intents whose queries are held out, sorted.
    public let heldOutIntents: [String]
    /// The StackFAQ articles whose queries are held out, sorted.
    public let heldOutArticles: [String]

    /// The label the model gives out-of-scope texts.
    public static let label = "out_of_scope"

    /// CLINC intents outside its `banking` and `credit_cards` domains that a bank's support desk
    /// does answer (exchange rates, salary deposits, a lost phone, the account's name, …); their
    /// queries are never used as out-of-scope examples.
    public static let bankingAdjacentIntents: Set<String> = [
        "exchange_rate", "travel_notification", "international_visa", "direct_deposit", "payday", "income", "taxes",
        "rollover_401k", "w2", "find_phone", "user_name", "change_user_name",
    ]

    /// The CLINC domains that overlap banking77's topics (never out of scope).
    public static let bankingDomains: Set<String> = ["banking", "credit_cards"]

    /// How the texts are split.
    public struct Parameters: Sendable {
        /// Share of the usable CLINC intents (and of the StackFAQ articles) held out whole.
        public var heldOutGroupFraction = 0.2
        /// Share of them kept for calibration.
        public var calibrationGroupFraction = 0.1
        /// Queries taken from each training (and calibration) CLINC intent; the rest are unused,
        /// so the 130 CLINC intents do not outweigh the 77 banking intents.
        public var queriesPerIntent = 20
        /// Shares of CLINC's out-of-scope queries held out and kept for calibration.
        public var heldOutQueryFraction = 0.3
        public var calibrationQueryFraction = 0.1

        /// The defaults.
        public init() {}
    }

    /// Reads CLINC150 from `clinc` and the StackFAQ queries from `stackfaq`, and splits them.
    ///
    /// - Throws: `BankingIntentError` naming the file when one is missing or malformed.
    public static func load(clinc: URL, stackfaq: URL, seed: UInt64, parameters: Parameters = .init()) throws(BankingIntentError) -> OutOfScopeData {
        let domains: [String: [String]] = try decodeJSON(clinc.appendingPathComponent("domains.json"))
        let oos: [String: [[String]]] = try decodeJSON(clinc.appendingPathComponent("oos_train_val.json"))
        struct Query: Decodable { let text: String; let intent: String }
        let queries: [Query] = try decodeLines(clinc.appendingPathComponent("in_scope_train_val.jsonl"))
        struct FAQQuery: Decodable { let query: String; let article: String }
        let faq: [FAQQuery] = try decodeLines(stackfaq.appendingPathComponent("queries-dev.jsonl"))

        var generator = SplitMix64(seed: seed)
        // Usable CLINC intents, sorted so the draw never depends on dictionary order.
        var intents = domains.filter { !bankingDomains.contains($0.key) }.values.flatMap { $0 }
            .filter { !bankingAdjacentIntents.contains($0) }.sorted()
        generator.shuffle(&intents)
        let heldIntentCount = Int((Double(intents.count) * parameters.heldOutGroupFraction).rounded())
        let calibrationIntentCount = Int((Double(intents.count) * parameters.calibrationGroupFraction).rounded())
        let heldIntents = Set(intents.prefix(heldIntentCount))
        let calibrationIntents = Set(intents.dropFirst(heldIntentCount).prefix(calibrationIntentCount))
        let usable = Set(intents)

        var training: [String] = [], calibration: [String] = [], heldOut: [String] = [], sources: [String] = []
        var byIntent: [String: [String]] = [:]
        for query in queries where usable.contains(query.intent) { byIntent[query.intent, default: []].append(query.text) }
        for intent in byIntent.keys.sorted() {
            var texts = byIntent[intent]!
            if heldIntents.contains(intent) {
                heldOut += texts
                sources += Array(repeating: "clinc-domain", count: texts.count)
                continue
            }
            generator.shuffle(&texts)
            if calibrationIntents.contains(intent) {
                calibration += texts.prefix(parameters.queriesPerIntent)
            } else {
                training += texts.prefix(parameters.queriesPerIntent)
            }
        }

        var outOfScope = oos.keys.sorted().flatMap { key in oos[key]!.compactMap(\.first) }
        generator.shuffle(&outOfScope)
        let heldQueryCount = Int((Double(outOfScope.count) * parameters.heldOutQueryFraction).rounded())
        let calibrationQueryCount = Int((Double(outOfScope.count) * parameters.calibrationQueryFraction).rounded())
        heldOut += outOfScope.prefix(heldQueryCount)
        sources += Array(repeating: "clinc-oos", count: min(heldQueryCount, outOfScope.count))
        calibration += outOfScope.dropFirst(heldQueryCount).prefix(calibrationQueryCount)
        training += outOfScope.dropFirst(heldQueryCount + calibrationQueryCount)

        var articles = Array(Set(faq.map(\.article))).sorted()
        generator.shuffle(&articles)
        let heldArticleCount = Int((Double(articles.count) * parameters.heldOutGroupFraction * 2).rounded())
        let calibrationArticleCount = Int((Double(articles.count) * parameters.calibrationGroupFraction).rounded())
        let heldArticles = Set(articles.prefix(heldArticleCount))
        let calibrationArticles = Set(articles.dropFirst(heldArticleCount).prefix(calibrationArticleCount))
        for query in faq {
            if heldArticles.contains(query.article) {
                heldOut.append(query.query)
                sources.append("stackfaq")
            } else if calibrationArticles.contains(query.article) {
                calibration.append(query.query)
            } else {
                training.append(query.query)
            }
        }
        return OutOfScopeData(
            training: training, calibration: calibration, heldOut: heldOut, heldOutSources: sources,
            heldOutIntents: heldIntents.sorted(), heldOutArticles: heldArticles.sorted())
    }

    static func decodeJSON<T: Decodable>(_ url: URL) throws(BankingIntentError) -> T {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw BankingIntentError("cannot read \(url.path)") }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw BankingIntentError("\(url.path): \(error)")
        }
    }

    static func decodeLines<T: Decodable>(_ url: URL) throws(BankingIntentError) -> [T] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw BankingIntentError("cannot read \(url.path)") }
        let decoder = JSONDecoder()
        var values: [T] = []
        for (number, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() where !line.allSatisfy({ $0 == 32 || $0 == 13 || $0 == 9 }) {
            do {
                values.append(try decoder.decode(T.self, from: Data(line)))
            } catch {
                throw BankingIntentError("\(url.path) line \(number + 1): \(error)")
            }
        }
        return values
    }
}
