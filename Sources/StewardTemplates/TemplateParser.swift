import StewardExpressions
import StewardJSON
import Yams

/// Turns the YAML text of a template into a `Template`, reporting every problem it finds.
public enum TemplateParser {
    static let topLevelKeys = [
        "template", "version", "vertical", "description", "aop", "plugins", "config", "start", "states", "retry",
        "sla", "escalation", "models", "timeout_ms", "max_output_bytes", "human_in_path", "eval",
    ]
    static let aopKeys = [
        "domain", "inputs", "outputs", "human_touchpoints", "failure_modes", "escalation_target", "may", "may_not",
    ]
    static let stateKinds = ["step", "choice", "checkpoint", "end", "ffi", "model", "wait", "event", "map", "parallel"]
    static let commonStateKeys = ["kind", "description"]
    static let keysByKind: [String: [String]] = [
        "step": ["step", "input", "output", "config", "next", "on_error", "retry", "timeout_ms", "max_output_bytes"],
        "choice": ["choices", "otherwise"],
        "checkpoint": ["credential", "credential_from", "when", "subject", "decisions", "deadline", "sample"],
        "end": ["status", "output"],
        "wait": ["for", "until", "business", "next"],
        "event": ["event", "payload", "output", "correlate", "credential", "timeout", "business", "on_timeout", "buffer", "next"],
        "map": ["items", "input", "max_concurrency", "failure", "start", "states", "template", "output", "next", "on_error"],
        "parallel": ["branches", "input", "max_concurrency", "failure", "output", "next", "on_error"],
        "ffi": ["library", "signature", "args", "output", "next", "on_error", "timeout_ms", "max_output_bytes"],
        "model": ["role", "task", "prompt", "input", "parameters", "output", "next", "on_error", "retry", "timeout_ms", "max_output_bytes"],
    ]
    static let retryKeys = ["max_attempts", "initial_backoff_ms", "max_backoff_ms", "multiplier"]

    /// A template's `plugins` list: names, or `{name: kb, isolation: process}` for a plugin the
    /// template wants isolated. Returns the names and the isolation each entry asks for.
    static func parsePluginList(_ node: Node, reader: inout YAMLReader) -> ([String], [String: String]) {
        guard case .sequence(let sequence) = node else {
            reader.error(node, "expected a list of plugin names (or {name, isolation} entries) for 'plugins', found \(YAMLReader.describe(node))")
            return ([], [:])
        }
        var names: [String] = []
        var isolation: [String: String] = [:]
        for item in sequence {
            if case .mapping = item {
                guard let entries = reader.entries(of: item, context: "an entry of 'plugins'", allowed: ["name", "isolation"]) else { continue }
                guard let name = entries["name"].flatMap({ reader.string($0.value, "the 'name' of a plugin entry") }) else {
                    if entries["name"] == nil { reader.error(item, "a plugin entry needs a 'name'") }
                    continue
                }
                names.append(name)
                if let mode = entries["isolation"].flatMap({ reader.string($0.value, "'isolation' of plugin '\(name)'") }) {
                    if PluginSettingsFile.isolationModes.contains(mode) {
                        isolation[name] = mode
                    } else {
                        let suggestion = YAMLReader.closest(to: mode, in: PluginSettingsFile.isolationModes).map { " (did you mean '\($0)'?)" } ?? ""
                        reader.error(entries["isolation"]?.value, "expected 'in-process' or 'process' for 'isolation' of plugin '\(name)', found '\(mode)'\(suggestion)")
                    }
                }
            } else if let name = reader.string(item, "an item of 'plugins'") {
                names.append(name)
            }
        }
        return (names, isolation)
    }

    /// Parses `text` read from `file`. Returns the template, or throws `TemplateErrors`
    /// listing every problem with file, line and column.
    public static func parse(_ text: String, file: String) throws(TemplateErrors) -> Template {
        let parsed = try parseLeniently(text, file: file)
        guard parsed.diagnostics.isEmpty else { throw TemplateErrors(parsed.diagnostics) }
        return parsed.template
    }

    /// Parses as much of `text` as it can: the template (with placeholders where parts are
    /// broken) and every structural problem. Throws only when the file is not YAML or not a
    /// mapping. `Plan(validating:catalog:)` then adds the graph problems, so one pass reports
    /// structural and graph mistakes together.
    public static func parseLeniently(_ text: String, file: String) throws(TemplateErrors) -> ParsedTemplate {
        var reader = YAMLReader(file: file)
        let root = try compose(text, file: file, expected: "a template mapping")
        guard case .mapping = root else {
            throw TemplateErrors([TemplateDiagnostic(reader.location(of: root), "expected a mapping for the template, found \(YAMLReader.describe(root))")])
        }
        let template = parse(root, reader: &reader)
        return ParsedTemplate(template: template, diagnostics: reader.diagnostics, opaqueStates: reader.opaqueStates)
    }

