import Foundation
import StewardDigest
import StewardJSON

/// One golden case: an input for the template and the values the instance data should have.
public struct EvalCase: Sendable, Hashable {
    /// Unique in its dataset.
    public var id: String
    /// The instance's input.
    public var input: JSONValue
    /// Expected values at instance-data paths, as nested objects (`{"routing": {"priority": "P1"}}`);
    /// a metric whose path is absent here leaves the case out.
    public var expected: JSONValue
    /// The 1-based line it was read from.
    public var line: Int

    /// Creates a case.
    public init(id: String, input: JSONValue, expected: JSONValue = .emptyObject, line: Int = 0) {
        self.id = id
        self.input = input
        self.expected = expected
        self.line = line
    }
}

/// A golden dataset: JSON Lines, one `{"id", "input", "expected"}` object per line.
public struct EvalDataset: Sendable {
    /// The file as named (relative to the workspace where possible).
    public var name: String
    /// SHA-256 (hex) of the file's bytes: what a run records to be reproducible.
    public var hash: String
    /// The cases, in file order.
    public var cases: [EvalCase]

    /// Creates a dataset.
    public init(name: String, hash: String, cases: [EvalCase]) {
        self.name = name
        self.hash = hash
        self.cases = cases
    }

    /// The largest dataset file read (256 MiB): a larger one is refused before it is read.
    public static let maximumBytes = 256 << 20

    /// Reads and parses the dataset at `path`.
    /// - Throws: `DatasetError` with file and line for every bad line (up to 20), or when the
    ///   file cannot be read, is too large or holds no case.
    public static func load(path: String, name: String? = nil) throws(DatasetError) -> EvalDataset {
        let url = URL(fileURLWithPath: path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        guard let size else { throw DatasetError([.init(file: path, line: 0, message: "cannot read the dataset: no such file")]) }
        guard size <= maximumBytes else {
            throw DatasetError([.init(file: path, line: 0, message: "the dataset is \(size) bytes; at most \(maximumBytes) are read")])
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DatasetError([.init(file: path, line: 0, message: "cannot read the dataset: \(error.localizedDescription)")])
        }
        return try parse(data, file: name ?? path)
    }

    /// Parses JSON Lines. Blank lines are skipped; every other line must be a JSON object with
    /// a non-empty string `id` (unique), an `input` object and, optionally, an `expected`
    /// object. Other members are ignored.
    /// - Throws: `DatasetError` listing every bad line (at most 20) with `file:line`.
    public static func parse(_ data: Data, file: String) throws(DatasetError) -> EvalDataset {
        var problems: [DatasetError.Problem] = []
        var cases: [EvalCase] = []
        var seen: [String: Int] = [:]
        let bytes = [UInt8](data)
        var lineNumber = 0
        var start = 0
        func problem(_ message: String) { problems.append(.init(file: file, line: lineNumber, message: message)) }
        while start <= bytes.count, problems.count < 20 {
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            lineNumber += 1
            defer { start = end + 1 }
            var slice = bytes[start..<end]
            if slice.last == 0x0D { slice = slice.dropLast() }
            if slice.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                if end >= bytes.count { break }
                continue
            }
            guard let text = String(bytes: slice, encoding: .utf8) else {
                problem("the line is not valid UTF-8")
                continue
            }
            let value: JSONValue
            do {
                value = try JSONValue.parse(text)
            } catch {
                problem("not JSON: \(error)")
                continue
            }
            guard case .object(let members) = value else {
                problem("expected a JSON object {\"id\", \"input\", \"expected\"}, found \(value.typeName)")
                continue
            }
            let id: String
            switch members["id"] {
            case .string(let text)? where !text.isEmpty: id = text
            case .integer(let number)?: id = String(number)
            case nil: problem("missing \"id\"; expected a non-empty string"); continue
            default: problem("\"id\" must be a non-empty string"); continue
            }
            if let first = seen[id] {
                problem("duplicate id '\(id)' (first on line \(first)); expected each id once")
                continue
            }
            guard let input = members["input"] else {
                problem("case '\(id)' has no \"input\"; expected the instance's input object")
                continue
            }
            guard input.objectValue != nil else {
                problem("\"input\" of case '\(id)' must be an object, found \(input.typeName)")
                continue
            }
            let expected = members["expected"] ?? .emptyObject
            guard expected.objectValue != nil else {
                problem("\"expected\" of case '\(id)' must be an object of instance-data paths, found \(expected.typeName)")
                continue
            }
            seen[id] = lineNumber
            cases.append(EvalCase(id: id, input: input, expected: expected, line: lineNumber))
            if end >= bytes.count { break }
        }
        if !problems.isEmpty { throw DatasetError(problems) }
        guard !cases.isEmpty else { throw DatasetError([.init(file: file, line: 1, message: "the dataset has no cases")]) }
        return EvalDataset(name: file, hash: SHA256.hex(bytes), cases: cases)
    }
}

/// Why a dataset cannot be used: each problem with its file and line.
public struct DatasetError: Error, Sendable, CustomStringConvertible {
    /// One bad line.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The file.
        public var file: String
        /// The 1-based line (0: the file as a whole).
        public var line: Int
        /// What is wrong and what was expected.
        public var message: String

        /// "evals/t/golden.jsonl:12: error: ...".
        public var description: String { line > 0 ? "\(file):\(line): error: \(message)" : "\(file): error: \(message)" }
    }

    /// Every problem found.
    public var problems: [Problem]

    /// Creates an error.
    public init(_ problems: [Problem]) { self.problems = problems }

    /// One problem per line.
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
