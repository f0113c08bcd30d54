import Foundation
import StewardExpressions
import StewardJSON
import Testing

@testable import StewardTemplates

/// A seeded mutation fuzzer over the template loader (lenient parse, overlay parse, plan
/// validation with a catalog) and the guard language (parse, lenient and strict evaluation).
/// It passes when nothing crashes, nothing takes long, and strict evaluation agrees with
/// lenient evaluation whenever it returns.
///
/// Deterministic: the same seed and count run the same cases. CI runs a few thousand; a long
/// local run raises the count:
///
///     STEWARD_FUZZ_ITERATIONS=200000 STEWARD_FUZZ_SEED=7 swift test --skip-build --filter FuzzTests
///
/// With `STEWARD_FUZZ_ITERATIONS` set, the case being run is written to
/// `$TMPDIR/steward-fuzz-template.txt` (guards: `steward-fuzz-guard.txt`) first, so a crash
/// leaves its input behind.
@Suite("Fuzzing the loader and the guard language")
struct FuzzTests {
    static let environment = ProcessInfo.processInfo.environment
    static let longRun = environment["STEWARD_FUZZ_ITERATIONS"] != nil
    static let seed = environment["STEWARD_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x5EED_2026
    static func iterations(default value: Int) -> Int { environment["STEWARD_FUZZ_ITERATIONS"].flatMap(Int.init) ?? value }

    /// A case slower than this is reported as a (near) hang.
    static let slowCase: Duration = .seconds(2)

    /// The shipped templates and overlays, and the bad fixtures.
    static let corpus: [(name: String, text: String)] = {
        let folders = [
            packageRoot.appendingPathComponent("workflows"), packageRoot.appendingPathComponent("workflows/customers"),
            fixturesDirectory.appendingPathComponent("bad"),
        ]
        return folders.flatMap { folder -> [(String, String)] in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            return names.filter { $0.hasSuffix(".yaml") }.sorted().compactMap { name in
                (try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)).map { (name, $0) }
            }
        }
    }()

    static let catalog = StepCatalog(
        steps: shippedCatalog.steps, foreignProblems: [:], adapters: ["banking-intent@2.0.0"],
        prompts: ["customer-support/classify-intent@1"], pureSteps: ["keywords.classify", "kb.search"])

    /// Text worth splicing into a template: YAML structure, aliases, hostile numbers, the keys
    /// and values the loader treats specially.
    static let tokens = [
        "&a", "*a", "&b [*a, *a, *a]", "<<: *a", "? *a", "!!str", "!!binary", "---", "...", "|", ">-", "'", "\"", "#", ":", "- ", "{", "}", "[", "]",
        ",", "~", "null", "true", "1e309", "-1e309", ".inf", ".nan", "99999999999999999999999", "1:1:1:1:1:1:1:1:1:1:1:1", "0x7fffffffffffffff",
        "9999999999999999h", "15m", "100%", "0%", "kind: ffi", "kind: model", "kind: checkpoint", "kind: choice", "kind: end",
        "args: [1, 2, 3, 4, 5, 6, 7]", "args: []", "args: ['x', 1.5, true]", "signature: int f(int, int)", "signature: void f(void)",
        "signature: const char *f(const char *)", "signature: (", "library: /x", "when: input.a > 1", "when: ((((", "not not not",
        "human_in_path: required", "human_in_path: maybe", "credential: ''", "decisions: {approve: done}", "next: done", "next: nowhere",
        "on_error: done", "output: a.b.c", "input: [1]", "role: classifier", "task: generate", "prompt: x@1", "retry: {max_attempts: 0}",
        "sla: {priority: x}", "escalation: [{at: breach}]", "states: {}", "start: ''", "\u{0}", "\u{FEFF}", "é", "\t", "\r\n",
    ]

    // MARK: Templates

