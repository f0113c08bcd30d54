// banking-intent-train: trains the three versions of the banking-intent adapter from
// data/banking77/train.csv (version 3 also from the out-of-scope texts of data/clinc150 and
// data/stackfaq) and writes their weights to Plugins/banking-intent/models/.
//
//     swift build -c release --product banking-intent-train
//     .build/release/banking-intent-train            # train, write, print held-out figures
//     .build/release/banking-intent-train --evaluate # only evaluate the model files on disk
//
// Paths default to the repository layout relative to the current directory. Everything is
// deterministic: the same data and seed give byte-identical model files.
import BankingIntentModel
import Foundation

struct Options {
    var data = "data/banking77"
    var clinc = "data/clinc150"
    var stackfaq = "data/stackfaq"
    var output = "Plugins/banking-intent/models"
    var seed: UInt64 = 20_200_377
    var evaluateOnly = false
    var predict: [String] = []

    static let usage = """
        usage: banking-intent-train [--data DIR] [--clinc DIR] [--stackfaq DIR] [--out DIR] [--seed N] [--evaluate] [--predict TEXT]...
          --data DIR   folder with train.csv and categories.json (default data/banking77)
          --clinc DIR  CLINC150's out-of-scope and other-domain queries (default data/clinc150)
          --stackfaq DIR  StackFAQ's queries-dev.jsonl (default data/stackfaq)
          --out DIR    where model files are written or read (default Plugins/banking-intent/models)
          --seed N     seed of the stratified split (default 20200377)
          --evaluate   do not train: evaluate the model files in --out on the held-out rows
          --predict T  do not train: print every version's top 5 intents for the text T
        """

    init(arguments: [String]) throws(BankingIntentError) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            func value() throws(BankingIntentError) -> String {
                guard let value = iterator.next() else { throw BankingIntentError("\(argument) needs a value\n\(Options.usage)") }
                return value
            }
            switch argument {
            case "--data": data = try value()
            case "--clinc": clinc = try value()
            case "--stackfaq": stackfaq = try value()
            case "--out": output = try value()
            case "--seed":
                let text = try value()
                guard let parsed = UInt64(text) else { throw BankingIntentError("--seed expects an unsigned integer, got '\(text)'") }
                seed = parsed
            case "--evaluate": evaluateOnly = true
            case "--predict": predict.append(try value())
            case "-h", "--help":
                print(Options.usage)
                exit(0)
            default: throw BankingIntentError("unknown argument '\(argument)'\n\(Options.usage)")
            }
        }
    }
}

/// The split every figure refers to: 12% held out, 8% for calibration and selection.
let heldOutFraction = 0.12
let calibrationFraction = 0.08
let minimumDocumentFrequency = 2
let alphaGrid = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3]
let l2Grid = [1e-6, 3e-6, 1e-5, 3e-5, 1e-4]
/// Version 3: word terms plus character 2- to 5-grams, and an out-of-scope class.
let characterNGrams = 2...5
let v3L2Grid = [3e-6, 1e-5]
/// Every version this trainer writes.
let versions = ["1.0.0", "2.0.0", "3.0.0"]

func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func format(_ value: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", value) }

func report(_ name: String, _ evaluation: Evaluation) {
    print("  \(name): accuracy \(format(evaluation.accuracy)), macro-F1 \(format(evaluation.macroF1)), ECE \(format(evaluation.expectedCalibrationError)), NLL \(format(evaluation.negativeLogLikelihood)) on \(evaluation.count) rows")
    for figure in evaluation.thresholds {
        print("    confidence < \(format(figure.threshold, 1)): \(format(figure.shareBelow * 100, 1))% of tickets go to a person; accuracy on the rest \(format(figure.accuracyAbove))")
    }
}

func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    try (encoder.encode(value) + Data("\n".utf8)).write(to: url)
}

/// `split.json`: which rows of train.csv are the calibration and held-out parts (0-based,
/// counting data rows after the header); every other row is training.
struct SplitFile: Codable {
    var seed: UInt64
    var source: String
    var rows: Int
    var calibration: [Int]
    var heldOut: [Int]
    /// Version 3's held-out out-of-scope texts: every query of these CLINC intents and StackFAQ
    /// articles, and these CLINC out-of-scope queries.
    var outOfScope: OutOfScopeSplit

    struct OutOfScopeSplit: Codable {
        var heldOutIntents: [String]
        var heldOutArticles: [String]
        var heldOutQueries: [String]

