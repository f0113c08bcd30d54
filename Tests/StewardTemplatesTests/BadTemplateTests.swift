import Foundation
import Testing

@testable import StewardTemplates

/// The steps the shipped plugins provide (`Plugins/support`, `Plugins/keywords`).
let shippedCatalog = StepCatalog(steps: [
    "support.normalize", "support.route", "support.draft_reply", "support.send_reply", "keywords.classify", "kb.search",
])

/// `Tests/StewardTemplatesTests/Fixtures`, found from this file so the tests run from any directory.
let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// One expected diagnostic: where it is and a fragment of its message.
struct ExpectedDiagnostic: Sendable, CustomStringConvertible {
    let line: Int
    let column: Int
    let fragment: String
    var description: String { "\(line):\(column) \(fragment)" }

    init(_ line: Int, _ column: Int, _ fragment: String) {
        self.line = line
        self.column = column
        self.fragment = fragment
    }
}

/// Parses then validates `text` the way `steward validate` does: structural problems are
/// reported first; the graph, steps and data paths are checked once the file parses.
func diagnostics(of text: String, file: String, catalog: StepCatalog? = shippedCatalog) -> [TemplateDiagnostic] {
    do {
        // The engine's path: lenient parse, then structural and graph problems together.
        let parsed = try TemplateParser.parseLeniently(text, file: file)
        _ = try Plan(validating: parsed, catalog: catalog)
        return []
    } catch {
        return error.diagnostics
    }
}