    @Test("mutated templates and overlays never crash or hang the loader")
    func templates() throws {
        var random = SplitMix64(seed: Self.seed)
        let count = Self.iterations(default: 4_000)
        var slowest: (Duration, Int) = (.zero, -1)
        for index in 0..<count {
            let (name, original) = Self.corpus[Int(random.next() % UInt64(Self.corpus.count))]
            var text = original
            for _ in 0..<(1 + Int(random.next() % 4)) { text = Self.mutate(text, &random) }
            if Self.longRun { Self.record(index: index, text, in: "template") }
            let started = ContinuousClock.now
            Self.load(text, file: "fuzz/\(index)-\(name)")
            let elapsed = ContinuousClock.now - started
            if elapsed > slowest.0 { slowest = (elapsed, index) }
            #expect(elapsed < Self.slowCase, "case \(index) (seed \(Self.seed)) took \(elapsed):\n\(text.prefix(2_000))")
        }
        if Self.longRun { print("fuzz templates: \(count) cases, seed \(Self.seed), slowest \(slowest.0) (case \(slowest.1))") }
    }

    /// Everything the loader does with a file, ignoring the (expected) errors.
    static func load(_ text: String, file: String) {
        if let parsed = try? TemplateParser.parseLeniently(text, file: file) {
            _ = try? Plan(validating: parsed, catalog: catalog)
            _ = Plan.validate(parsed.template, catalog: nil, opaqueStates: parsed.opaqueStates)
            _ = Plan.humanInPathViolations(in: parsed.template, pureSteps: nil)
            if let overlay = try? TemplateParser.parseOverlay(text, file: file) {
                _ = TemplateParser.validate(overlay, against: [parsed.template.name: parsed.template], adapters: [], pureSteps: nil)
            }
        } else if let overlay = try? TemplateParser.parseOverlay(text, file: file) {
            _ = TemplateParser.validate(overlay, against: [:])
        }
    }

    /// One random edit of `text`.
    static func mutate(_ text: String, _ random: inout SplitMix64) -> String {
        var bytes = Array(text.utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func pick(_ count: Int) -> Int { count == 0 ? 0 : Int(random.next() % UInt64(count)) }
        switch random.next() % 10 {
        case 0:  // flip a byte (to any value: invalid UTF-8 comes out as replacement characters)
            guard !bytes.isEmpty else { return text }
            bytes[pick(bytes.count)] = UInt8(truncatingIfNeeded: random.next())
            return String(decoding: bytes, as: UTF8.self)
        case 1:  // delete a line
            guard !lines.isEmpty else { return text }
            lines.remove(at: pick(lines.count))
        case 2:  // duplicate a line
            guard !lines.isEmpty else { return text }
            let line = pick(lines.count)
            lines.insert(lines[line], at: pick(lines.count + 1))
        case 3:  // swap two tokens
            var words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard words.count > 1 else { return text }
            words.swapAt(pick(words.count), pick(words.count))
            return words.joined(separator: " ")
        case 4:  // truncate
            return String(decoding: bytes.prefix(pick(bytes.count + 1)), as: UTF8.self)
        case 5:  // nest deeply, in flow or block style
            let depth = 1 + pick(300)
            let line = pick(lines.count + 1)
            let nested = random.next() % 2 == 0
                ? "  x: " + String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth)
                : "  x:\n" + (1...depth).map { String(repeating: " ", count: 2 + $0) + "- " }.joined(separator: "\n") + " 1"
            lines.insert(nested, at: line)
        case 6:  // an alias bomb somewhere
            let bomb = (0..<10).map { level in
                "  b\(level): &b\(level) [" + (level == 0 ? "x, x, x, x, x, x, x, x, x, x" : Array(repeating: "*b\(level - 1)", count: 10).joined(separator: ", ")) + "]"
            }.joined(separator: "\n")
            lines.insert(bomb, at: pick(lines.count + 1))
        case 7:  // splice a token into a line
            guard !lines.isEmpty else { return text }
            let line = pick(lines.count)
            let characters = Array(lines[line])
            let at = pick(characters.count + 1)
            lines[line] = String(characters[..<at]) + tokens[pick(tokens.count)] + String(characters[at...])
        case 8:  // replace a value after a colon with a token
            guard !lines.isEmpty else { return text }
            let line = pick(lines.count)
            if let colon = lines[line].firstIndex(of: ":") {
                lines[line] = String(lines[line][...colon]) + " " + tokens[pick(tokens.count)]
            }
        default:  // copy a block of lines elsewhere (duplicated keys, states, lists)
            guard lines.count > 2 else { return text }
            let start = pick(lines.count - 1)
            let block = Array(lines[start..<min(lines.count, start + 1 + pick(8))])
            lines.insert(contentsOf: block, at: pick(lines.count + 1))
        }
        return lines.joined(separator: "\n")
    }

