import Foundation

/// One label and its calibrated probability.
public struct ScoredLabel: Sendable, Equatable {
    /// The intent.
    public let label: String
    /// Calibrated probability in [0, 1].
    public let confidence: Double

    /// Creates a scored label.
    public init(label: String, confidence: Double) {
        self.label = label
        self.confidence = confidence
    }
}

/// A model's answer for one text.
public struct IntentPrediction: Sendable, Equatable {
    /// The most likely intent.
    public let label: String
    /// Its calibrated probability.
    public let confidence: Double
    /// The most likely intents, best first, the top one included.
    public let alternatives: [ScoredLabel]
    /// The number of words the tokenizer found.
    public let wordCount: Int
    /// The calibrated probability that the text is none of the intents, for a model trained
    /// with an out-of-scope class (version 3); nil otherwise. `label` and `alternatives` never
    /// name that class, and their confidences are shares of the same distribution, so
    /// `confidence + outOfScopeProbability <= 1`.
    public let outOfScopeProbability: Double?
}

/// A trained intent classifier: feature space, linear scorer and confidence temperature.
/// Immutable, so one instance may serve any number of threads.
public final class IntentModel: Sendable {
    /// The algorithm behind the scores.
    public enum Kind: String, Sendable, Codable {
        /// Multinomial naive Bayes (adapter version 1).
        case naiveBayes = "multinomial-naive-bayes"
        /// Softmax logistic regression (adapter version 2).
        case logisticRegression = "logistic-regression"
    }

    /// Facts about the model stored beside its weights.
    public struct Metadata: Sendable, Codable, Equatable {
        /// Adapter id, "banking-intent".
        public var id: String
        /// Adapter version, "1.0.0" or "2.0.0".
        public var version: String
        /// The algorithm.
        public var kind: Kind
        /// The labels; class `i` is `labels[i]`.
        public var labels: [String]
        /// The softmax temperature fitted on the calibration rows.
        public var temperature: Double
        /// Hyper-parameters, by name (e.g. "alpha", "l2", "min_df").
        public var hyperparameters: [String: Double]
        /// The seed of the data split the model was trained on.
        public var splitSeed: UInt64
        /// `[lowest, highest]` character n-gram length of the features, absent for word terms only.
        public var characterNGrams: [Int]?
        /// The label of the out-of-scope class, when the model has one (it is in `labels`).
        public var outOfScopeLabel: String?

        enum CodingKeys: String, CodingKey {
            case id, version, kind, labels, temperature, hyperparameters
            case splitSeed = "split_seed"
            case characterNGrams = "character_ngrams"
            case outOfScopeLabel = "out_of_scope_label"
        }

        /// Creates metadata.
        public init(
            id: String, version: String, kind: Kind, labels: [String], temperature: Double,
            hyperparameters: [String: Double], splitSeed: UInt64, characterNGrams: ClosedRange<Int>? = nil,
            outOfScopeLabel: String? = nil
        ) {
            self.characterNGrams = characterNGrams.map { [$0.lowerBound, $0.upperBound] }
            self.outOfScopeLabel = outOfScopeLabel
            self.id = id
            self.version = version
            self.kind = kind
            self.labels = labels
            self.temperature = temperature
            self.hyperparameters = hyperparameters
            self.splitSeed = splitSeed
        }
    }

    /// What the model is.
    public let metadata: Metadata
    /// The TF-IDF feature space.
    public let features: FeatureSpace
    /// The linear scorer.
    public let scorer: LinearScorer
    /// The class index of the out-of-scope label, if the model has one.
    public let outOfScopeIndex: Int?

    /// Creates a model, checking that its parts agree in size.
    public init(metadata: Metadata, features: FeatureSpace, scorer: LinearScorer) throws(BankingIntentError) {
        guard scorer.classCount == metadata.labels.count, scorer.featureCount == features.count else {
            throw BankingIntentError(
                "the scorer has \(scorer.classCount) classes and \(scorer.featureCount) features, but the model has \(metadata.labels.count) labels and \(features.count) terms")
        }
        guard metadata.temperature.isFinite, metadata.temperature > 0 else {
            throw BankingIntentError("the temperature \(metadata.temperature) is not a positive number")
        }
        if let label = metadata.outOfScopeLabel {
            guard let index = metadata.labels.firstIndex(of: label) else {
                throw BankingIntentError("the out-of-scope label '\(label)' is not one of the model's labels")
            }
            outOfScopeIndex = index
        } else {
            outOfScopeIndex = nil
        }
        let lengths = Self.characterNGrams(metadata)
        guard lengths == features.characterNGrams else {
            throw BankingIntentError(
                "the metadata's character n-grams \(metadata.characterNGrams.map { "\($0)" } ?? "none") do not match the feature space's \(features.characterNGrams.map { "\($0)" } ?? "none")")
        }
        self.metadata = metadata
        self.features = features
        self.scorer = scorer
    }

    /// The metadata's character n-gram lengths as a range (nil when absent or malformed).
    public static func characterNGrams(_ metadata: Metadata) -> ClosedRange<Int>? {
        metadata.characterNGrams.flatMap { $0.count == 2 && $0[0] >= 1 && $0[0] <= $0[1] ? $0[0]...$0[1] : nil }
    }

    /// Raw class scores (before temperature and softmax).
    public func scores(_ text: String) -> [Double] {
        scorer.scores(features.vector(text))
    }

    /// Calibrated class probabilities, in label order.
    public func probabilities(_ text: String) -> [Double] {
        Calibration.softmax(scores(text), temperature: metadata.temperature)
    }

    /// The top `k` intents of `text` with calibrated confidences.
    public func predict(_ text: String, top k: Int = 5) -> IntentPrediction {
        let probabilities = probabilities(text)
        // Highest probability first; ties broken by label order so the answer is stable.
        let ranked = probabilities.indices.filter { $0 != outOfScopeIndex }
            .sorted { probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }
        let alternatives = ranked.prefix(max(1, min(k, ranked.count))).map {
            ScoredLabel(label: metadata.labels[$0], confidence: probabilities[$0])
        }
        return IntentPrediction(
            label: alternatives[0].label, confidence: alternatives[0].confidence, alternatives: alternatives,
            wordCount: Tokenizer.words(text).count, outOfScopeProbability: outOfScopeIndex.map { probabilities[$0] })
    }
}
