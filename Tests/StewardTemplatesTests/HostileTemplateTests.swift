import Foundation
import Testing

@testable import StewardTemplates

/// A complete template around `states` (indented two spaces under `states:`), starting on
/// line 1 with `template:`; the states begin on line `statesLine + 1`.
func templateText(states: String, touchpoints: String = "[a person reads the work]", extra: String = "", plugins: String = "[support]") -> String {
    """
    template: hostile
    version: 1.0.0
    vertical: testing
    aop: {domain: d, inputs: [i], outputs: [o], human_touchpoints: \(touchpoints), failure_modes: [f], escalation_target: e, may: [m], may_not: [n]}
    plugins: \(plugins)
    models: {writer: banking-intent@2.0.0}
    \(extra)
    states:
    \(states.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
    """
}

/// Line 8 is `states:`; the first state is on line 9.
let statesLine = 8

/// Templates built to break the loader: each must give located errors, quickly, and never crash.
@Suite("Hostile templates")
struct HostileTemplateTests {
    // MARK: ffi arguments (issue 17, item 1)

    struct ArgumentCase: Sendable, CustomTestStringConvertible {
        let name: String
        let signature: String
        let args: String?
        let parameters: Int
        let given: Int
        var testDescription: String { name }
    }

    static let argumentCases: [ArgumentCase] = [
        ArgumentCase(name: "more args than parameters", signature: "double churn_risk(double, double)", args: "[1, 2, 3, 4, 5, 6, 7]", parameters: 2, given: 7),
        ArgumentCase(name: "fewer args than parameters", signature: "int64_t months(int64_t, int32_t)", args: "[input.a]", parameters: 2, given: 1),
        ArgumentCase(name: "no args for a function that takes some", signature: "double f(double)", args: nil, parameters: 1, given: 0),
        ArgumentCase(name: "args for a function that takes none", signature: "double f(void)", args: "['x']", parameters: 0, given: 1),
        ArgumentCase(name: "more literal args than parameters, of the wrong type", signature: "bool f(bool)", args: "[true, 'a', 1.5]", parameters: 1, given: 3),
    ]

    @Test("an ffi state with the wrong number of args is one located error, not a crash", arguments: argumentCases)
    func ffiArguments(_ testCase: ArgumentCase) throws {
        let args = testCase.args.map { "\n  args: \($0)" } ?? ""
        let text = templateText(states: """
            score:
              kind: ffi
              library: churn
              signature: \(testCase.signature)\(args)
              next: done
            done: {kind: end}
            """, plugins: "[]")
        let found = diagnostics(of: text, file: "ffi.yaml", catalog: StepCatalog(steps: [], foreignProblems: [:]))
        #expect(found.count == 1, "\(found)")
        let diagnostic = try #require(found.first)
        #expect(diagnostic.message.contains("gives \(testCase.given); expected \(testCase.parameters) argument(s)"), "\(diagnostic)")
        // At the `args` list, or at the state's mapping when there is none.
        #expect(diagnostic.location.line == statesLine + (testCase.args == nil ? 2 : 5), "\(diagnostic)")
        #expect(diagnostic.location.column == (testCase.args == nil ? 5 : 11), "\(diagnostic)")
    }

    @Test("a template whose args are changed in code is refused by Plan, not crashed on")
    func ffiArgumentsChangedInCode() throws {
        let text = templateText(states: """
            score: {kind: ffi, library: churn, signature: double f(double), args: [1], next: done}
            done: {kind: end}
            """, plugins: "[]")
        var template = try TemplateParser.parse(text, file: "ffi.yaml")
        guard case .ffi(var foreign) = template.states[0].kind else { throw Failure("not ffi") }
        foreign.arguments += [try .init("2"), try .init("input.x")]
        template.states[0].kind = .ffi(foreign)
        let found = Plan.validate(template, catalog: StepCatalog(steps: [], foreignProblems: [:]))
        #expect(found.map(\.message) == ["f takes 1 argument(s) but 'args' of state 'score' gives 3; expected 1 argument(s), one per parameter"])
    }

    // MARK: YAML bounds (issue 17, item 2)

