/// A route on which model output reaches an effect without a person deciding first.
public struct HumanInPathViolation: Sendable, Hashable {
    /// The states from the `model` state to the state with the effect, in order.
    public var states: [String]
    /// What the last state does: `step 'support.send_reply'` or `ffi 'churn_risk'`.
    public var effect: String
    /// Where the last state is declared.
    public var stepLocation: SourceLocation

    /// "classify → route → respond (step 'support.send_reply')".
    public var route: String { states.joined(separator: " → ") }
}

extension Plan {
    /// Every state, other than a pure step, that model output can reach without passing a
    /// checkpoint that always opens, each with one shortest route from a `model` state.
    ///
    /// The rule of `human_in_path: required`: a checkpoint stops a route when it has a
    /// credential and no `when` (any `when` may skip it); choices and models let it through;
    /// every exit counts (`on_error` too). A `step` state is an effect unless its step is in
    /// `pureSteps` (nil: none is); an `ffi` state is always one (a C function may do anything).
    /// Pure and deterministic (states in file order).
    public static func humanInPathViolations(in template: Template, pureSteps: Set<String>?) -> [HumanInPathViolation] {
        let states = Dictionary(template.states.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        // Breadth first from every model state at once, so each effect gets a shortest route.
        var previous: [String: String] = [:]
        var seen = Set(template.states.filter { if case .model = $0.kind { return true } else { return false } }.map(\.name))
        var queue = template.states.map(\.name).filter { seen.contains($0) }
        var violations: [String: HumanInPathViolation] = [:]
        var head = 0
        while head < queue.count {
            let name = queue[head]
            head += 1
            guard let state = states[name] else { continue }
            if case .checkpoint(let checkpoint) = state.kind, !checkpoint.credential.isEmpty, checkpoint.when == nil { continue }
            for exit in state.exits where !seen.contains(exit.target) {
                guard let target = states[exit.target] else { continue }
                seen.insert(exit.target)
                previous[exit.target] = name
                queue.append(exit.target)
                let effect: String
                switch target.kind {
                case .step(let step) where !(pureSteps?.contains(step.step) ?? false): effect = "step '\(step.step)'"
                case .ffi(let foreign): effect = "ffi '\(foreign.signature.name)'"
                default: continue
                }
                var route = [exit.target]
                while let before = previous[route[0]] { route.insert(before, at: 0) }
                route[route.count - 1] += " (\(effect))"
                violations[exit.target] = HumanInPathViolation(states: route, effect: effect, stepLocation: target.location)
            }
        }
        return template.states.compactMap { violations[$0.name] }
    }

    /// The checkpoint an AOP touchpoint names: its leading word, when that word is a state of
    /// the template followed by a comma, a colon or the end (`review_reply, for P1 tickets`,
    /// `gate`), or is written like a state name (lower case, digits, `_`, `-`) and followed
    /// by a comma or a colon (`reveiw, …`, a misspelt name). Free text (`A person reviews …`,
    /// `review of uncertain results`, a lone word that is no state) names none.
    static func touchpointName(_ entry: String, states: Set<String>) -> String? {
        let word = entry.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
        guard !word.isEmpty else { return nil }
        let rest = entry.dropFirst(word.count).drop { $0 == " " }
        let separated = rest.first == "," || rest.first == ":"
        guard rest.isEmpty || separated else { return nil }
        let name = String(word)
        if states.contains(name) { return name }
        let stateLike = name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-" }
        return stateLike && separated ? name : nil
    }

    /// Touchpoints naming what is not a checkpoint, and — once the AOP names any checkpoint,
    /// or the template requires a human in the path — checkpoints the AOP does not name.
    static func touchpointDiagnostics(_ template: Template, states: [String: State], opaque: Set<String>) -> [TemplateDiagnostic] {
        // The template's own checkpoints and those of its inline branches, in the order written.
        let checkpoints = template.allStates.filter { if case .checkpoint = $0.kind { return states[$0.name] != nil } else { return false } }.map(\.name)
        let expected = checkpoints.isEmpty ? "the template has no checkpoint" : "expected one of the checkpoints: \(checkpoints.joined(separator: ", "))"
        var diagnostics: [TemplateDiagnostic] = []
        var named: Set<String> = []
        for (index, entry) in template.aop.humanTouchpoints.enumerated() {
            guard let name = touchpointName(entry, states: Set(states.keys).union(opaque)) else { continue }
            let location = index < template.touchpointLocations.count
                ? template.touchpointLocations[index] : SourceLocation(file: template.file, line: 1, column: 1)
            if opaque.contains(name) { continue }
            if let state = states[name] {
                if case .checkpoint = state.kind {
                    named.insert(name)
                } else {
                    diagnostics.append(TemplateDiagnostic(location, "aop.human_touchpoints names '\(name)', which is a \(state.kindName) state, not a checkpoint; \(expected)"))
                }
            } else {
                let suggestion = closest(name, checkpoints).map { " (did you mean '\($0)'?)" } ?? ""
                diagnostics.append(TemplateDiagnostic(location, "aop.human_touchpoints names unknown checkpoint '\(name)'\(suggestion); \(expected)"))
            }
        }
        guard !named.isEmpty || template.humanInPath == .required else { return diagnostics }
        for name in checkpoints where !named.contains(name) {
            guard let state = states[name] else { continue }
            diagnostics.append(TemplateDiagnostic(
                state.location,
                "checkpoint '\(name)' is not named in aop.human_touchpoints; expected an entry starting '\(name), ' that says when a person reviews"))
        }
        return diagnostics
    }
}