        enum CodingKeys: String, CodingKey {
            case heldOutIntents = "held_out_clinc_intents"
            case heldOutArticles = "held_out_stackfaq_articles"
            case heldOutQueries = "held_out_clinc_oos_queries"
        }
    }

    enum CodingKeys: String, CodingKey {
        case seed, source, rows, calibration
        case heldOut = "held_out"
        case outOfScope = "out_of_scope"
    }
}

/// What the trainer records next to the weights (no timings, so the file is reproducible).
struct MetricsFile: Codable {
    var seed: UInt64
    var trainingRows: Int
    var calibrationRows: Int
    var heldOutRows: Int
    var featureCount: Int
    var outOfScopeTrainingTexts: Int
    var models: [String: ModelFigures]
    var outOfScope: ScopeFigures?

    struct ModelFigures: Codable {
        var kind: String
        var hyperparameters: [String: Double]
        var temperature: Double
        var calibration: Evaluation
        var heldOut: Evaluation
        /// Held-out ECE with temperature 1, to show what calibration bought.
        var heldOutECEUncalibrated: Double
        var fileBytes: Int
        var featureCount: Int

        enum CodingKeys: String, CodingKey {
            case kind, hyperparameters, temperature, calibration
            case featureCount = "feature_count"
            case heldOut = "held_out"
            case heldOutECEUncalibrated = "held_out_ece_uncalibrated"
            case fileBytes = "file_bytes"
        }
    }

    enum CodingKeys: String, CodingKey {
        case seed, models
        case trainingRows = "training_rows"
        case calibrationRows = "calibration_rows"
        case heldOutRows = "held_out_rows"
        case featureCount = "feature_count"
        case outOfScopeTrainingTexts = "out_of_scope_training_texts"
        case outOfScope = "out_of_scope"
    }
}

/// Version 3's figures beyond `Evaluation`: the out-of-scope texts and the triage gates.
struct ScopeFigures: Codable {
    var heldOutTexts: Int
    var heldOutBySource: [String: Int]
    var heldOutIntents: [String]
    /// Share of the held-out out-of-scope texts whose out-of-scope probability is at least 0.5.
    var detected: Double
    /// Share of the held-out banking texts whose out-of-scope probability is at least 0.5.
    var inScopeFlagged: Double
    var gates: [ScopeFigure]

    enum CodingKeys: String, CodingKey {
        case detected, gates
        case heldOutTexts = "held_out_texts"
        case heldOutBySource = "held_out_by_source"
        case heldOutIntents = "held_out_intents"
        case inScopeFlagged = "in_scope_flagged"
    }

    init(model: IntentModel, banking: [LabelledText], outOfScope: OutOfScopeData) {
        let inScope = banking.map { (model.predict($0.text, top: 3), $0.label) }
        let held = outOfScope.heldOut.map { model.predict($0, top: 3) }
        heldOutTexts = held.count
        heldOutBySource = Dictionary(outOfScope.heldOutSources.map { ($0, 1) }, uniquingKeysWith: +)
        heldOutIntents = outOfScope.heldOutIntents
        detected = Double(held.filter { ($0.outOfScopeProbability ?? 0) >= 0.5 }.count) / Double(max(held.count, 1))
        inScopeFlagged = Double(inScope.filter { ($0.0.outOfScopeProbability ?? 0) >= 0.5 }.count) / Double(max(inScope.count, 1))
        gates = [0.5, 0.6, 0.7].map { ScopeFigure(outOfScopeThreshold: 0.5, confidenceThreshold: $0, inScope: inScope, outOfScope: held) }
    }

    func report() {
        print("  out of scope: \(heldOutTexts) held-out texts (\(heldOutBySource.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))), \(heldOutIntents.count) CLINC intents never seen in training")
        print("    out-of-scope probability >= 0.5 on \(format(detected * 100, 1))% of them, and on \(format(inScopeFlagged * 100, 1))% of the banking held-out rows")
        for gate in gates {
            print("    gates oos < \(format(gate.outOfScopeThreshold, 1)) and confidence >= \(format(gate.confidenceThreshold, 1)): \(format(gate.outOfScopeAnswered * 100, 2))% of out-of-scope texts answered; \(format(gate.inScopeHeld * 100, 1))% of banking rows held for a person, accuracy on the rest \(format(gate.accuracyAnswered))")
        }
    }
}

/// The figures of one model on the banking rows: for a model with an out-of-scope class, its
/// 77 in-scope probabilities (what the plugin's label and confidence come from).
func evaluate(_ model: IntentModel, rows: [LabelledText], labels: [String]) -> Evaluation {
    let classIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
    return Evaluation(
        probabilities: rows.map { Array(model.probabilities($0.text).prefix(labels.count)) }, labels: rows.map { classIndex[$0.label]! },
        classCount: labels.count)
}