    /// The YAML node tree of `text`, or a located error: a broken `YAMLLimits` bound (checked
    /// before any tree is built), a syntax error, or an empty file.
    static func compose(_ text: String, file: String, expected: String) throws(TemplateErrors) -> Node {
        if let problem = YAMLLimits.check(text, file: file) { throw TemplateErrors([problem]) }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw TemplateErrors([yamlDiagnostic(error, file: file)])
        } catch {
            throw TemplateErrors([TemplateDiagnostic(SourceLocation(file: file, line: 1, column: 1), "cannot read YAML: \(error)")])
        }
        guard let node else {
            throw TemplateErrors([TemplateDiagnostic(SourceLocation(file: file, line: 1, column: 1), "the file is empty; expected \(expected)")])
        }
        return node
    }

    static func yamlDiagnostic(_ error: YamlError, file: String) -> TemplateDiagnostic {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return TemplateDiagnostic(SourceLocation(file: file, line: mark.line, column: mark.column), "YAML syntax: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return TemplateDiagnostic(
                SourceLocation(file: file, line: context.mark.line, column: context.mark.column),
                "duplicate keys \(duplicates.joined(separator: ", ")); expected each key once")
        default:
            return TemplateDiagnostic(SourceLocation(file: file, line: 1, column: 1), "YAML: \(error)")
        }
    }

    /// States written outside `states:` (an indentation slip that ends the `states` mapping
    /// early): top-level keys that are not template keys and whose value is a state (it has a
    /// `kind` among the state kinds), with the states the slip folded into it lifted out. The
    /// parser reports the slip once and reads them as states, so the graph checks do not flood
    /// the report with unknown-state and unreachable-end errors that all have this one cause.
    static func strayStates(in root: Node) -> (keys: [Node], states: [(key: Node, value: Node)]) {
        guard case .mapping(let mapping) = root else { return ([], []) }
        func isState(_ node: Node) -> Bool {
            guard case .mapping(let body) = node, let kind = body[Node("kind")]?.string else { return false }
            return stateKinds.contains(kind)
        }
        var keys: [Node] = []
        var states: [(key: Node, value: Node)] = []
        for (key, value) in mapping {
            guard let name = key.string, !topLevelKeys.contains(name), isState(value), case .mapping(let body) = value else { continue }
            keys.append(key)
            // Keys of its own body that are states themselves are the states after it, read
            // one level too deep.
            let ownKeys = Set((keysByKind[body[Node("kind")]?.string ?? ""] ?? []) + commonStateKeys)
            let folded = body.filter { isState($0.value) && !ownKeys.contains($0.key.string ?? "") }
            let foldedKeys = Set(folded.compactMap { $0.key.string })
            let own = body.filter { !foldedKeys.contains($0.key.string ?? "") }
            states.append((key, Node.mapping(Node.Mapping(own.map { ($0.key, $0.value) }, body.tag, body.style, body.mark))))
            states += folded.map { ($0.key, $0.value) }
        }
        return (keys, states)
    }

    static func parse(_ root: Node, reader: inout YAMLReader) -> Template {
        let stray = strayStates(in: root)
        let top = reader.entries(of: root, context: "the template", allowed: topLevelKeys + stray.keys.compactMap(\.string)) ?? [:]
        let name = reader.string(reader.required(top, "template", in: root, context: "the template"), "'template'")
        let version = reader.string(reader.required(top, "version", in: root, context: "the template"), "'version'")
        let vertical = reader.string(reader.required(top, "vertical", in: root, context: "the template"), "'vertical'")
        let description = top["description"].flatMap { reader.string($0.value, "'description'") } ?? ""
        let aop = top["aop"].map { parseAOP($0.value, reader: &reader) } ?? {
            reader.error(root, "missing 'aop' in the template; every template carries its agent operating procedure")
            return nil
        }()
        let (plugins, pluginIsolation) = top["plugins"].map { parsePluginList($0.value, reader: &reader) } ?? ([], [:])
        let config = top["config"].map { reader.json($0.value) } ?? .emptyObject
        if let node = top["config"]?.value, config.objectValue == nil {
            reader.error(node, "expected a mapping for 'config', found \(YAMLReader.describe(node))")
        }
        let start = top["start"].flatMap { reader.string($0.value, "'start'") }
        let startNode = top["start"]?.value
        let defaultRetry = top["retry"].flatMap { parseRetry($0.value, base: .standard, reader: &reader) } ?? .standard
        let serviceLevels = top["sla"].flatMap { parseServiceLevels($0.value, reader: &reader) }
        let escalation = top["escalation"].map { parseEscalation($0.value, reader: &reader) } ?? []
        var models: [String: String] = [:]
        if let modelsNode = top["models"]?.value {
            if case .mapping(let mapping) = modelsNode {
                for (roleNode, bindingNode) in mapping {
                    guard let role = reader.string(roleNode, "a model role"), let binding = reader.string(bindingNode, "the binding of role '\(role)'") else { continue }
                    if ModelBinding(binding) == nil {
                        reader.error(bindingNode, "expected 'adapter-id@version' for the binding of role '\(role)', found '\(binding)'")
                    }
                    models[role] = binding
                }
            } else {
                reader.error(modelsNode, "expected a mapping of role -> 'adapter-id@version' for 'models'")
            }
        }
        let defaultTimeout = reader.integer(top["timeout_ms"]?.value, "'timeout_ms'", range: timeoutRange)
        var states: [State] = []
        if let statesNode = reader.required(top, "states", in: root, context: "the template") {
            states = parseStates(statesNode, defaultRetry: defaultRetry, reader: &reader)
        }
        if let first = stray.keys.first {
            let names = stray.states.compactMap { $0.key.string }
            let column = reader.location(of: first).column
            reader.error(
                first,
                "state\(names.count == 1 ? "" : "s") \(names.map { "'\($0)'" }.joined(separator: ", ")) \(names.count == 1 ? "is" : "are") outside 'states:' "
                    + "(indented to column \(column), so the 'states' mapping ended before \(names.count == 1 ? "it" : "them")): indent \(names.count == 1 ? "it" : "them") like the states above; "
                    + "\(names.count == 1 ? "it was" : "they were") read as states to check the rest")
            for (key, value) in stray.states {
                guard let name = key.string, !states.contains(where: { $0.name == name }) else { continue }
                if let state = parseState(name: name, key: key, node: value, defaultRetry: defaultRetry, reader: &reader) { states.append(state) }
            }
        }
        let defaultMaxOutput = reader.integer(top["max_output_bytes"]?.value, "'max_output_bytes'", range: outputLimitRange)
        for index in states.indices where states[index].isCallable {
            if states[index].timeoutMilliseconds == nil { states[index].timeoutMilliseconds = defaultTimeout }
            if states[index].maxOutputBytes == nil { states[index].maxOutputBytes = defaultMaxOutput }
        }
        // The implied start is the first state written, even if that state is broken.
        var firstState = states.first?.name
        if case .mapping(let mapping)? = top["states"]?.value, let first = mapping.first?.key.string { firstState = first }
        if start == nil, startNode == nil, firstState == nil {
            reader.error(root, "the template has no states; expected at least a start state and an end state")
        }
        // Placeholders stand in for broken parts; their problems are already reported.
        let placeholderAOP = OperatingProcedure(
            domain: "", inputs: [], outputs: [], humanTouchpoints: [], failureModes: [], escalationTarget: "", may: [], mayNot: [])
        var template = Template(
            name: name ?? "", version: version ?? "", vertical: vertical ?? "", description: description, aop: aop ?? placeholderAOP,
            plugins: plugins, pluginIsolation: pluginIsolation,
            config: config, start: start ?? firstState ?? "", startLocation: reader.location(of: startNode ?? root),
            states: states, defaultRetry: defaultRetry, serviceLevels: serviceLevels, escalation: escalation, models: models,
            file: reader.file, defaultTimeoutMilliseconds: defaultTimeout, defaultMaxOutputBytes: defaultMaxOutput)
        if let node = top["human_in_path"]?.value {
            template.humanInPath = parseHumanInPath(node, reader: &reader) ?? .optional
            template.humanInPathLocation = reader.location(of: node)
        }
        if let node = top["eval"]?.value { template.eval = parseEval(node, models: models, reader: &reader) }
        if case .mapping(let aopMapping)? = top["aop"]?.value, case .sequence(let items)? = aopMapping["human_touchpoints"] {
            template.touchpointLocations = items.map { reader.location(of: $0) }
        }
        return template
    }

    /// `required` or `optional`, from a template's or an overlay's `human_in_path`.
    static func parseHumanInPath(_ node: Node, reader: inout YAMLReader) -> HumanInPathRule? {
        guard let text = reader.string(node, "'human_in_path'") else { return nil }
        guard let rule = HumanInPathRule(rawValue: text) else {
            reader.error(node, "unknown value '\(text)' for 'human_in_path'; expected one of: required, optional")
            return nil
        }
        return rule
    }

    static func parseAOP(_ node: Node, reader: inout YAMLReader) -> OperatingProcedure? {
        guard let aop = reader.entries(of: node, context: "'aop'", allowed: aopKeys) else { return nil }
        func list(_ key: String, _ reader: inout YAMLReader) -> [String]? {
            guard let value = reader.required(aop, key, in: node, context: "'aop'") else { return nil }
            let items = reader.stringList(value, "'aop.\(key)'")
            if let items, items.isEmpty { reader.error(value, "'aop.\(key)' is empty; expected at least one item") }
            return items
        }
        let domain = reader.string(reader.required(aop, "domain", in: node, context: "'aop'"), "'aop.domain'")
        let inputs = list("inputs", &reader)
        let outputs = list("outputs", &reader)
        let touchpoints = list("human_touchpoints", &reader)
        let failureModes = list("failure_modes", &reader)
        let escalation = reader.string(
            reader.required(aop, "escalation_target", in: node, context: "'aop'"), "'aop.escalation_target'")
        let may = list("may", &reader)
        let mayNot = list("may_not", &reader)
        guard let domain, let inputs, let outputs, let touchpoints, let failureModes, let escalation, let may, let mayNot
        else { return nil }
        return OperatingProcedure(
            domain: domain, inputs: inputs, outputs: outputs, humanTouchpoints: touchpoints, failureModes: failureModes,
            escalationTarget: escalation, may: may, mayNot: mayNot)
    }

    static func parseRetry(_ node: Node, base: RetryPolicy, reader: inout YAMLReader) -> RetryPolicy? {
        guard let entries = reader.entries(of: node, context: "'retry'", allowed: retryKeys) else { return nil }
        var policy = base
        if let value = reader.integer(entries["max_attempts"]?.value, "'retry.max_attempts'", range: 1...100) {
            policy.maxAttempts = value
        }
        if let value = reader.integer(entries["initial_backoff_ms"]?.value, "'retry.initial_backoff_ms'", range: 0...3_600_000) {
            policy.initialBackoffMilliseconds = value
        }
        if let value = reader.integer(entries["max_backoff_ms"]?.value, "'retry.max_backoff_ms'", range: 0...86_400_000) {
            policy.maxBackoffMilliseconds = value
        }
        if let value = reader.number(entries["multiplier"]?.value, "'retry.multiplier'") {
            if value < 1 { reader.error(entries["multiplier"]?.value, "expected 'retry.multiplier' of at least 1") }
            policy.multiplier = value
        }
        return policy
    }

    static func reference(_ node: Node?, _ what: String, reader: inout YAMLReader) -> StateReference? {
        guard let node, let name = reader.string(node, what) else { return nil }
        return StateReference(name: name, location: reader.location(of: node))
    }

    static func parseStates(_ node: Node, defaultRetry: RetryPolicy, reader: inout YAMLReader) -> [State] {
        guard case .mapping(let mapping) = node else {
            reader.error(node, "expected a mapping of state names to states for 'states', found \(YAMLReader.describe(node))")
            return []
        }
        var states: [State] = []
        for (key, value) in mapping {
            guard let name = reader.string(key, "a state name") else { continue }
            if let state = parseState(name: name, key: key, node: value, defaultRetry: defaultRetry, reader: &reader) {
                states.append(state)
            }
        }
        return states
    }

    static func parseState(name: String, key: Node, node: Node, defaultRetry: RetryPolicy, reader: inout YAMLReader) -> State? {
        let state = parseStateBody(name: name, key: key, node: node, defaultRetry: defaultRetry, reader: &reader)
        if state == nil { reader.opaqueStates[name] = harvestExits(node) }
        return state
    }

    static func parseStateBody(name: String, key: Node, node: Node, defaultRetry: RetryPolicy, reader: inout YAMLReader) -> State? {
        let context = "state '\(name)'"
        guard case .mapping(let mapping) = node else {
            reader.error(node, "expected a mapping for \(context), found \(YAMLReader.describe(node))")
            return nil
        }
        guard let kindNode = mapping["kind"] else {
            reader.error(key, "missing 'kind' in \(context); expected one of: \(stateKinds.joined(separator: ", "))")
            return nil
        }
        guard let kindName = reader.string(kindNode, "'kind' of \(context)") else { return nil }
        guard let kindKeys = keysByKind[kindName] else {
            let suggestion = YAMLReader.closest(to: kindName, in: stateKinds).map { " (did you mean '\($0)'?)" } ?? ""
            reader.error(kindNode, "unknown state kind '\(kindName)' in \(context)\(suggestion); expected one of: \(stateKinds.joined(separator: ", "))")
            return nil
        }
        guard let entries = reader.entries(of: node, context: context, allowed: commonStateKeys + kindKeys) else { return nil }
        let location = reader.location(of: key)
        let kind: State.Kind?
        switch kindName {
        case "step": kind = parseStep(name: name, entries: entries, node: node, defaultRetry: defaultRetry, reader: &reader)
        case "choice": kind = parseChoice(name: name, entries: entries, node: node, reader: &reader)
        case "checkpoint": kind = parseCheckpoint(name: name, entries: entries, node: node, reader: &reader)
        case "ffi": kind = parseForeign(name: name, entries: entries, node: node, reader: &reader)
        case "model": kind = parseModel(name: name, entries: entries, node: node, defaultRetry: defaultRetry, reader: &reader)
        case "wait": kind = parseWait(name: name, entries: entries, node: node, reader: &reader)
        case "event": kind = parseEvent(name: name, entries: entries, node: node, reader: &reader)
        case "map", "parallel":
            kind = parseFanOut(name: name, parallel: kindName == "parallel", entries: entries, node: node, defaultRetry: defaultRetry, reader: &reader)
        default: kind = parseEnd(name: name, entries: entries, reader: &reader)
        }
        var state = kind.map { State(name: name, kind: $0, location: location) }
        state?.timeoutMilliseconds = reader.integer(entries["timeout_ms"]?.value, "'timeout_ms' of \(context)", range: timeoutRange)
        state?.maxOutputBytes = reader.integer(entries["max_output_bytes"]?.value, "'max_output_bytes' of \(context)", range: outputLimitRange)
        return state
    }

    /// Output size limits a template may set: 1 byte to 1 GiB (the engine's global limit
    /// still applies on top).
    static let outputLimitRange = 1...(1 << 30)

    /// Call timeouts a template may set: 1 ms to 24 hours.
    static let timeoutRange = 1...86_400_000

    /// The state names a (broken) state's mapping mentions as exits.
    static func harvestExits(_ node: Node) -> [String] {
        guard case .mapping(let mapping) = node else { return [] }
        var exits: [String] = []
        for (key, value) in mapping {
            switch key.string {
            case "next", "otherwise", "on_error":
                if let target = value.string { exits.append(target) }
            case "output":
                // Not an exit: recorded under a reserved key so the data roots stay known.
                if let output = value.string { exits.append("\u{0}output:" + output) }
            case "decisions":
                if case .mapping(let decisions) = value { exits += decisions.compactMap { $0.value.string } }
            case "choices":
                if case .sequence(let choices) = value {
                    exits += choices.compactMap { choice in
                        if case .mapping(let branch) = choice { return branch["next"]?.string }
                        return nil
                    }
                }
            default: break
            }
        }
        return exits
    }

    static func parseStep(
        name: String, entries: [String: (key: Node, value: Node)], node: Node, defaultRetry: RetryPolicy,
        reader: inout YAMLReader
    ) -> State.Kind? {
        let context = "state '\(name)'"
        let stepNode = reader.required(entries, "step", in: node, context: context)
        let step = reader.string(stepNode, "'step' of \(context)")
        if let step, stepNode != nil, step.split(separator: ".").count < 2 {
            reader.error(stepNode, "expected a step name of the form 'plugin.step' in \(context), found '\(step)'")
        }
        let input = entries["input"].map { parseInput($0.value, context: context, reader: &reader) } ?? .wholeData
        let output = entries["output"].flatMap { reader.string($0.value, "'output' of \(context)") } ?? name
        let config = entries["config"].map { reader.json($0.value) } ?? .emptyObject
        let next = reference(entries["next"]?.value, "'next' of \(context)", reader: &reader)
        let onError = reference(entries["on_error"]?.value, "'on_error' of \(context)", reader: &reader)
        let retry = entries["retry"].flatMap { parseRetry($0.value, base: defaultRetry, reader: &reader) } ?? defaultRetry
        guard let step, let stepNode else { return nil }
        return .step(
            StepState(
                step: step, stepLocation: reader.location(of: stepNode), input: input, output: output, config: config,
                next: next, onError: onError, retry: retry))
    }

    static func parseInput(_ node: Node, context: String, reader: inout YAMLReader) -> InputMapping {
        switch node {
        case .scalar:
            return reader.expression(node, context.hasPrefix("'") ? context : "'input' of \(context)").map { .expression($0) } ?? .wholeData
        case .mapping(let mapping):
            var members: [String: ValueSource] = [:]
            for (key, value) in mapping {
                guard let member = reader.string(key, "a key of 'input' in \(context)") else { continue }
                if case .scalar(let scalar) = value, scalar.style == .plain {
                    if let expression = reader.expression(value, "'input.\(member)' of \(context)") {
                        members[member] = .expression(expression)
                    }
                } else {
                    members[member] = .literal(reader.json(value))
                }
            }
            return .object(members)
        default:
            reader.error(node, "expected an expression or a mapping for 'input' of \(context), found \(YAMLReader.describe(node))")
            return .wholeData
        }
    }

    static func parseChoice(
        name: String, entries: [String: (key: Node, value: Node)], node: Node, reader: inout YAMLReader
    ) -> State.Kind? {
        let context = "state '\(name)'"
        var branches: [ChoiceState.Branch] = []
        if let choicesNode = entries["choices"]?.value {
            if case .sequence(let sequence) = choicesNode {
                for item in sequence {
                    guard let branch = reader.entries(of: item, context: "a choice of \(context)", allowed: ["when", "next"]) else {
                        continue
                    }
                    let whenNode = reader.required(branch, "when", in: item, context: "a choice of \(context)")
                    let when = reader.expression(whenNode, "'when' of \(context)")
                    let next = reference(reader.required(branch, "next", in: item, context: "a choice of \(context)"), "'next' of \(context)", reader: &reader)
                    if let next {
                        // A broken guard keeps its branch (as never taken) so the graph checks see its target.
                        branches.append(.init(when: when ?? Expression(literal: ""), whenLocation: reader.location(of: whenNode), next: next))
                    }
                }
            } else {
                reader.error(choicesNode, "expected a list of {when, next} for 'choices' of \(context), found \(YAMLReader.describe(choicesNode))")
            }
        }
        let otherwise = reference(entries["otherwise"]?.value, "'otherwise' of \(context)", reader: &reader)
        return .choice(ChoiceState(branches: branches, otherwise: otherwise))
    }

    static func parseCheckpoint(
        name: String, entries: [String: (key: Node, value: Node)], node: Node, reader: inout YAMLReader
    ) -> State.Kind? {
        let context = "state '\(name)'"
        let credential = reader.string(reader.required(entries, "credential", in: node, context: context), "'credential' of \(context)")
        let when = entries["when"].flatMap { reader.expression($0.value, "'when' of \(context)") }
        let subject = entries["subject"].flatMap { reader.string($0.value, "'subject' of \(context)") } ?? name
        var decisions: [Decision: StateReference] = [:]
        if let decisionsNode = entries["decisions"]?.value {
            let allowed = Decision.allCases.map(\.rawValue)
            if let map = reader.entries(of: decisionsNode, context: "'decisions' of \(context)", allowed: allowed) {
                for (decisionName, entry) in map {
                    if let decision = Decision(rawValue: decisionName),
                        let target = reference(entry.value, "'decisions.\(decisionName)' of \(context)", reader: &reader)
                    {
                        decisions[decision] = target
                    }
                }
                if decisions[.approve] == nil, map["approve"] == nil {
                    reader.error(decisionsNode, "missing 'approve' in 'decisions' of \(context); a checkpoint must say where an approval leads")
                }
            }
        }
        var deadline = CheckpointState.DeadlineKind.firstResponse
        if let deadlineNode = entries["deadline"]?.value, let text = reader.string(deadlineNode, "'deadline' of \(context)") {
            if let kind = CheckpointState.DeadlineKind(rawValue: text) {
                deadline = kind
            } else {
                reader.error(deadlineNode, "unknown deadline '\(text)' in \(context); expected one of: first_response, resolution, none")
            }
        }
        let sample = entries["sample"].flatMap { parseSample($0.value, checkpoint: name, reader: &reader) }
        let credentialFrom = entries["credential_from"].flatMap { reader.string($0.value, "'credential_from' of \(context)") }
        guard let credential else { return nil }
        var checkpoint = CheckpointState(
            credential: credential, when: when, whenLocation: entries["when"].map { reader.location(of: $0.value) },
            subject: subject, decisions: decisions, deadline: deadline, sample: sample)
        checkpoint.credentialFrom = credentialFrom
        return .checkpoint(checkpoint)
    }

    static func parseForeign(
        name: String, entries: [String: (key: Node, value: Node)], node: Node, reader: inout YAMLReader
    ) -> State.Kind? {
        let context = "state '\(name)'"
        let library = reader.string(reader.required(entries, "library", in: node, context: context), "'library' of \(context)")
        let signatureNode = reader.required(entries, "signature", in: node, context: context)
        var signature: ForeignSignature?
        if let signatureNode, let text = reader.string(signatureNode, "'signature' of \(context)") {
            do {
                signature = try ForeignSignature(parsing: text)
            } catch {
                var location = reader.location(of: signatureNode)
                if case .scalar(let scalar) = signatureNode {
                    location.column += error.offset + (scalar.style == .plain ? 0 : 1)
                }
                reader.error(at: location, "invalid C signature in \(context): \(error.message)")
            }
        }
        var arguments: [Expression] = []
        let argumentsNode = entries["args"]?.value
        if let argumentsNode {
            if case .sequence(let sequence) = argumentsNode {
                for item in sequence {
                    // Quoted values are string literals, as in step inputs.
                    if case .scalar(let scalar) = item, scalar.style != .plain {
                        arguments.append(Expression(literal: scalar.string))
                    } else if let expression = reader.expression(item, "an argument of \(context)") {
                        arguments.append(expression)
                    }
                }
            } else {
                reader.error(argumentsNode, "expected a list of expressions for 'args' of \(context)")
            }
        }
        // Reported here too (not only by Plan) because a state whose library is missing is not built.
        if let signature, let problem = ForeignState.argumentCountProblem(signature, given: arguments.count, state: name) {
            reader.error(argumentsNode ?? node, problem)
        }
        let output = entries["output"].flatMap { reader.string($0.value, "'output' of \(context)") } ?? name
        let next = reference(entries["next"]?.value, "'next' of \(context)", reader: &reader)
        let onError = reference(entries["on_error"]?.value, "'on_error' of \(context)", reader: &reader)
        guard let library, let signature, let signatureNode else { return nil }
        return .ffi(ForeignState(
            library: library, signature: signature, arguments: arguments, output: output, next: next, onError: onError,
            location: reader.location(of: signatureNode), argumentsLocation: reader.location(of: argumentsNode ?? node)))
    }

    static func parseModel(
        name: String, entries: [String: (key: Node, value: Node)], node: Node, defaultRetry: RetryPolicy, reader: inout YAMLReader
    ) -> State.Kind? {
        let context = "state '\(name)'"
        let roleNode = reader.required(entries, "role", in: node, context: context)
        let role = reader.string(roleNode, "'role' of \(context)")
        let taskNode = reader.required(entries, "task", in: node, context: context)
        var task: ModelTask?
        if let taskNode, let text = reader.string(taskNode, "'task' of \(context)") {
            task = ModelTask(rawValue: text)
            if task == nil {
                reader.error(taskNode, "unknown model task '\(text)' in \(context); expected one of: \(ModelTask.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        let promptNode = entries["prompt"]?.value
        let prompt = promptNode.flatMap { reader.string($0, "'prompt' of \(context)") }
        let input = entries["input"].map { parseInput($0.value, context: context, reader: &reader) } ?? .wholeData
        let parameters = entries["parameters"].map { reader.json($0.value) } ?? .emptyObject
        if let node = entries["parameters"]?.value, parameters.objectValue == nil {
            reader.error(node, "expected a mapping for 'parameters' of \(context), found \(YAMLReader.describe(node))")
        }
        let output = entries["output"].flatMap { reader.string($0.value, "'output' of \(context)") } ?? name
        let next = reference(entries["next"]?.value, "'next' of \(context)", reader: &reader)
        let onError = reference(entries["on_error"]?.value, "'on_error' of \(context)", reader: &reader)
        let retry = entries["retry"].flatMap { parseRetry($0.value, base: defaultRetry, reader: &reader) } ?? defaultRetry
        guard let role, let roleNode, let task else { return nil }
        return .model(ModelState(
            role: role, task: task, prompt: prompt, input: input, parameters: parameters, output: output, next: next, onError: onError,
            retry: retry, roleLocation: reader.location(of: roleNode), promptLocation: promptNode.map { reader.location(of: $0) }))
    }

    static func parseWait(name: String, entries: [String: (key: Node, value: Node)], node: Node, reader: inout YAMLReader) -> State.Kind? {
        let context = "state '\(name)'"
        var duration: Int64?
        if let forNode = entries["for"]?.value, let text = reader.string(forNode, "'for' of \(context)") {
            if let parsed = parseDurationMilliseconds(text), parsed > 0 { duration = parsed } else {
                reader.error(forNode, "expected a duration like 30m, 2h or 3d for 'for' of \(context), found '\(text)'")
            }
        }
        let until = entries["until"].flatMap { reader.string($0.value, "'until' of \(context)") }
        if entries["for"] == nil, entries["until"] == nil {
            reader.error(node, "\(context) waits for nothing; expected 'for' (a duration) or 'until' (a data path holding an instant)")
        }
        if entries["for"] != nil, let entry = entries["until"] {
            reader.error(entry.key, "\(context) has both 'for' and 'until'; expected one of them")
        }
        let business = reader.bool(entries["business"]?.value, "'business' of \(context)") ?? false
        if entries["business"] != nil, entries["until"] != nil {
            reader.error(entries["business"]?.key, "'business' applies to 'for' only (\(context)): an instant is an instant")
        }
        let next = reference(reader.required(entries, "next", in: node, context: context), "'next' of \(context)", reader: &reader)
        guard let next, duration != nil || until != nil else { return nil }
        return .wait(WaitState(duration: duration, until: until, business: business, next: next))
    }

    static func parseEvent(name: String, entries: [String: (key: Node, value: Node)], node: Node, reader: inout YAMLReader) -> State.Kind? {
        let context = "state '\(name)'"
        let event = reader.string(reader.required(entries, "event", in: node, context: context), "'event' of \(context)")
        var fields: [PayloadField]?
        if let payloadNode = entries["payload"]?.value {
            if case .mapping(let mapping) = payloadNode {
                var parsed: [PayloadField] = []
                for (key, value) in mapping {
                    guard let field = reader.string(key, "a field of 'payload' of \(context)"), let text = reader.string(value, "the type of payload field '\(key.string ?? "?")'") else {
                        continue
                    }
                    let optional = text.hasSuffix("?")
                    let typeName = optional ? String(text.dropLast()) : text
                    guard let type = PayloadField.FieldType(rawValue: typeName) else {
                        let names = PayloadField.FieldType.allCases.map(\.rawValue)
                        let suggestion = YAMLReader.closest(to: typeName, in: names).map { " (did you mean '\($0)'?)" } ?? ""
                        reader.error(value, "unknown type '\(typeName)' for payload field '\(field)' of \(context)\(suggestion); expected one of: \(names.joined(separator: ", ")), with '?' when it may be missing")
                        continue
                    }
                    parsed.append(PayloadField(name: field, type: type, optional: optional))
                }
                fields = parsed
            } else {
                reader.error(payloadNode, "expected a mapping of field name to type for 'payload' of \(context), found \(YAMLReader.describe(payloadNode))")
            }
        }
        let output = entries["output"].flatMap { reader.string($0.value, "'output' of \(context)") } ?? name
        let correlate = entries["correlate"].flatMap { reader.string($0.value, "'correlate' of \(context)") }
        let credential = entries["credential"].flatMap { reader.string($0.value, "'credential' of \(context)") }
        var timeout: Int64?
        if let timeoutNode = entries["timeout"]?.value, let text = reader.string(timeoutNode, "'timeout' of \(context)") {
            if let parsed = parseDurationMilliseconds(text), parsed > 0 { timeout = parsed } else {
                reader.error(timeoutNode, "expected a duration like 30m, 2h or 3d for 'timeout' of \(context), found '\(text)'")
            }
        }
        let business = reader.bool(entries["business"]?.value, "'business' of \(context)") ?? false
        let onTimeout = entries["on_timeout"].flatMap { reference($0.value, "'on_timeout' of \(context)", reader: &reader) }
        if entries["timeout"] != nil, entries["on_timeout"] == nil {
            reader.error(entries["timeout"]?.key, "\(context) has a 'timeout' but no 'on_timeout'; expected the state a timed-out wait goes to")
        }
        if entries["timeout"] == nil {
            if let entry = entries["on_timeout"] { reader.error(entry.key, "'on_timeout' of \(context) needs a 'timeout'") }
            if let entry = entries["business"] { reader.error(entry.key, "'business' of \(context) applies to its 'timeout', which it has not") }
        }
        let next = reference(reader.required(entries, "next", in: node, context: context), "'next' of \(context)", reader: &reader)
        let buffer = reader.bool(entries["buffer"]?.value, "'buffer' of \(context)") ?? false
        guard let event, let next else { return nil }
        var state = EventState(
            event: event, payload: fields, output: output, correlate: correlate, credential: credential, timeout: timeout, business: business,
            onTimeout: onTimeout, next: next)
        state.buffer = buffer
        return .event(state)
    }

    static func parseEnd(name: String, entries: [String: (key: Node, value: Node)], reader: inout YAMLReader) -> State.Kind? {
        var outcome = EndState.Outcome.completed
        if let statusNode = entries["status"]?.value, let status = reader.string(statusNode, "'status' of state '\(name)'") {
            if let parsed = EndState.Outcome(rawValue: status) {
                outcome = parsed
            } else {
                let allowed = EndState.Outcome.allCases.map(\.rawValue).joined(separator: ", ")
                reader.error(statusNode, "unknown end status '\(status)' in state '\(name)'; expected one of: \(allowed)")
            }
        }
        let output = entries["output"].map { parseInput($0.value, context: "'output' of state '\(name)'", reader: &reader) }
        return .end(EndState(outcome: outcome, output: output))
    }

    /// The most branches a fan-out may run at once.
    static let concurrencyRange = 1...1_000

    static func parseFanOut(
        name: String, parallel: Bool, entries: [String: (key: Node, value: Node)], node: Node, defaultRetry: RetryPolicy, reader: inout YAMLReader
    ) -> State.Kind? {
        let context = "state '\(name)'"
        var branches: [FanOutState.Branch] = []
        var items: String?
        if parallel {
            if let branchesNode = reader.required(entries, "branches", in: node, context: context) {
                if case .mapping(let mapping) = branchesNode, !mapping.isEmpty {
                    for (key, value) in mapping {
                        guard let branchName = reader.string(key, "a branch name of \(context)") else { continue }
                        let branchContext = "branch '\(branchName)' of \(context)"
                        guard let branchEntries = reader.entries(of: value, context: branchContext, allowed: ["template", "start", "states"]) else { continue }
                        if let branch = parseBranch(
                            name: branchName, key: "\(name).\(branchName)", entries: branchEntries, node: value, context: branchContext,
                            defaultRetry: defaultRetry, reader: &reader)
                        {
                            branches.append(branch)
                        }
                    }
                } else {
                    reader.error(branchesNode, "expected a mapping of branch name to branch ('template' or 'states') for 'branches' of \(context), found \(YAMLReader.describe(branchesNode))")
                }
            }
        } else {
            items = reader.string(reader.required(entries, "items", in: node, context: context), "'items' of \(context)")
            if let branch = parseBranch(name: name, key: name, entries: entries, node: node, context: context, defaultRetry: defaultRetry, reader: &reader) {
                branches.append(branch)
            }
        }
        let input = entries["input"].map { parseInput($0.value, context: context, reader: &reader) }
        let maxConcurrency = reader.integer(entries["max_concurrency"]?.value, "'max_concurrency' of \(context)", range: concurrencyRange)
        var failure = FanOutState.FailurePolicy.failFast
        if let failureNode = entries["failure"]?.value, let text = reader.string(failureNode, "'failure' of \(context)") {
            if let parsed = FanOutState.FailurePolicy(rawValue: text) {
                failure = parsed
            } else {
                let names = FanOutState.FailurePolicy.allCases.map(\.rawValue)
                let suggestion = YAMLReader.closest(to: text, in: names).map { " (did you mean '\($0)'?)" } ?? ""
                reader.error(failureNode, "unknown failure policy '\(text)' for \(context)\(suggestion); expected one of: \(names.joined(separator: ", "))")
            }
        }
        let output = entries["output"].flatMap { reader.string($0.value, "'output' of \(context)") } ?? name
        let next = reference(reader.required(entries, "next", in: node, context: context), "'next' of \(context)", reader: &reader)
        let onError = entries["on_error"].flatMap { reference($0.value, "'on_error' of \(context)", reader: &reader) }
        guard let next, !branches.isEmpty, parallel || items != nil else { return nil }
        return (parallel ? State.Kind.parallel : State.Kind.map)(FanOutState(
            items: items, branches: branches, input: input, maxConcurrency: maxConcurrency ?? (parallel ? branches.count : 10), failure: failure,
            output: output, next: next, onError: onError, location: reader.location(of: entries["items"]?.value ?? node)))
    }

    /// One branch: a named sub-template (`template`) or a sub-sequence of states (`states`, with
    /// `start` defaulting to the first).
    static func parseBranch(
        name: String, key: String, entries: [String: (key: Node, value: Node)], node: Node, context: String, defaultRetry: RetryPolicy,
        reader: inout YAMLReader
    ) -> FanOutState.Branch? {
        let templateNode = entries["template"]?.value
        let statesNode = entries["states"]?.value
        if templateNode != nil, statesNode != nil {
            reader.error(entries["template"]?.key, "\(context) has both 'template' and 'states'; expected one of them")
            return nil
        }
        if let templateNode {
            if let entry = entries["start"] { reader.error(entry.key, "'start' of \(context) applies to its 'states', which it has not") }
            guard let template = reader.string(templateNode, "'template' of \(context)") else { return nil }
            return FanOutState.Branch(name: name, body: .template(template, reader.location(of: templateNode)))
        }
        guard let statesNode else {
            reader.error(node, "\(context) runs nothing; expected 'states' (a sub-sequence of states, with an optional 'start') or 'template' (a template's name)")
            return nil
        }
        let states = parseStates(statesNode, defaultRetry: defaultRetry, reader: &reader)
        let startNode = entries["start"]?.value
        var start = startNode.flatMap { reader.string($0, "'start' of \(context)") }
        if start == nil, case .mapping(let mapping) = statesNode { start = mapping.first?.key.string }
        return FanOutState.Branch(
            name: name, body: .inline(key: key), start: start, startLocation: reader.location(of: startNode ?? statesNode), states: states)
    }
}