@Suite("Bad templates")
struct BadTemplateTests {
    /// Every file in `Fixtures/bad` with every diagnostic it must yield, in file order.
    static let expectations: [String: [ExpectedDiagnostic]] = [
        "unknown-state-kind.yaml": [
            .init(23, 11, "unknown state kind 'stpe' in state 'classify' (did you mean 'step'?); expected one of: step, choice, checkpoint, end")
        ],
        "missing-state.yaml": [
            .init(22, 15, "transition to unknown state 'faild' (did you mean 'failed'?); expected one of: intake, classify, done, failed")
        ],
        "unreachable-state.yaml": [
            .init(28, 3, "state 'escalate' is unreachable from the start state 'intake'")
        ],
        "no-exit.yaml": [
            .init(32, 3, "step state 'stuck_step' has no exit; expected 'next'"),
            .init(36, 3, "checkpoint state 'stuck_review' has no exit; expected 'decisions'"),
            .init(39, 3, "choice state 'stuck_choice' has no exit; expected 'choices' or 'otherwise'"),
        ],
        "unknown-plugin-step.yaml": [
            .init(19, 11, "unknown plugin step 'support.normalise'; expected one of: support.draft_reply, support.normalize, support.route, support.send_reply"),
            .init(24, 11, "step 'kb.search' belongs to plugin 'kb', which the template does not list in 'plugins'"),
        ],
        // Columns point into the guard text: at the '=', the end, the function name, the quote.
        "guard-syntax-error.yaml": [
            .init(25, 33, "invalid expression in 'when' of state 'triage': unexpected '='; did you mean '=='?"),
            .init(27, 41, "invalid expression in 'when' of state 'triage': expected an operand, found the end"),
            .init(29, 16, "unknown function 'size'"),
            .init(35, 29, "invalid expression in 'when' of state 'review': unterminated string"),
        ],
        "missing-aop-field.yaml": [
            .init(6, 3, "missing 'escalation_target' in 'aop'")
        ],
        "unknown-key-typo.yaml": [
            .init(26, 5, "unknown key 'ouptut' in state 'classify' (did you mean 'output'?)"),
            .init(30, 1, "unknown key 'descripton' in the template (did you mean 'description'?)"),
        ],
        "unknown-data-path.yaml": [
            .init(25, 15, "reads 'tikcet.word_count', but no step writes 'tikcet' (did you mean 'ticket'?)"),
            .init(30, 11, "expression 'chanel' in state 'classify' reads 'chanel', but no step writes 'chanel'"),
            .init(37, 11, "reads 'clasification.confidence', but no step writes 'clasification' (did you mean 'classification'?)"),
        ],
        "missing-start.yaml": [
            .init(15, 8, "start state 'intkae' does not exist; expected one of: intake, done")
        ],
        "no-end-reachable.yaml": [
            .init(15, 8, "no end state is reachable from 'intake'")
        ],
        "duplicate-state.yaml": [
            .init(17, 3, "duplicate keys intake")
        ],
        "yaml-syntax.yaml": [
            .init(19, 4, "YAML syntax: did not find expected key")
        ],
        "empty.yaml": [
            .init(1, 1, "the file is empty")
        ],
        "not-a-mapping.yaml": [
            .init(2, 1, "expected a mapping for the template, found a list")
        ],
        // Ten different mistakes, all reported in one pass.
        // Ten mistakes of both kinds, structural and graph, in one pass.
        "ten-mixed-mistakes.yaml": [
            .init(6, 3, "missing 'escalation_target' in 'aop'"),
            .init(18, 11, "unknown plugin step 'support.normalise'; expected one of: support.draft_reply, support.normalize"),
            .init(23, 11, "reads 'tickt.body', but no step writes 'tickt' (did you mean 'ticket'?)"),
            .init(30, 42, "invalid expression in 'when' of state 'route': expected an operand, found '>'"),
            .init(33, 15, "transition to unknown state 'escalte'"),
            .init(40, 7, "unknown key 'escalate' in 'decisions' of state 'review'; expected one of: approve, edit, reject"),
            .init(41, 3, "state 'respond' is unreachable from the start state 'intake'"),
            .init(45, 3, "step state 'stuck' has no exit; expected 'next'"),
            .init(45, 3, "state 'stuck' is unreachable from the start state 'intake'"),
            .init(49, 11, "unknown state kind 'ende' in state 'done' (did you mean 'end'?)"),
        ],
        "ten-mistakes.yaml": [
            .init(5, 1, "unknown key 'descripton' in the template (did you mean 'description'?)"),
            .init(7, 3, "missing 'escalation_target' in 'aop'"),
            .init(12, 8, "'aop.may' is empty; expected at least one item"),
            .init(15, 23, "expected a whole number in 1...100 for 'retry.max_attempts', found scalar '0'"),
            .init(19, 11, "unknown state kind 'stpe' in state 'intake' (did you mean 'step'?)"),
            .init(24, 11, "expected a step name of the form 'plugin.step' in state 'classify', found 'classify'"),
            .init(30, 35, "invalid expression in 'when' of state 'triage': unexpected '='; did you mean '=='?"),
            .init(34, 5, "missing 'credential' in state 'review'"),
            .init(41, 7, "missing 'approve' in 'decisions' of state 'second_review'"),
            .init(44, 13, "unknown end status 'complete' in state 'done'; expected one of: completed, rejected, failed"),
        ],
    ]

    static let badFiles: [String] = {
        let folder = fixturesDirectory.appendingPathComponent("bad")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted()
    }()

