import Foundation

/// One labelled text: a customer's message and the intent a person gave it.
public struct LabelledText: Sendable, Hashable {
    /// The message as written.
    public let text: String
    /// The intent label, one of the dataset's categories.
    public let label: String

    /// Creates a labelled text.
    public init(text: String, label: String) {
        self.text = text
        self.label = label
    }
}

/// Why a dataset or model file could not be read.
public struct BankingIntentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A readable message naming the file and what was wrong.
    public let description: String

    /// Creates an error with a readable message.
    public init(_ description: String) {
        self.description = description
    }
}

/// The banking77 training file: `text,category` CSV plus the list of categories.
public struct Dataset: Sendable {
    /// The rows in file order (row 0 is the first line after the header).
    public let rows: [LabelledText]
    /// The labels in `categories.json` order; class index `i` is `labels[i]`.
    public let labels: [String]

    /// Creates a dataset from rows and labels, checking every row's label is known.
    public init(rows: [LabelledText], labels: [String]) throws(BankingIntentError) {
        let known = Set(labels)
        guard known.count == labels.count else { throw BankingIntentError("the category list has duplicates") }
        if let bad = rows.first(where: { !known.contains($0.label) }) {
            throw BankingIntentError("row labelled '\(bad.label)' is not in the category list")
        }
        self.rows = rows
        self.labels = labels
    }

    /// Reads `train.csv` and `categories.json` from `directory`.
    public static func load(directory: URL) throws(BankingIntentError) -> Dataset {
        let csvURL = directory.appendingPathComponent("train.csv")
        let categoriesURL = directory.appendingPathComponent("categories.json")
        guard let csvData = FileManager.default.contents(atPath: csvURL.path) else {
            throw BankingIntentError("cannot read \(csvURL.path)")
        }
        guard let categoriesData = FileManager.default.contents(atPath: categoriesURL.path),
            let labels = try? JSONDecoder().decode([String].self, from: categoriesData)
        else {
            throw BankingIntentError("cannot read \(categoriesURL.path) as a JSON array of strings")
        }
        let records: [[String]]
        do {
            records = try CSV.parse(String(decoding: csvData, as: UTF8.self))
        } catch {
            throw BankingIntentError("\(csvURL.path): \(error.description)")
        }
        guard let header = records.first, header == ["text", "category"] else {
            throw BankingIntentError("\(csvURL.path): expected the header 'text,category'")
        }
        var rows: [LabelledText] = []
        rows.reserveCapacity(records.count - 1)
        for (offset, record) in records.dropFirst().enumerated() {
            guard record.count == 2 else {
                throw BankingIntentError("\(csvURL.path): record \(offset + 1) has \(record.count) fields, expected 2")
            }
            rows.append(LabelledText(text: record[0], label: record[1]))
        }
        do {
            return try Dataset(rows: rows, labels: labels)
        } catch {
            throw BankingIntentError("\(csvURL.path): \(error.description)")
        }
    }
}

/// A small RFC 4180 reader: quoted fields may hold commas, doubled quotes and line breaks;
/// records end at LF or CRLF.
public enum CSV {
    /// Splits `text` into records of fields. Empty lines are skipped.
    public static func parse(_ text: String) throws(BankingIntentError) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var fieldWasQuoted = false
        let bytes = Array(text.utf8)
        var index = 0
        func endField() {
            record.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
        }
        func endRecord() {
            if !(record.isEmpty && field.isEmpty && !fieldWasQuoted) {
                endField()
                records.append(record)
            }
            record = []
        }
        while index < bytes.count {
            let byte = bytes[index]
            if inQuotes {
                if byte == UInt8(ascii: "\"") {
                    if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") {
                        field.append(byte)
                        index += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.append(byte)
                }
            } else {
                switch byte {
                case UInt8(ascii: "\""):
                    guard field.isEmpty else { throw BankingIntentError("a quote inside an unquoted field near byte \(index)") }
                    inQuotes = true
                    fieldWasQuoted = true
                case UInt8(ascii: ","):
                    endField()
                case UInt8(ascii: "\r") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "\n"):
                    break
                case UInt8(ascii: "\n"):
                    endRecord()
                default:
                    field.append(byte)
                }
            }
            index += 1
        }
        guard !inQuotes else { throw BankingIntentError("the file ends inside a quoted field") }
        endRecord()
        return records
    }
}

/// A split of a dataset's row indices into three disjoint parts.
public struct DataSplit: Sendable, Equatable, Codable {
    /// The seed the split was drawn with.
    public let seed: UInt64
    /// Rows the models are fitted on.
    public let training: [Int]
    /// Rows used to choose hyper-parameters and fit the confidence temperature.
    public let calibration: [Int]
    /// Rows never used for training, selection or calibration; only for the final figures.
    public let heldOut: [Int]

    enum CodingKeys: String, CodingKey {
        case seed, training, calibration
        case heldOut = "held_out"
    }

    /// Draws a split stratified by label: within each class, rows are shuffled with `seed`
    /// and the first `heldOutFraction` (rounded, at least one) go to the held-out part, the
    /// next `calibrationFraction` to calibration, the rest to training. Each part is sorted.
    public static func stratified(
        _ dataset: Dataset, seed: UInt64, heldOutFraction: Double, calibrationFraction: Double
    ) -> DataSplit {
        var rowsByLabel: [String: [Int]] = [:]
        for (index, row) in dataset.rows.enumerated() {
            rowsByLabel[row.label, default: []].append(index)
        }
        var generator = SplitMix64(seed: seed)
        var training: [Int] = [], calibration: [Int] = [], heldOut: [Int] = []
        // Walk the labels in category order so the draw does not depend on dictionary order.
        for label in dataset.labels {
            var rows = rowsByLabel[label] ?? []
            generator.shuffle(&rows)
            let heldCount = max(1, Int((Double(rows.count) * heldOutFraction).rounded()))
            let calibrationCount = max(1, Int((Double(rows.count) * calibrationFraction).rounded()))
            heldOut += rows.prefix(heldCount)
            calibration += rows.dropFirst(heldCount).prefix(calibrationCount)
            training += rows.dropFirst(heldCount + calibrationCount)
        }
        return DataSplit(seed: seed, training: training.sorted(), calibration: calibration.sorted(), heldOut: heldOut.sorted())
    }

    /// Creates a split from explicit parts.
    public init(seed: UInt64, training: [Int], calibration: [Int], heldOut: [Int]) {
        self.seed = seed
        self.training = training
        self.calibration = calibration
        self.heldOut = heldOut
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): a tiny seeded generator, so every split and
/// every initialisation is the same on every machine and every run.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Fisher-Yates shuffle with explicit index draws (the standard library's `shuffle(using:)`
    /// does not promise the same order across versions).
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            array.swapAt(i, j)
        }
    }
}
