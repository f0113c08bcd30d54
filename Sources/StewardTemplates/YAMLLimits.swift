// libyaml, the C parser Yams is built on (its `CYaml` module). Yams has no public event API,
// and its composer hashes mapping keys as it builds the tree, so an alias bomb used as a key
// would hang inside `Yams.compose` itself: the limits must be checked on the events first.
internal import CYaml

/// The bounds every template and overlay file is held to before a node tree is built, so a
/// small hostile file (an alias bomb, a deeply nested list) cannot take the loader's time,
/// memory or stack. Counts are *after* expanding aliases: what a reader of the tree would see.
public enum YAMLLimits {
    /// The largest file, in bytes of UTF-8 (1 MiB).
    public static let maxBytes = 1 << 20
    /// The deepest nesting of mappings and lists (a top-level mapping is depth 1).
    public static let maxDepth = 64
    /// The most nodes (scalars, mappings, lists), counting each alias as the nodes it stands for.
    public static let maxNodes = 100_000
    /// The most aliases (`*name`) written in the file.
    public static let maxAliases = 1_000

    /// The first limit `text` breaks, located where it is broken, or nil within every limit.
    /// YAML syntax errors are not reported here (the composer reports them with its message);
    /// the scan stops at the first one.
    static func check(_ text: String, file: String) -> TemplateDiagnostic? {
        let size = text.utf8.count
        if size > maxBytes {
            return TemplateDiagnostic(
                location(ofByte: maxBytes, in: text, file: file),
                "the file is \(size) bytes; expected at most \(maxBytes) bytes (1 MiB)")
        }
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return nil }
        return bytes.withUnsafeBufferPointer { buffer in
            var scan = EventScan(file: file)
            return scan.run(buffer)
        }
    }

    /// Line and column (1-based, in characters) of byte `offset` of `text`.
    static func location(ofByte offset: Int, in text: String, file: String) -> SourceLocation {
        let prefix = String(decoding: text.utf8.prefix(offset), as: UTF8.self)
        let lines = prefix.split(separator: "\n", omittingEmptySubsequences: false)
        return SourceLocation(file: file, line: lines.count, column: (lines.last?.unicodeScalars.count ?? 0) + 1)
    }
}

/// Walks libyaml's events, keeping for every open collection and every anchor how many nodes
/// and how many levels it stands for once aliases are expanded: O(events), nothing expanded.
private struct EventScan {
    /// An open mapping or list.
    struct Frame {
        var anchor: String?
        /// Nodes in it so far, itself included, aliases expanded.
        var nodes = 1
        /// Levels of collections in it, itself included, aliases expanded.
        var height = 1
    }

    /// What an anchored node stands for.
    struct Anchored {
        var nodes: Int
        var height: Int
    }

    let file: String
    var stack: [Frame] = []
    var anchors: [String: Anchored] = [:]
    var nodes = 0
    var aliases = 0

    init(file: String) {
        self.file = file
    }

    /// Parses `buffer` (valid for the whole call) to the end or to the first broken limit.
    mutating func run(_ buffer: UnsafeBufferPointer<UInt8>) -> TemplateDiagnostic? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
            defer { yaml_event_delete(&event) }
            if let problem = apply(event) { return problem }
            if event.type == YAML_STREAM_END_EVENT { return nil }
        }
    }

    func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    mutating func apply(_ event: yaml_event_t) -> TemplateDiagnostic? {
        let here = location(event.start_mark)
        switch event.type {
        case YAML_SCALAR_EVENT:
            if let anchor = Self.string(event.data.scalar.anchor) { anchors[anchor] = Anchored(nodes: 1, height: 0) }
            return add(nodes: 1, height: 0, at: here)
        case YAML_ALIAS_EVENT:
            aliases += 1
            guard aliases <= YAMLLimits.maxAliases else {
                return TemplateDiagnostic(here, "more than \(YAMLLimits.maxAliases) aliases; expected at most \(YAMLLimits.maxAliases) (a limit on alias expansion)")
            }
            // An alias to an anchor not yet complete is an error the composer reports.
            let target = Self.string(event.data.alias.anchor).flatMap { anchors[$0] } ?? Anchored(nodes: 1, height: 0)
            return add(nodes: target.nodes, height: target.height, at: here, alias: Self.string(event.data.alias.anchor))
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            let anchor = event.type == YAML_SEQUENCE_START_EVENT
                ? Self.string(event.data.sequence_start.anchor) : Self.string(event.data.mapping_start.anchor)
            guard stack.count < YAMLLimits.maxDepth else {
                return TemplateDiagnostic(here, "mappings and lists nest deeper than \(YAMLLimits.maxDepth) levels; expected at most \(YAMLLimits.maxDepth)")
            }
            nodes += 1
            if let problem = checkNodes(at: here) { return problem }
            stack.append(Frame(anchor: anchor))
            return nil
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return nil }
            if let anchor = frame.anchor { anchors[anchor] = Anchored(nodes: frame.nodes, height: frame.height) }
            // Already counted in `nodes` as its children arrived; only the parent learns of it now.
            if !stack.isEmpty {
                stack[stack.count - 1].nodes += frame.nodes
                stack[stack.count - 1].height = max(stack[stack.count - 1].height, frame.height + 1)
            }
            return nil
        default:
            return nil
        }
    }

    /// Adds a scalar or an alias (`nodes` and `height` of what it stands for) to the open collection.
    mutating func add(nodes count: Int, height: Int, at here: SourceLocation, alias: String? = nil) -> TemplateDiagnostic? {
        nodes += count
        if let problem = checkNodes(at: here, alias: alias) { return problem }
        if stack.count + height > YAMLLimits.maxDepth {
            return TemplateDiagnostic(
                here,
                "alias *\(alias ?? "") nests mappings and lists \(stack.count + height) levels deep; expected at most \(YAMLLimits.maxDepth)")
        }
        if !stack.isEmpty {
            stack[stack.count - 1].nodes += count
            stack[stack.count - 1].height = max(stack[stack.count - 1].height, height + 1)
        }
        return nil
    }

    func checkNodes(at here: SourceLocation, alias: String? = nil) -> TemplateDiagnostic? {
        guard nodes > YAMLLimits.maxNodes else { return nil }
        let through = alias.map { " (alias *\($0) stands for \(anchors[$0]?.nodes ?? 1) nodes)" } ?? ""
        return TemplateDiagnostic(
            here, "the document expands to more than \(YAMLLimits.maxNodes) nodes\(through); expected at most \(YAMLLimits.maxNodes), aliases counted as what they stand for")
    }
}