    @Test("every bad template yields exactly its expected diagnostics", arguments: badFiles)
    func badTemplate(name: String) throws {
        let text = try String(contentsOf: fixturesDirectory.appendingPathComponent("bad/\(name)"), encoding: .utf8)
        let expected = try #require(Self.expectations[name], "no expectations declared for bad/\(name)")
        let found = diagnostics(of: text, file: "bad/\(name)")
        #expect(found.count == expected.count, "\(found.map(\.description).joined(separator: "\n"))")
        for (diagnostic, expectation) in zip(found, expected) {
            #expect(diagnostic.location.file == "bad/\(name)")
            #expect(
                diagnostic.location.line == expectation.line && diagnostic.location.column == expectation.column,
                "expected \(expectation), found \(diagnostic)")
            #expect(diagnostic.message.contains(expectation.fragment), "expected \(expectation), found \(diagnostic)")
        }
    }

    @Test("the table and the folder agree")
    func tableCoversFolder() {
        #expect(Self.badFiles.count >= 16)
        #expect(Set(Self.badFiles) == Set(Self.expectations.keys))
    }

    @Test("ten-mistakes.yaml: ten mistakes on ten lines, one diagnostic each")
    func tenDistinctMistakes() throws {
        let text = try String(contentsOf: fixturesDirectory.appendingPathComponent("bad/ten-mistakes.yaml"), encoding: .utf8)
        let found = diagnostics(of: text, file: "ten-mistakes.yaml")
        #expect(found.count == 10)
        #expect(Set(found.map(\.location.line)).count == 10)
        // Fixing the first mistake removes exactly its diagnostic: nothing is reported twice.
        let fixed = text.replacingOccurrences(of: "descripton:", with: "description:")
        #expect(diagnostics(of: fixed, file: "ten-mistakes.yaml").count == 9)
    }

    @Test("a step unknown to the catalog passes when no catalog is given")
    func catalogIsOptional() throws {
        let text = try String(contentsOf: fixturesDirectory.appendingPathComponent("bad/unknown-plugin-step.yaml"), encoding: .utf8)
        let found = diagnostics(of: text, file: "f.yaml", catalog: nil)
        // Without plugins loaded only the unlisted plugin is reported.
        #expect(found.map(\.location.line) == [24])
        let withoutKeywords = diagnostics(
            of: text.replacingOccurrences(of: "kb.search", with: "keywords.classify"), file: "f.yaml",
            catalog: StepCatalog(steps: ["support.normalize"]))
        #expect(withoutKeywords.map(\.message) == [
            "unknown plugin step 'support.normalise'; expected one of: support.normalize",
            "unknown plugin step 'keywords.classify'; plugin 'keywords' is not loaded",
        ])
    }

    @Test("a guard's column counts from the start of the scalar, whatever its quoting")
    func guardColumns() throws {
        let base = try String(contentsOf: fixturesDirectory.appendingPathComponent("bad/unknown-state-kind.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "kind: stpe", with: "kind: step")
        #expect(diagnostics(of: base, file: "f.yaml").isEmpty)
        // (text of the guard, column of the problem on its line)
        let guards: [(String, Int)] = [
            ("a = 1", 17), ("\"a = 1\"", 18), ("'a = 1'", 18), ("  a = 1", 19), ("ticket.word_count < 2 or", 39),
        ]
        for (guardText, column) in guards {
            let text = base.replacingOccurrences(of: "    next: done\n  done:", with: """
                    next: check
                  check:
                    kind: choice
                    choices:
                      - when: \(guardText)
                        next: done
                    otherwise: done
                  done:
                """)
            let found = diagnostics(of: text, file: "f.yaml")
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let guardLine = try #require(lines.firstIndex { $0.contains("- when:") }) + 1
            #expect(found.count == 1, "\(guardText): \(found)")
            #expect(found.first?.location.line == guardLine, "\(guardText)")
            #expect(found.first?.location.column == column, "\(guardText): \(found)")
        }
    }

    @Test("diagnostics print as file:line:col: error: message, sorted by place")
    func formatting() {
        let late = TemplateDiagnostic(SourceLocation(file: "a.yaml", line: 9, column: 2), "second")
        let early = TemplateDiagnostic(SourceLocation(file: "a.yaml", line: 3, column: 7), "first")
        let sameLine = TemplateDiagnostic(SourceLocation(file: "a.yaml", line: 9, column: 1), "between")
        let errors = TemplateErrors([late, early, sameLine])
        #expect(errors.diagnostics.map(\.message) == ["first", "between", "second"])
        #expect(early.description == "a.yaml:3:7: error: first")
        #expect(errors.description == "a.yaml:3:7: error: first\na.yaml:9:1: error: between\na.yaml:9:2: error: second")
    }

    @Test(
        "typo suggestions use edit distance with transpositions",
        arguments: [
            ("stpe", ["step", "choice", "checkpoint", "end"], "step" as String?),
            ("nxet", ["next", "on_error"], "next"),
            ("ouptut", ["output", "input"], "output"),
            ("chiose", ["step", "choice"], "choice"),
            ("descripton", ["description", "version"], "description"),
            ("xyz", ["step", "choice"], nil),
            ("e", ["end", "step"], nil),
        ])
    func suggestions(word: String, candidates: [String], expected: String?) {
        #expect(YAMLReader.closest(to: word, in: candidates) == expected)
    }
}