    /// Ten anchors, each a list of ten aliases of the one before: 1.3 KB standing for 10^10 nodes.
    static let aliasBomb: String = {
        var lines = ["template: bomb", "version: 1.0.0", "vertical: testing", "l0: &l0 [" + Array(repeating: "lol", count: 10).joined(separator: ", ") + "]"]
        for level in 1..<10 {
            lines.append("l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    struct LimitCase: Sendable, CustomTestStringConvertible {
        let name: String
        let text: String
        let line: Int
        let fragment: String
        var testDescription: String { name }
    }

    static let limitCases: [LimitCase] = [
        LimitCase(name: "alias bomb", text: aliasBomb, line: 8, fragment: "the document expands to more than 100000 nodes (alias *l3 stands for 11111 nodes)"),
        // As a key, the bomb would hang Yams' duplicate-key check while it composes the tree.
        LimitCase(
            name: "alias bomb as mapping keys", text: aliasBomb.replacingOccurrences(of: "l9: &l9", with: "k9: &l9") + "? *l9\n: 1\n? *l8\n: 2\n",
            line: 8, fragment: "expands to more than 100000 nodes"),
        LimitCase(
            name: "flow lists nested 65 deep", text: "template: deep\nx: " + String(repeating: "[", count: 64) + "1" + String(repeating: "]", count: 64) + "\n",
            line: 2, fragment: "mappings and lists nest deeper than 64 levels; expected at most 64"),
        LimitCase(
            name: "block lists nested 200 deep", text: "template: deep\nx:\n" + String(repeating: "- ", count: 200) + "1\n",
            line: 3, fragment: "nest deeper than 64 levels"),
        LimitCase(
            name: "nesting reached through an alias",
            text: "a: &deep " + String(repeating: "[", count: 40) + "1" + String(repeating: "]", count: 40) + "\nb: " + String(repeating: "[", count: 30) + "*deep" + String(repeating: "]", count: 30) + "\n",
            line: 2, fragment: "alias *deep nests mappings and lists 71 levels deep; expected at most 64"),
        LimitCase(
            name: "more than 1000 aliases", text: "a: &a x\nb: [" + Array(repeating: "*a", count: 1_001).joined(separator: ", ") + "]\n",
            line: 2, fragment: "more than 1000 aliases; expected at most 1000"),
        LimitCase(
            name: "more than 100000 written nodes", text: "a: [" + Array(repeating: "1", count: 100_000).joined(separator: ",") + "]\n",
            line: 1, fragment: "the document expands to more than 100000 nodes; expected at most 100000"),
        LimitCase(
            name: "a file over 1 MiB", text: "template: big\n" + String(repeating: "# padding padding padding padding padding padding padding\n", count: 20_000),
            line: 18_080, fragment: "the file is 1160014 bytes; expected at most 1048576 bytes (1 MiB)"),
    ]

    @Test("a file past a YAML bound is refused at once with a located error", arguments: limitCases)
    func yamlLimits(_ testCase: LimitCase) throws {
        for asOverlay in [false, true] {
            let started = ContinuousClock.now
            var found: [TemplateDiagnostic] = []
            do {
                if asOverlay {
                    _ = try TemplateParser.parseOverlay(testCase.text, file: "limits.yaml")
                } else {
                    _ = try TemplateParser.parseLeniently(testCase.text, file: "limits.yaml")
                }
            } catch {
                found = error.diagnostics
            }
            let elapsed = ContinuousClock.now - started
            #expect(elapsed < .seconds(1), "took \(elapsed)")
            #expect(found.count == 1, "\(found)")
            let diagnostic = try #require(found.first)
            #expect(diagnostic.location.file == "limits.yaml")
            #expect(diagnostic.location.line == testCase.line, "\(diagnostic)")
            #expect(diagnostic.message.contains(testCase.fragment), "\(diagnostic)")
        }
    }

    @Test("anchors and aliases within the bounds still work")
    func aliasesWithinBounds() throws {
        let text = templateText(states: """
            intake: {kind: step, step: support.normalize, retry: &patient {max_attempts: 5}, next: route}
            route: {kind: step, step: support.route, retry: *patient, next: done}
            done: {kind: end}
            """)
        let plan = try Plan(validating: TemplateParser.parse(text, file: "anchors.yaml"), catalog: shippedCatalog)
        guard case .step(let route)? = plan.state("route")?.kind else { throw Failure("route") }
        #expect(route.retry.maxAttempts == 5)
    }

    // MARK: Scalars that used to trap

    struct ScalarCase: Sendable, CustomTestStringConvertible {
        let name: String
        let extra: String
        let fragment: String?
        var testDescription: String { name }
    }

    static let scalarCases: [ScalarCase] = [
        // Yams reads 1:1:…:1 as base 60 and overflows Int; here it is text.
        ScalarCase(name: "a base-60 scalar beyond Int in config", extra: "config: {when: 1:1:1:1:1:1:1:1:1:1:1:1:1}", fragment: nil),
        ScalarCase(name: "a base-60 retry count", extra: "retry: {max_attempts: 99999999999:0}", fragment: "expected a whole number in 1...100 for 'retry.max_attempts'"),
        ScalarCase(name: "an infinite number in config", extra: "config: {limit: 1e999}", fragment: "the number '1e999' is not finite"),
        ScalarCase(name: ".inf in config", extra: "config: {limit: -.inf}", fragment: "the number '-.inf' is not finite"),
        ScalarCase(name: "an infinite retry multiplier", extra: "retry: {multiplier: .inf}", fragment: "expected a finite number for 'retry.multiplier'"),
        ScalarCase(
            name: "an SLA duration that overflows", extra: "sla: {priority: input.p, targets: {P1: {first_response: 9999999999999999h, resolution: 4h}}}",
            fragment: "expected a duration like '15m', '4h' or '1h30m' (at most 87600h)"),
        ScalarCase(
            name: "an SLA duration beyond ten years", extra: "sla: {priority: input.p, targets: {P1: {resolution: 87601h}}}",
            fragment: "(at most 87600h) for 'sla.targets.P1'.resolution"),
        ScalarCase(
            name: "a guard nested 70 deep", extra: "sla: {priority: '\(String(repeating: "(", count: 70))1\(String(repeating: ")", count: 70))'}",
            fragment: "the expression nests deeper than 64 levels"),
        ScalarCase(name: "an infinite number in a guard", extra: "sla: {priority: 'input.a > 1e309'}", fragment: "number '1e309' is too large"),
    ]

    @Test("hostile scalars give errors (or text), never a trap", arguments: scalarCases)
    func scalars(_ testCase: ScalarCase) {
        let text = templateText(states: "intake: {kind: step, step: support.normalize, next: done}\ndone: {kind: end}", extra: testCase.extra)
        let found = diagnostics(of: text, file: "scalars.yaml")
        if let fragment = testCase.fragment {
            #expect(found.count == 1 && found[0].message.contains(fragment), "\(found)")
            #expect(found.first?.location.line == 7, "\(found)")
        } else {
            #expect(found.isEmpty, "\(found)")
        }
    }
}
