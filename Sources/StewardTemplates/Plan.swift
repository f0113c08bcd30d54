import StewardExpressions
import StewardJSON

/// What the validator knows of the plugins: which step names exist.
public struct StepCatalog: Sendable {
    /// Full step names (`plugin.step`) that are loaded.
    public var steps: Set<String>
    /// What is known of the libraries `ffi` states call, by library name: a problem per
    /// missing library or symbol (absent: not checked).
    public var foreignProblems: [String: [String: String]]?
    /// Loaded model adapters as `id@version` (absent: not checked).
    public var adapters: Set<String>?
    /// Loaded prompt ids (absent: not checked).
    public var prompts: Set<String>?
    /// Steps (`plugin.step`) flagged pure: no effect outside the instance data, so model output
    /// may reach them without a person in between under `human_in_path: required`. Absent:
    /// no step is pure.
    public var pureSteps: Set<String>?

    /// Creates a catalog.
    public init(
        steps: Set<String>, foreignProblems: [String: [String: String]]? = nil, adapters: Set<String>? = nil,
        prompts: Set<String>? = nil, pureSteps: Set<String>? = nil
    ) {
        self.steps = steps
        self.foreignProblems = foreignProblems
        self.adapters = adapters
        self.prompts = prompts
        self.pureSteps = pureSteps
    }

    /// The plugin names the steps belong to.
    public var plugins: Set<String> { Set(steps.compactMap { $0.split(separator: ".").first.map(String.init) }) }
}

/// What lenient parsing produced: a template (with placeholders where parts were broken),
/// its structural problems, and the states that did not parse with the exits they mention.
public struct ParsedTemplate: Sendable {
    /// The template.
    public var template: Template
    /// Structural problems.
    public var diagnostics: [TemplateDiagnostic]
    /// Broken states by name, with the state names they mention as exits.
    public var opaqueStates: [String: [String]]

    /// Creates a parse result.
    public init(template: Template, diagnostics: [TemplateDiagnostic], opaqueStates: [String: [String]]) {
        self.template = template
        self.diagnostics = diagnostics
        self.opaqueStates = opaqueStates
    }
}

/// A template that passed validation, indexed for the runtime. Immutable and shareable.
public struct Plan: Sendable {
    /// The validated template.
    public let template: Template
    /// States by name.
    public let statesByName: [String: State]
    /// The plans of the inline branches of its `map` and `parallel` states, by branch key (the
    /// state's name for `map`, `state.branch` for `parallel`); each is named
    /// `<template>:<key>` and runs as its own child instances.
    public let branchPlans: [String: Plan]

    /// Data roots every instance has besides its step outputs.
    public static let builtInRoots: Set<String> = ["input", "config", "reviews", "errors", "instance"]

    /// Validates `template` (against `catalog` when given) and builds the plan, or throws
    /// every problem found.
    public init(validating template: Template, catalog: StepCatalog?) throws(TemplateErrors) {
        try self.init(validating: ParsedTemplate(template: template, diagnostics: [], opaqueStates: [:]), catalog: catalog)
    }

    /// Validates a leniently parsed template: its structural problems and the graph problems
    /// together, or builds the plan when there are none.
    public init(validating parsed: ParsedTemplate, catalog: StepCatalog?) throws(TemplateErrors) {
        var diagnostics = parsed.diagnostics
        for diagnostic in Self.validate(parsed.template, catalog: catalog, opaqueStates: parsed.opaqueStates)
        where !diagnostics.contains(diagnostic) {
            diagnostics.append(diagnostic)
        }
        guard diagnostics.isEmpty else { throw TemplateErrors(diagnostics) }
        self.init(checked: parsed.template)
    }

