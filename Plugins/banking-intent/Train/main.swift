// banking-intent-train: trains both versions of the banking-intent adapter from
// data/banking77/train.csv and writes their weights to Plugins/banking-intent/models/.
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
    var output = "Plugins/banking-intent/models"
    var seed: UInt64 = 20_200_377
    var evaluateOnly = false
    var predict: [String] = []

    static let usage = """
        usage: banking-intent-train [--data DIR] [--out DIR] [--seed N] [--evaluate] [--predict TEXT]...
          --data DIR   folder with train.csv and categories.json (default data/banking77)
          --out DIR    where model files are written or read (default Plugins/banking-intent/models)
          --seed N     seed of the stratified split (default 20200377)
          --evaluate   do not train: evaluate the model files in --out on the held-out rows
          --predict T  do not train: print both versions' top 5 intents for the text T
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

func evaluate(_ model: IntentModel, rows: [LabelledText], labels: [String]) -> Evaluation {
    let classIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
    return Evaluation(
        probabilities: rows.map { model.probabilities($0.text) }, labels: rows.map { classIndex[$0.label]! },
        classCount: labels.count)
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

    enum CodingKeys: String, CodingKey {
        case seed, source, rows, calibration
        case heldOut = "held_out"
    }
}

/// What the trainer records next to the weights (no timings, so the file is reproducible).
struct MetricsFile: Codable {
    var seed: UInt64
    var trainingRows: Int
    var calibrationRows: Int
    var heldOutRows: Int
    var featureCount: Int
    var models: [String: ModelFigures]

    struct ModelFigures: Codable {
        var kind: String
        var hyperparameters: [String: Double]
        var temperature: Double
        var calibration: Evaluation
        var heldOut: Evaluation
        /// Held-out ECE with temperature 1, to show what calibration bought.
        var heldOutECEUncalibrated: Double
        var fileBytes: Int

        enum CodingKeys: String, CodingKey {
            case kind, hyperparameters, temperature, calibration
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
    }
}

func run() throws {
    let options = try Options(arguments: Array(CommandLine.arguments.dropFirst()))
    if !options.predict.isEmpty {
        for version in ["1.0.0", "2.0.0"] {
            let model = try ModelFile.read(path: URL(fileURLWithPath: options.output).appendingPathComponent(ModelFile.fileName(version: version)).path)
            for text in options.predict {
                let prediction = model.predict(text)
                let top = prediction.alternatives.map { "\($0.label) \(format($0.confidence, 3))" }.joined(separator: ", ")
                print("\(version) \(text.debugDescription): \(top)")
            }
        }
        return
    }
    let dataset = try Dataset.load(directory: URL(fileURLWithPath: options.data))
    let split = DataSplit.stratified(dataset, seed: options.seed, heldOutFraction: heldOutFraction, calibrationFraction: calibrationFraction)
    let labels = dataset.labels
    let classIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
    let heldOutRows = split.heldOut.map { dataset.rows[$0] }
    print("banking77: \(dataset.rows.count) rows, \(labels.count) intents; split seed \(options.seed): training \(split.training.count), calibration \(split.calibration.count), held-out \(split.heldOut.count)")
    let outputURL = URL(fileURLWithPath: options.output)

    if options.evaluateOnly {
        for version in ["1.0.0", "2.0.0"] {
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
    func select(_ name: String, _ candidates: [(String, Double, LinearScorer)]) -> (hyper: Double, scorer: LinearScorer, temperature: Double) {
        var best: (hyper: Double, scorer: LinearScorer, temperature: Double, accuracy: Double, nll: Double)?
        for (label, hyper, scorer) in candidates {
            let scores = calibrationVectors.map { scorer.scores($0) }
            let temperature = Calibration.fitTemperature(scores: scores, labels: calibrationLabels)
            let evaluation = Evaluation(
                probabilities: scores.map { Calibration.softmax($0, temperature: temperature) }, labels: calibrationLabels,
                classCount: labels.count)
            print("  \(name) \(label): calibration accuracy \(format(evaluation.accuracy)), NLL \(format(evaluation.negativeLogLikelihood)), temperature \(format(temperature, 3))")
            if best == nil || evaluation.accuracy > best!.accuracy
                || (evaluation.accuracy == best!.accuracy && evaluation.negativeLogLikelihood < best!.nll)
            {
                best = (hyper, scorer, temperature, evaluation.accuracy, evaluation.negativeLogLikelihood)
            }
        }
        return (best!.hyper, best!.scorer, best!.temperature)
    }

    print("v1 multinomial naive Bayes, alpha chosen on the calibration rows:")
    let nbStart = ContinuousClock.now
    let nbCandidates = alphaGrid.map { alpha in
        ("\(alpha)", alpha, NaiveBayes.train(
            vectors: trainingVectors, labels: trainingLabels, classCount: labels.count, featureCount: features.count, alpha: alpha))
    }
    let nb = select("alpha", nbCandidates)
    let nbSeconds = seconds(since: nbStart)
    print("  chose alpha \(nb.hyper) (\(format(nbSeconds, 2)) s for the grid of \(alphaGrid.count))")

    print("v2 softmax logistic regression (L-BFGS), L2 chosen on the calibration rows:")
    let lrStart = ContinuousClock.now
    let lrCandidates = l2Grid.map { l2 in
        let start = ContinuousClock.now
        let fit = LogisticRegression.train(
            vectors: trainingVectors, labels: trainingLabels, classCount: labels.count, featureCount: features.count,
            options: .init(l2: l2))
        print("  l2 \(l2): \(fit.iterations) iterations, objective \(format(fit.objective, 5)), max |gradient| \(String(format: "%.2e", fit.gradientNorm)), \(format(seconds(since: start), 2)) s")
        return ("\(l2)", l2, fit.scorer)
    }
    let lr = select("l2", lrCandidates)
    let lrSeconds = seconds(since: lrStart)
    print("  chose l2 \(lr.hyper) (\(format(lrSeconds, 2)) s for the grid of \(l2Grid.count))")

    try FileManager.default.createDirectory(at: outputURL, withIntermediateDirectories: true)
    var figures: [String: MetricsFile.ModelFigures] = [:]
    let trained: [(String, IntentModel.Kind, [String: Double], LinearScorer, Double)] = [
        ("1.0.0", .naiveBayes, ["alpha": nb.hyper, "min_df": Double(minimumDocumentFrequency)], nb.scorer, nb.temperature),
        ("2.0.0", .logisticRegression, ["l2": lr.hyper, "min_df": Double(minimumDocumentFrequency)], lr.scorer, lr.temperature),
    ]
    print("held-out figures (\(heldOutRows.count) rows never used for training, selection or calibration), measured on the models read back from disk:")
    for (version, kind, hyper, scorer, temperature) in trained {
        let metadata = IntentModel.Metadata(
            id: "banking-intent", version: version, kind: kind, labels: labels, temperature: temperature,
            hyperparameters: hyper, splitSeed: options.seed)
        let model = try IntentModel(metadata: metadata, features: features, scorer: scorer)
        let url = outputURL.appendingPathComponent(ModelFile.fileName(version: version))
        let bytes = ModelFile.encode(model)
        try Data(bytes).write(to: url)
        // Measure what the plugin will load, not the in-memory model.
        let loaded = try ModelFile.read(path: url.path)
        let heldOut = evaluate(loaded, rows: heldOutRows, labels: labels)
        let calibration = evaluate(loaded, rows: calibrationRows, labels: labels)
        let uncalibrated = Evaluation(
            probabilities: heldOutRows.map { Calibration.softmax(loaded.scores($0.text)) },
            labels: heldOutRows.map { classIndex[$0.label]! }, classCount: labels.count)
        print("\(version) \(kind.rawValue) -> \(url.path) (\(bytes.count) bytes), temperature \(format(temperature, 3))")
        report("held-out", heldOut)
        print("    ECE before temperature scaling: \(format(uncalibrated.expectedCalibrationError))")
        figures[version] = .init(
            kind: kind.rawValue, hyperparameters: hyper, temperature: temperature, calibration: calibration, heldOut: heldOut,
            heldOutECEUncalibrated: uncalibrated.expectedCalibrationError, fileBytes: bytes.count)
    }
    // The training rows are the complement, so only the two small parts are written.
    let splitFile = SplitFile(
        seed: options.seed, source: "data/banking77/train.csv", rows: dataset.rows.count,
        calibration: split.calibration, heldOut: split.heldOut)
    let compact = JSONEncoder()
    compact.outputFormatting = [.sortedKeys]
    try (compact.encode(splitFile) + Data("\n".utf8)).write(to: outputURL.appendingPathComponent("split.json"))
    try writeJSON(
        MetricsFile(
            seed: options.seed, trainingRows: split.training.count, calibrationRows: split.calibration.count,
            heldOutRows: split.heldOut.count, featureCount: features.count, models: figures),
        to: outputURL.appendingPathComponent("metrics.json"))
    print("wrote split.json and metrics.json to \(outputURL.path); total \(format(seconds(since: totalStart), 2)) s (v1 grid \(format(nbSeconds, 2)) s, v2 grid \(format(lrSeconds, 2)) s)")
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("banking-intent-train: \(error)\n".utf8))
    exit(1)
}