func run() throws {
    let options = try Options(arguments: Array(CommandLine.arguments.dropFirst()))
    let outputURL = URL(fileURLWithPath: options.output)
    if !options.predict.isEmpty {
        for version in versions {
            let model = try ModelFile.read(path: outputURL.appendingPathComponent(ModelFile.fileName(version: version)).path)
            for text in options.predict {
                let prediction = model.predict(text)
                let top = prediction.alternatives.map { "\($0.label) \(format($0.confidence, 3))" }.joined(separator: ", ")
                let scope = prediction.outOfScopeProbability.map { "; out of scope \(format($0, 3))" } ?? ""
                print("\(version) \(text.debugDescription): \(top)\(scope)")
            }
        }
        return
    }
    let dataset = try Dataset.load(directory: URL(fileURLWithPath: options.data))
    let split = DataSplit.stratified(dataset, seed: options.seed, heldOutFraction: heldOutFraction, calibrationFraction: calibrationFraction)
    let outOfScope = try OutOfScopeData.load(
        clinc: URL(fileURLWithPath: options.clinc), stackfaq: URL(fileURLWithPath: options.stackfaq), seed: options.seed)
    let labels = dataset.labels
    let classIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
    let heldOutRows = split.heldOut.map { dataset.rows[$0] }
    print("banking77: \(dataset.rows.count) rows, \(labels.count) intents; split seed \(options.seed): training \(split.training.count), calibration \(split.calibration.count), held-out \(split.heldOut.count)")
    print("out of scope (CLINC150, StackFAQ): training \(outOfScope.training.count), calibration \(outOfScope.calibration.count), held-out \(outOfScope.heldOut.count)")

    if options.evaluateOnly {
        for version in versions {
            let path = outputURL.appendingPathComponent(ModelFile.fileName(version: version)).path
            let model = try ModelFile.read(path: path)
            guard model.metadata.splitSeed == options.seed else {
                throw BankingIntentError("\(path) was trained on the split with seed \(model.metadata.splitSeed), not \(options.seed); pass --seed \(model.metadata.splitSeed)")
            }
            let start = ContinuousClock.now
            let evaluation = evaluate(model, rows: heldOutRows, labels: labels)
            let perCall = seconds(since: start) / Double(heldOutRows.count) * 1e6
            print("\(version) (\(model.metadata.kind.rawValue)), read from \(path):")
            report("held-out", evaluation)
            print("    in-process prediction: \(format(perCall, 1)) µs per ticket")
            if model.outOfScopeIndex != nil { ScopeFigures(model: model, banking: heldOutRows, outOfScope: outOfScope).report() }
        }
        return
    }

    let totalStart = ContinuousClock.now
    let trainingRows = split.training.map { dataset.rows[$0] }
    let calibrationRows = split.calibration.map { dataset.rows[$0] }
    let features = FeatureSpace.fit(trainingRows.map(\.text), minimumDocumentFrequency: minimumDocumentFrequency)
    let trainingVectors = trainingRows.map { features.vector($0.text) }
    let trainingLabels = trainingRows.map { classIndex[$0.label]! }
    let calibrationVectors = calibrationRows.map { features.vector($0.text) }
    let calibrationLabels = calibrationRows.map { classIndex[$0.label]! }
    print("features: \(features.count) terms (word unigrams + bigrams seen in >= \(minimumDocumentFrequency) training texts)")

    /// Picks the candidate with the best calibration accuracy (then lowest NLL), fits its temperature.
    func select(
        _ name: String, _ candidates: [(String, Double, LinearScorer)], vectors: [SparseVector], labels truth: [Int], classCount: Int
    ) -> (hyper: Double, scorer: LinearScorer, temperature: Double) {
        var best: (hyper: Double, scorer: LinearScorer, temperature: Double, accuracy: Double, nll: Double)?
        for (label, hyper, scorer) in candidates {
            let scores = vectors.map { scorer.scores($0) }
            let temperature = Calibration.fitTemperature(scores: scores, labels: truth)
            let evaluation = Evaluation(
                probabilities: scores.map { Calibration.softmax($0, temperature: temperature) }, labels: truth, classCount: classCount)
            print("  \(name) \(label): calibration accuracy \(format(evaluation.accuracy)), NLL \(format(evaluation.negativeLogLikelihood)), temperature \(format(temperature, 3))")
            if best == nil || evaluation.accuracy > best!.accuracy
                || (evaluation.accuracy == best!.accuracy && evaluation.negativeLogLikelihood < best!.nll)
            {
                best = (hyper, scorer, temperature, evaluation.accuracy, evaluation.negativeLogLikelihood)
            }
        }
        return (best!.hyper, best!.scorer, best!.temperature)
    }

    func fitLogistic(_ grid: [Double], vectors: [SparseVector], labels truth: [Int], classCount: Int, featureCount: Int) -> [(String, Double, LinearScorer)] {
        grid.map { l2 in
            let start = ContinuousClock.now
            let fit = LogisticRegression.train(
                vectors: vectors, labels: truth, classCount: classCount, featureCount: featureCount, options: .init(l2: l2))
            print("  l2 \(l2): \(fit.iterations) iterations, objective \(format(fit.objective, 5)), max |gradient| \(String(format: "%.2e", fit.gradientNorm)), \(format(seconds(since: start), 2)) s")
            return ("\(l2)", l2, fit.scorer)
        }
    }

    print("v1 multinomial naive Bayes, alpha chosen on the calibration rows:")
    let nbStart = ContinuousClock.now
    let nbCandidates = alphaGrid.map { alpha in
        ("\(alpha)", alpha, NaiveBayes.train(
            vectors: trainingVectors, labels: trainingLabels, classCount: labels.count, featureCount: features.count, alpha: alpha))
    }
    let nb = select("alpha", nbCandidates, vectors: calibrationVectors, labels: calibrationLabels, classCount: labels.count)
    let nbSeconds = seconds(since: nbStart)
    print("  chose alpha \(nb.hyper) (\(format(nbSeconds, 2)) s for the grid of \(alphaGrid.count))")

    print("v2 softmax logistic regression (L-BFGS), L2 chosen on the calibration rows (also the TF-IDF + logistic regression baseline v3 must beat):")
    let lrStart = ContinuousClock.now
    let lr = select(
        "l2", fitLogistic(l2Grid, vectors: trainingVectors, labels: trainingLabels, classCount: labels.count, featureCount: features.count),
        vectors: calibrationVectors, labels: calibrationLabels, classCount: labels.count)
    let lrSeconds = seconds(since: lrStart)
    print("  chose l2 \(lr.hyper) (\(format(lrSeconds, 2)) s for the grid of \(l2Grid.count))")

    // Version 3: the banking rows plus the out-of-scope texts as a 78th class; its vocabulary
    // also comes from both (an out-of-scope text needs its own words to be recognised).
    let v3Labels = labels + [OutOfScopeData.label]
    let outOfScopeClass = labels.count
    let v3Texts = trainingRows.map(\.text) + outOfScope.training
    let v3Features = FeatureSpace.fit(v3Texts, minimumDocumentFrequency: minimumDocumentFrequency, characterNGrams: characterNGrams)
    let v3TrainingVectors = v3Texts.map { v3Features.vector($0) }
    let v3TrainingLabels = trainingLabels + Array(repeating: outOfScopeClass, count: outOfScope.training.count)
    let v3CalibrationVectors = (calibrationRows.map(\.text) + outOfScope.calibration).map { v3Features.vector($0) }
    let v3CalibrationLabels = calibrationLabels + Array(repeating: outOfScopeClass, count: outOfScope.calibration.count)
    print("v3 softmax logistic regression over word terms and character \(characterNGrams.lowerBound)-\(characterNGrams.upperBound)-grams (\(v3Features.count) features), with an out-of-scope class; L2 chosen on the calibration rows and texts:")
    let v3Start = ContinuousClock.now
    let v3 = select(
        "l2", fitLogistic(v3L2Grid, vectors: v3TrainingVectors, labels: v3TrainingLabels, classCount: v3Labels.count, featureCount: v3Features.count),
        vectors: v3CalibrationVectors, labels: v3CalibrationLabels, classCount: v3Labels.count)
    let v3Seconds = seconds(since: v3Start)
    print("  chose l2 \(v3.hyper) (\(format(v3Seconds, 2)) s for the grid of \(v3L2Grid.count))")

    try FileManager.default.createDirectory(at: outputURL, withIntermediateDirectories: true)
    var figures: [String: MetricsFile.ModelFigures] = [:]
    let minDF = Double(minimumDocumentFrequency)
    let trained: [(String, IntentModel.Metadata, FeatureSpace, LinearScorer)] = [
        ("1.0.0", .init(id: "banking-intent", version: "1.0.0", kind: .naiveBayes, labels: labels, temperature: nb.temperature,
            hyperparameters: ["alpha": nb.hyper, "min_df": minDF], splitSeed: options.seed), features, nb.scorer),
        ("2.0.0", .init(id: "banking-intent", version: "2.0.0", kind: .logisticRegression, labels: labels, temperature: lr.temperature,
            hyperparameters: ["l2": lr.hyper, "min_df": minDF], splitSeed: options.seed), features, lr.scorer),
        ("3.0.0", .init(id: "banking-intent", version: "3.0.0", kind: .logisticRegression, labels: v3Labels, temperature: v3.temperature,
            hyperparameters: ["l2": v3.hyper, "min_df": minDF], splitSeed: options.seed, characterNGrams: characterNGrams,
            outOfScopeLabel: OutOfScopeData.label), v3Features, v3.scorer),
    ]
    var scope: ScopeFigures?
    print("held-out figures (\(heldOutRows.count) rows never used for training, selection or calibration), measured on the models read back from disk:")
    for (version, metadata, space, scorer) in trained {
        let model = try IntentModel(metadata: metadata, features: space, scorer: scorer)
        let url = outputURL.appendingPathComponent(ModelFile.fileName(version: version))
        let bytes = ModelFile.encode(model)
        try Data(bytes).write(to: url)
        // Measure what the plugin will load, not the in-memory model.
        let loaded = try ModelFile.read(path: url.path)
        let heldOut = evaluate(loaded, rows: heldOutRows, labels: labels)
        let calibration = evaluate(loaded, rows: calibrationRows, labels: labels)
        let uncalibrated = Evaluation(
            probabilities: heldOutRows.map { Array(Calibration.softmax(loaded.scores($0.text)).prefix(labels.count)) },
            labels: heldOutRows.map { classIndex[$0.label]! }, classCount: labels.count)
        print("\(version) \(metadata.kind.rawValue) -> \(url.path) (\(bytes.count) bytes), temperature \(format(metadata.temperature, 3))")
        report("held-out", heldOut)
        print("    top-3 accuracy \(format(heldOut.topThreeAccuracy)); ECE before temperature scaling: \(format(uncalibrated.expectedCalibrationError))")
        if loaded.outOfScopeIndex != nil {
            let figures = ScopeFigures(model: loaded, banking: heldOutRows, outOfScope: outOfScope)
            figures.report()
            scope = figures
        }
        figures[version] = .init(
            kind: metadata.kind.rawValue, hyperparameters: metadata.hyperparameters, temperature: metadata.temperature,
            calibration: calibration, heldOut: heldOut, heldOutECEUncalibrated: uncalibrated.expectedCalibrationError,
            fileBytes: bytes.count, featureCount: space.count)
    }
    if let v3Figures = figures["3.0.0"], let baseline = figures["2.0.0"] {
        let verdict = v3Figures.heldOut.accuracy > baseline.heldOut.accuracy ? "beats" : "does NOT beat"
        print("v3 top-1 \(format(v3Figures.heldOut.accuracy)) \(verdict) the TF-IDF + logistic regression baseline (v2, same run) \(format(baseline.heldOut.accuracy)) on the same held-out rows")
    }
    // The training rows are the complement, so only the two small parts are written.
    let splitFile = SplitFile(
        seed: options.seed, source: "data/banking77/train.csv", rows: dataset.rows.count,
        calibration: split.calibration, heldOut: split.heldOut,
        outOfScope: .init(
            heldOutIntents: outOfScope.heldOutIntents, heldOutArticles: outOfScope.heldOutArticles,
            heldOutQueries: zip(outOfScope.heldOut, outOfScope.heldOutSources).filter { $0.1 == "clinc-oos" }.map(\.0)))
    let compact = JSONEncoder()
    compact.outputFormatting = [.sortedKeys]
    try (compact.encode(splitFile) + Data("\n".utf8)).write(to: outputURL.appendingPathComponent("split.json"))
    try writeJSON(
        MetricsFile(
            seed: options.seed, trainingRows: split.training.count, calibrationRows: split.calibration.count,
            heldOutRows: split.heldOut.count, featureCount: features.count, outOfScopeTrainingTexts: outOfScope.training.count,
            models: figures, outOfScope: scope),
        to: outputURL.appendingPathComponent("metrics.json"))
    print("wrote split.json and metrics.json to \(outputURL.path); total \(format(seconds(since: totalStart), 2)) s (v1 grid \(format(nbSeconds, 2)) s, v2 grid \(format(lrSeconds, 2)) s, v3 grid \(format(v3Seconds, 2)) s)")
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("banking-intent-train: \(error)\n".utf8))
    exit(1)
}