    /// A plan of a template already validated (with its branches).
    init(checked template: Template) {
        self.template = template
        self.statesByName = Dictionary(template.states.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var branches: [String: Plan] = [:]
        for state in template.states {
            for branch in state.fanOut?.branches ?? [] {
                guard case .inline(let key) = branch.body else { continue }
                branches[key] = Plan(checked: Self.branchTemplate(of: template, key: key, branch: branch))
            }
        }
        self.branchPlans = branches
    }

    /// The template an inline branch runs: the parent's, with the branch's states and start,
    /// named `<template>:<key>` (its checkpoints' touchpoints are the parent's AOP's).
    static func branchTemplate(of template: Template, key: String, branch: FanOutState.Branch) -> Template {
        var sub = template
        sub.name = template.name + ":" + key
        sub.states = branch.states.map { state in
            var state = state
            if state.isCallable {
                if state.timeoutMilliseconds == nil { state.timeoutMilliseconds = template.defaultTimeoutMilliseconds }
                if state.maxOutputBytes == nil { state.maxOutputBytes = template.defaultMaxOutputBytes }
            }
            return state
        }
        sub.start = branch.start ?? ""
        sub.startLocation = branch.startLocation ?? template.startLocation
        sub.eval = nil
        sub.aop.humanTouchpoints = []
        sub.touchpointLocations = []
        return sub
    }

    /// The first event state waiting for `event` that keeps it when it arrives early (`buffer: true`).
    public func bufferingState(for event: String) -> EventState? {
        for state in template.states {
            if case .event(let awaited) = state.kind, awaited.event == event, awaited.buffer { return awaited }
        }
        return nil
    }

    /// The plan a branch of fan-out state `state` runs, for an inline branch.
    public func branchPlan(_ key: String) -> Plan? { branchPlans[key] }

    /// Template name.
    public var name: String { template.name }
    /// Template version.
    public var version: String { template.version }

    /// The state named `name`; the plan guarantees every reference resolves.
    public func state(_ name: String) -> State? { statesByName[name] }

    /// Every problem in `template`: references, reachability, exits, steps, data paths, the
    /// AOP's touchpoints against the checkpoints, and (under `human_in_path: required`) every
    /// route from a model state to a step not in `catalog.pureSteps` that no person stands on.
    public static func validate(_ template: Template, catalog: StepCatalog?, opaqueStates: [String: [String]] = [:]) -> [TemplateDiagnostic] {
        validate(template, catalog: catalog, opaqueStates: opaqueStates, nested: false)
    }

    /// `validate`, for a template or (`nested`) an inline branch, whose touchpoints the parent checks.
    static func validate(_ template: Template, catalog: StepCatalog?, opaqueStates: [String: [String]], nested: Bool) -> [TemplateDiagnostic] {
        var diagnostics: [TemplateDiagnostic] = []
        var names: [String: State] = [:]
        // A broken state's exits, and the data roots it would write (its name, or its `output`).
        let opaque = opaqueStates.mapValues { $0.filter { !$0.hasPrefix("\u{0}") } }
        let opaqueRoots = opaqueStates.flatMap { name, mentions -> [String] in
            let outputs = mentions.filter { $0.hasPrefix("\u{0}output:") }.map { String($0.dropFirst("\u{0}output:".count).split(separator: ".").first ?? "") }
            return outputs.isEmpty ? [name] : outputs
        }
        for state in template.states {
            if names[state.name] != nil {
                diagnostics.append(TemplateDiagnostic(state.location, "duplicate state '\(state.name)'; expected unique state names"))
            }
            names[state.name] = state
        }
        let known = template.states.map(\.name) + opaque.keys.sorted()
        func unknownTarget(_ target: String) -> String {
            let suggestion = closest(target, known).map { " (did you mean '\($0)'?)" } ?? ""
            return "transition to unknown state '\(target)'\(suggestion); expected one of: \(known.joined(separator: ", "))"
        }
        if !template.states.isEmpty, names[template.start] == nil, opaque[template.start] == nil {
            diagnostics.append(TemplateDiagnostic(template.startLocation, "start state '\(template.start)' does not exist; expected one of: \(known.joined(separator: ", "))"))
        }
        let outputs = Set(template.states.compactMap { state -> String? in
            switch state.kind {
            case .step(let step): return step.output.split(separator: ".").first.map(String.init)
            case .ffi(let foreign): return foreign.output.split(separator: ".").first.map(String.init)
            case .model(let model): return model.output.split(separator: ".").first.map(String.init)
            case .event(let event): return event.output.split(separator: ".").first.map(String.init)
            case .map(let fanOut), .parallel(let fanOut): return fanOut.output.split(separator: ".").first.map(String.init)
            default: return nil
            }
        })
        let roots = builtInRoots.union(outputs).union(opaqueRoots)
        for state in template.states {
            for exit in state.exits where names[exit.target] == nil && opaque[exit.target] == nil {
                diagnostics.append(TemplateDiagnostic(exit.location, unknownTarget(exit.target)))
            }
            switch state.kind {
            case .step(let step):
                if step.next == nil {
                    diagnostics.append(TemplateDiagnostic(state.location, "step state '\(state.name)' has no exit; expected 'next'"))
                }
                let plugin = step.step.split(separator: ".").first.map(String.init) ?? ""
                if !step.step.contains(".") {
                    // Already reported by the parser: not of the form plugin.step.
                } else if !template.plugins.contains(plugin) {
                    diagnostics.append(TemplateDiagnostic(step.stepLocation, "step '\(step.step)' belongs to plugin '\(plugin)', which the template does not list in 'plugins' (\(template.plugins.joined(separator: ", ")))"))
                } else if let catalog, !catalog.steps.contains(step.step) {
                    let pluginSteps = catalog.steps.filter { $0.hasPrefix(plugin + ".") }.sorted()
                    let expected = pluginSteps.isEmpty ? "plugin '\(plugin)' is not loaded" : "expected one of: \(pluginSteps.joined(separator: ", "))"
                    diagnostics.append(TemplateDiagnostic(step.stepLocation, "unknown plugin step '\(step.step)'; \(expected)"))
                }
                diagnostics += pathDiagnostics(step.input, roots: roots, at: step.stepLocation, in: state.name)
            case .choice(let choice):
                if choice.branches.isEmpty && choice.otherwise == nil {
                    diagnostics.append(TemplateDiagnostic(state.location, "choice state '\(state.name)' has no exit; expected 'choices' or 'otherwise'"))
                }
                for branch in choice.branches {
                    diagnostics += rootDiagnostics(branch.when, roots: roots, at: branch.whenLocation, in: state.name)
                }
            case .checkpoint(let checkpoint):
                if checkpoint.decisions.isEmpty {
                    diagnostics.append(TemplateDiagnostic(state.location, "checkpoint state '\(state.name)' has no exit; expected 'decisions' with at least 'approve'"))
                }
                if let when = checkpoint.when {
                    diagnostics += rootDiagnostics(when, roots: roots, at: checkpoint.whenLocation ?? state.location, in: state.name)
                }
                if let sample = checkpoint.sample {
                    diagnostics += sampleDiagnostics(sample, checkpoint: checkpoint, roots: roots, in: state.name)
                }
            case .ffi(let foreign):
                if foreign.next == nil {
                    diagnostics.append(TemplateDiagnostic(state.location, "ffi state '\(state.name)' has no exit; expected 'next'"))
                }
                if let problem = catalog?.foreignProblems?[foreign.library]?[foreign.signature.name] {
                    diagnostics.append(TemplateDiagnostic(foreign.location, problem))
                }
                // The same diagnostic as the parser's (deduplicated), for templates built or changed in code.
                if let problem = ForeignState.argumentCountProblem(foreign.signature, given: foreign.arguments.count, state: state.name) {
                    diagnostics.append(TemplateDiagnostic(foreign.argumentsLocation ?? state.location, problem))
                }
                for argument in foreign.arguments {
                    diagnostics += rootDiagnostics(argument, roots: roots, at: foreign.location, in: state.name)
                }
                // Only the arguments that have a parameter; extra ones are the count error above.
                for (index, (argument, type)) in zip(foreign.arguments, foreign.signature.arguments).enumerated() {
                    if let problem = literalMismatch(argument, type) {
                        diagnostics.append(TemplateDiagnostic(foreign.location, "argument \(index + 1) of \(foreign.signature.name) is \(type.cName), but '\(argument.source)' is \(problem)"))
                    }
                }
            case .model(let model):
                if model.next == nil {
                    diagnostics.append(TemplateDiagnostic(state.location, "model state '\(state.name)' has no exit; expected 'next'"))
                }
                if let binding = template.models[model.role] {
                    if let adapters = catalog?.adapters, !adapters.contains(binding) {
                        diagnostics.append(TemplateDiagnostic(model.roleLocation, "role '\(model.role)' is bound to adapter \(binding), which is not loaded; loaded: \(adapters.sorted().joined(separator: ", "))"))
                    }
                } else {
                    diagnostics.append(TemplateDiagnostic(model.roleLocation, "role '\(model.role)' is not bound to an adapter; expected it under 'models' (e.g. \(model.role): adapter-id@1.0.0)"))
                }
                if let prompt = model.prompt, let prompts = catalog?.prompts, !prompts.contains(prompt) {
                    let suggestion = closest(prompt, Array(prompts)).map { " (did you mean '\($0)'?)" } ?? ""
                    diagnostics.append(TemplateDiagnostic(model.promptLocation ?? state.location, "unknown prompt '\(prompt)'\(suggestion)"))
                }
                diagnostics += pathDiagnostics(model.input, roots: roots, at: model.roleLocation, in: state.name)
            case .end(let end):
                if let output = end.output {
                    diagnostics += pathDiagnostics(output, roots: roots, at: state.location, in: state.name)
                }
            case .event(let event):
                if let correlate = event.correlate, let root = correlate.split(separator: ".").first.map(String.init), !roots.contains(root) {
                    diagnostics.append(TemplateDiagnostic(
                        state.location, "'correlate' of event state '\(state.name)' reads '\(correlate)', but no state writes '\(root)' and it is not input"))
                }
            case .map(let fanOut), .parallel(let fanOut):
                diagnostics += fanOutDiagnostics(fanOut, of: template, state: state, catalog: catalog, roots: roots)
            case .wait(let wait):
                if let until = wait.until, let root = until.split(separator: ".").first.map(String.init), !roots.contains(root) {
                    diagnostics.append(TemplateDiagnostic(
                        state.location, "'until' of wait state '\(state.name)' reads '\(until)', but no state writes '\(root)' and it is not input; expected a path like input.renewal_date"))
                }
            }
        }
        if !nested {
            // Checkpoints inside inline branches are the template's touchpoints too.
            var checkpoints = names
            var pending = template.states
            while let state = pending.popLast() {
                for branch in state.fanOut?.branches ?? [] {
                    for inner in branch.states where checkpoints[inner.name] == nil {
                        checkpoints[inner.name] = inner
                        pending.append(inner)
                    }
                }
            }
            diagnostics += touchpointDiagnostics(template, states: checkpoints, opaque: Set(opaque.keys))
        }
        if template.humanInPath == .required {
            for violation in humanInPathViolations(in: template, pureSteps: catalog?.pureSteps) {
                diagnostics.append(TemplateDiagnostic(
                    violation.stepLocation,
                    "human_in_path is required, but model output reaches \(violation.effect) with no person in between: \(violation.route); expected a checkpoint with a credential and no 'when' on every route from a model state to a step that is not pure"))
            }
        }
        // Reachability from the start state.
        if names[template.start] != nil || opaque[template.start] != nil {
            var seen: Set<String> = [template.start]
            var stack = [template.start]
            while let current = stack.popLast() {
                let targets = names[current].map { $0.exits.map(\.target) } ?? opaque[current] ?? []
                for target in targets where (names[target] != nil || opaque[target] != nil) && !seen.contains(target) {
                    seen.insert(target)
                    stack.append(target)
                }
            }
            for state in template.states where !seen.contains(state.name) {
                diagnostics.append(TemplateDiagnostic(state.location, "state '\(state.name)' is unreachable from the start state '\(template.start)'; expected a transition leading to it"))
            }
            // A broken state might be the end; only say "no end" when nothing is broken.
            if opaque.isEmpty, !template.states.contains(where: { if case .end = $0.kind { return seen.contains($0.name) } else { return false } }) {
                diagnostics.append(TemplateDiagnostic(template.startLocation, "no end state is reachable from '\(template.start)'; expected at least one state of kind 'end'"))
            }
        }
        return diagnostics
    }

    /// A fan-out's problems: its list and input read known data, and each inline branch is a
    /// valid template of its own (its input is what the fan-out builds).
    static func fanOutDiagnostics(
        _ fanOut: FanOutState, of template: Template, state: State, catalog: StepCatalog?, roots: Set<String>
    ) -> [TemplateDiagnostic] {
        var diagnostics: [TemplateDiagnostic] = []
        if let items = fanOut.items, let root = items.split(separator: ".").first.map(String.init), !roots.contains(root) {
            let suggestion = closest(root, roots.sorted()).map { " (did you mean '\($0)'?)" } ?? ""
            diagnostics.append(TemplateDiagnostic(
                fanOut.location,
                "'items' of map state '\(state.name)' reads '\(items)', but no state writes '\(root)'\(suggestion); expected a path to a list, like input.clauses"))
        }
        if let input = fanOut.input {
            let itemRoots: Set<String> = fanOut.items == nil ? [] : ["item", "index"]
            diagnostics += pathDiagnostics(input, roots: roots.union(itemRoots), at: state.location, in: state.name)
        }
        for branch in fanOut.branches {
            guard case .inline(let key) = branch.body else { continue }
            if branch.states.isEmpty {
                diagnostics.append(TemplateDiagnostic(branch.startLocation ?? state.location, "branch '\(branch.name)' of state '\(state.name)' has no states; expected at least a start state and an end state"))
                continue
            }
            diagnostics += validate(branchTemplate(of: template, key: key, branch: branch), catalog: catalog, opaqueStates: [:], nested: true)
        }
        return diagnostics
    }

    static func pathDiagnostics(_ input: InputMapping, roots: Set<String>, at location: SourceLocation, in state: String) -> [TemplateDiagnostic] {
        switch input {
        case .wholeData: return []
        case .expression(let expression): return rootDiagnostics(expression, roots: roots, at: location, in: state)
        case .object(let members):
            return members.values.flatMap { source -> [TemplateDiagnostic] in
                if case .expression(let expression) = source { return rootDiagnostics(expression, roots: roots, at: location, in: state) }
                return []
            }
        }
    }

    /// A path whose first segment is neither a built-in root nor a step's output is a typo.
    static func rootDiagnostics(_ expression: Expression, roots: Set<String>, at location: SourceLocation, in state: String) -> [TemplateDiagnostic] {
        expression.referencedPaths.compactMap { path -> TemplateDiagnostic? in
            guard let root = path.first, !roots.contains(root) else { return nil }
            // Sorted so that a tie between candidates is broken the same way on every run.
            let suggestion = closest(root, roots.sorted()).map { " (did you mean '\($0)'?)" } ?? ""
            return TemplateDiagnostic(location, "expression '\(expression.source)' in state '\(state)' reads '\(path.joined(separator: "."))', but no step writes '\(root)'\(suggestion); expected a path under one of: \(roots.sorted().joined(separator: ", "))")
        }
    }

    /// A sampling rule's problems: it must sit on a checkpoint with a `when` (one without
    /// always opens, so nothing passes it unreviewed), and each item must read the instance
    /// data (a step's output or a built-in root other than `config` and `instance`, which are
    /// not stored with the instance).
    static func sampleDiagnostics(_ sample: SampleRule, checkpoint: CheckpointState, roots: Set<String>, in state: String) -> [TemplateDiagnostic] {
        var diagnostics: [TemplateDiagnostic] = []
        if checkpoint.when == nil {
            diagnostics.append(TemplateDiagnostic(
                sample.location,
                "'sample' of state '\(state)' never applies: the checkpoint has no 'when', so a person reviews every instance; expected a 'when', or no 'sample'"))
        }
        let dataRoots = roots.subtracting(["config", "instance"])
        for (index, item) in sample.items.enumerated() {
            guard let root = item.split(separator: ".").first.map(String.init), !dataRoots.contains(root) else { continue }
            let suggestion = closest(root, dataRoots.sorted()).map { " (did you mean '\($0)'?)" } ?? ""
            let location = index < sample.itemLocations.count ? sample.itemLocations[index] : sample.location
            diagnostics.append(TemplateDiagnostic(
                location,
                "'sample.items' of state '\(state)' judges '\(item)', but no step writes '\(root)'\(suggestion); expected a path under one of: \(dataRoots.sorted().joined(separator: ", "))"))
        }
        return diagnostics
    }

    /// For a literal argument, what makes it the wrong type for `type` (nil when it fits or is not a literal).
    static func literalMismatch(_ expression: Expression, _ type: ForeignType) -> String? {
        guard expression.referencedPaths.isEmpty else { return nil }
        let value = expression.evaluate(in: .null)
        switch type {
        case .bool: return value.boolValue == nil ? "a \(value.typeName)" : nil
        case .float, .double: return value.doubleValue == nil ? "a \(value.typeName)" : nil
        case .string: return value.stringValue == nil ? "a \(value.typeName)" : nil
        case .void: return nil
        default:
            guard value.integerValue == nil else { return nil }
            return value.doubleValue != nil ? "not a whole number" : "a \(value.typeName)"
        }
    }

    /// The candidate nearest to `word` when it is close enough to be a likely typo (the
    /// template parser's own did-you-mean rule), for suggestions in messages about plans.
    public static func closest(_ word: String, _ candidates: [String]) -> String? {
        YAMLReader.closest(to: word, in: candidates)
    }

    /// The edit distance the parser's did-you-mean uses (a swap of neighbours is one edit),
    /// for suggestions elsewhere that keep their own bound.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        YAMLReader.editDistance(a, b)
    }
}