    static func record(index: Int, _ text: String, in kind: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("steward-fuzz-\(kind).txt")
        try? Data("seed \(seed) case \(index)\n\(text)".utf8).write(to: file)
    }

    // MARK: Guards

    /// Guards written in the corpus and a few hand-picked ones, to mutate.
    static let guards: [String] = {
        var found = [
            "input.amount > 100", "routing.priority == \"P1\" or classification.confidence < config.review_threshold",
            "(keywords.category in [\"fraud\", \"card_lost\"] and routing.priority != \"P1\")", "not exists(input.x) or len(input.tags) >= 2",
            "lower(input.text) in \"stolen card\"", "input.tags.0 == null", "[1, 2.5, 'a', true, null, [input.a]]", "upper(input.n) != 'X'",
        ]
        for (_, text) in corpus {
            for line in text.split(separator: "\n") where line.contains("when:") {
                found.append(String(line.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces))
            }
        }
        return found
    }()

    static let expressionTokens = [
        "(", ")", "[", "]", ",", ".", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "not", "and", "or", "exists(", "len(", "lower(", "upper(",
        "size(", "1e309", "-1e309", "99999999999999999999", "-0", "0.5", "\"x\"", "'y'", "\"", "'", "\\", "null", "true", "input.amount",
        "input.tags.0", "input.nested.a.b", "input.missing", "config.review_threshold", "$x", "_", "-", "=", "é", "٣", "\u{0}",
        String(repeating: "(", count: 70), String(repeating: "not ", count: 70), String(repeating: "x and ", count: 500) + "x",
    ]

    /// Data with every JSON type where guards look.
    static let data: [JSONValue] = [
        .null, .emptyObject,
        [
            "input": [
                "amount": "5000", "tags": ["card_lost", 3], "n": 3, "text": "My card was stolen", "nested": ["a": ["b": 1.5]], "flag": true,
                "nothing": .null, "missing": .null,
            ],
            "config": ["review_threshold": 0.7], "routing": ["priority": "P1"], "classification": ["confidence": 0.2],
            "keywords": ["category": "fraud"],
        ],
        ["input": ["amount": 150, "tags": [], "text": "", "nested": "flat"], "routing": .array([]), "classification": ["confidence": "high"]],
    ]

    @Test("mutated guards never crash; strict evaluation agrees with lenient evaluation when it answers")
    func guardLanguage() {
        var random = SplitMix64(seed: Self.seed ^ 0xE7E7)
        let count = Self.iterations(default: 40_000)
        var parsed = 0, strictAnswers = 0
        for index in 0..<count {
            var text = Self.guards[Int(random.next() % UInt64(Self.guards.count))]
            for _ in 0..<(1 + Int(random.next() % 3)) {
                var characters = Array(text)
                let at = Int(random.next() % UInt64(characters.count + 1))
                switch random.next() % 4 {
                case 0: characters.insert(contentsOf: Self.expressionTokens[Int(random.next() % UInt64(Self.expressionTokens.count))], at: at)
                case 1: if at < characters.count { characters.remove(at: at) }
                case 2: characters = Array(characters.prefix(at))
                default: characters.insert(contentsOf: " " + Self.expressionTokens[Int(random.next() % UInt64(Self.expressionTokens.count))] + " ", at: at)
                }
                text = String(characters)
            }
            if Self.longRun { Self.record(index: index, text, in: "guard") }
            guard let expression = try? Expression(text) else { continue }
            parsed += 1
            _ = expression.referencedPaths
            for data in Self.data {
                let lenient = expression.evaluate(in: data)
                if let strict = try? expression.evaluateStrictly(in: data) {
                    strictAnswers += 1
                    #expect(strict == lenient, "'\(text)' strictly \(strict), leniently \(lenient)")
                }
                if let flag = try? expression.isTrueStrictly(in: data) {
                    #expect(flag == expression.isTrue(in: data), "'\(text)' over \(data)")
                }
            }
        }
        #expect(parsed > count / 20, "the mutations still produce valid guards")
        if Self.longRun { print("fuzz guards: \(count) cases (\(parsed) parsed, \(strictAnswers) strict answers), seed \(Self.seed)") }
    }
}

/// Sebastiano Vigna's SplitMix64: a tiny, fast, seedable generator (the same stream everywhere).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
