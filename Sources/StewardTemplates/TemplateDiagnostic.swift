/// A place in a template file: 1-based line and column.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The file's path as given to the loader.
    public var file: String
    /// Line, from 1.
    public var line: Int
    /// Column, from 1 (in Unicode scalars).
    public var column: Int

    /// Creates a location.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// "workflows/triage.yaml:12:7".
    public var description: String { "\(file):\(line):\(column)" }

    /// Orders by file, then line, then column.
    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// One problem found in a template, with where it is and what was expected.
public struct TemplateDiagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is.
    public var location: SourceLocation
    /// What is wrong and what was expected.
    public var message: String

    /// Creates a diagnostic.
    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    /// "workflows/triage.yaml:12:7: error: unknown state kind 'stpe'; expected one of ...".
    public var description: String { "\(location): error: \(message)" }
}

/// Every problem found in one or more templates. Thrown when loading fails.
public struct TemplateErrors: Error, Sendable, CustomStringConvertible {
    /// The problems, in file order.
    public var diagnostics: [TemplateDiagnostic]

    /// Creates the error from diagnostics, sorted by location.
    public init(_ diagnostics: [TemplateDiagnostic]) {
        self.diagnostics = diagnostics.sorted { $0.location < $1.location }
    }

    /// One line per problem.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
