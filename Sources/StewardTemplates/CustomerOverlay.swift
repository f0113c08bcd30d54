import StewardJSON
import Yams

/// A customer's configuration: "this customer is different" as data, never code.
/// Loaded from `workflows/customers/NAME.yaml`.
public struct CustomerOverlay: Sendable {
    /// Customer id.
    public var customer: String
    /// The customer's business calendar, as written (decoded by the SLA module).
    public var calendar: JSONValue?
    /// Where the calendar is written, for error messages.
    public var calendarLocation: SourceLocation?
    /// Per-template changes, by template name.
    public var templates: [String: TemplateOverlay]
    /// The file.
    public var file: String
    /// `human_in_path: required` at the top of the overlay: every template the customer may
    /// run must prove a person stands between model output and every effect.
    public var humanInPath: HumanInPathRule = .optional
    /// Where the top-level `human_in_path` is written.
    public var humanInPathLocation: SourceLocation?
}

/// What an overlay changes in one template.
public struct TemplateOverlay: Sendable {
    /// Merged over the template's `config` (objects member by member).
    public var config: JSONValue
    /// SLA targets replacing the template's for the listed priorities.
    public var slaTargets: [String: ServiceLevels.Target]
    /// Model role bindings (`classifier: banking-intent@2.0.0`).
    public var bindings: [String: String]
    /// Where the template's overlay starts.
    public var location: SourceLocation
    /// Where each top-level config key is written.
    public var configKeyLocations: [String: SourceLocation]
    /// `templates.<name>.human_in_path: required`: this template must prove it for this customer.
    public var humanInPath: HumanInPathRule = .optional
    /// `templates.<name>.eval`: this customer's cadence, dataset and tighter gates.
    public var eval: EvalOverlay? = nil
    /// `templates.<name>.sample`: the customer's audit sampling rates, by checkpoint.
    public var sampling: [String: SampleOverride] = [:]
}

extension TemplateParser {
    /// Parses a customer overlay file, reporting every problem with its location.
    public static func parseOverlay(_ text: String, file: String) throws(TemplateErrors) -> CustomerOverlay {
        var reader = YAMLReader(file: file)
        let root = try compose(text, file: file, expected: "a customer overlay")
        guard let top = reader.entries(of: root, context: "the customer overlay", allowed: ["customer", "description", "calendar", "templates", "human_in_path"]) else {
            throw TemplateErrors(reader.diagnostics)
        }
        let customer = reader.string(reader.required(top, "customer", in: root, context: "the customer overlay"), "'customer'")
        var templates: [String: TemplateOverlay] = [:]
        if let templatesNode = top["templates"]?.value {
            if case .mapping(let mapping) = templatesNode {
                for (key, value) in mapping {
                    guard let name = reader.string(key, "a template name") else { continue }
                    let context = "'templates.\(name)'"
                    guard let entries = reader.entries(of: value, context: context, allowed: ["config", "sla", "bindings", "human_in_path", "eval", "sample"]) else { continue }
                    var keyLocations: [String: SourceLocation] = [:]
                    if case .mapping(let configMapping)? = entries["config"]?.value {
                        for (configKey, _) in configMapping {
                            if let keyName = configKey.string { keyLocations[keyName] = reader.location(of: configKey) }
                        }
                    }
                    var targets: [String: ServiceLevels.Target] = [:]
                    if let slaNode = entries["sla"]?.value,
                        let sla = reader.entries(of: slaNode, context: "\(context).sla", allowed: ["targets"]),
                        case .mapping(let targetMapping)? = sla["targets"]?.value
                    {
                        for (priorityNode, targetNode) in targetMapping {
                            guard let priority = reader.string(priorityNode, "a priority") else { continue }
                            if let target = parseTarget(targetNode, name: priority, base: nil, reader: &reader) { targets[priority] = target }
                        }
                    }
                    var bindings: [String: String] = [:]
                    if let bindingsNode = entries["bindings"]?.value, case .mapping(let bindingMapping) = bindingsNode {
                        for (role, target) in bindingMapping {
                            if let role = reader.string(role, "a model role"), let target = reader.string(target, "the binding of '\(role)'") {
                                bindings[role] = target
                            }
                        }
                    }
                    let eval = entries["eval"].flatMap { parseEvalOverlay($0.value, context: "\(context).eval", reader: &reader) }
                    templates[name] = TemplateOverlay(
                        config: entries["config"].map { reader.json($0.value) } ?? .emptyObject, slaTargets: targets, bindings: bindings,
                        location: reader.location(of: key), configKeyLocations: keyLocations,
                        humanInPath: entries["human_in_path"].flatMap { parseHumanInPath($0.value, reader: &reader) } ?? .optional, eval: eval,
                        sampling: entries["sample"].map { parseSampleOverrides($0.value, template: name, reader: &reader) } ?? [:])
                }
            } else {
                reader.error(templatesNode, "expected a mapping of template name -> overlay for 'templates'")
            }
        }
        let humanInPath = top["human_in_path"].flatMap { parseHumanInPath($0.value, reader: &reader) } ?? .optional
        guard reader.diagnostics.isEmpty, let customer else { throw TemplateErrors(reader.diagnostics) }
        return CustomerOverlay(
            customer: customer, calendar: top["calendar"].map { reader.json($0.value) },
            calendarLocation: top["calendar"].map { reader.location(of: $0.value) }, templates: templates, file: file,
            humanInPath: humanInPath, humanInPathLocation: top["human_in_path"].map { reader.location(of: $0.value) })
    }

    /// Checks an overlay against the templates it names: the template must exist, every
    /// config key must be one the template has, with a value of the same JSON type, and every
    /// sampling override must name a checkpoint of the template that has a `sample` rule. Where the
    /// overlay sets `human_in_path: required` (at the top: for every template in `templates`;
    /// under a template: for that one), each such template must pass the rule of
    /// `Plan.humanInPathViolations(in:pureSteps:)`, with `pureSteps` as in `StepCatalog`.
    public static func validate(
        _ overlay: CustomerOverlay, against templates: [String: Template], adapters: Set<String>? = nil,
        pureSteps: Set<String>? = nil
    ) -> [TemplateDiagnostic] {
        var diagnostics: [TemplateDiagnostic] = []
        for (name, template) in templates.sorted(by: { $0.key < $1.key }) where template.humanInPath != .required {
            let location: SourceLocation
            if let templateOverlay = overlay.templates[name], templateOverlay.humanInPath == .required {
                location = templateOverlay.location
            } else if overlay.humanInPath == .required {
                location = overlay.humanInPathLocation ?? SourceLocation(file: overlay.file, line: 1, column: 1)
            } else {
                continue
            }
            for violation in Plan.humanInPathViolations(in: template, pureSteps: pureSteps) {
                diagnostics.append(TemplateDiagnostic(
                    location,
                    "customer '\(overlay.customer)' requires a human in the path, but in template '\(name)' model output reaches \(violation.effect) with no person in between: \(violation.route) (\(violation.stepLocation)); expected a checkpoint with a credential and no 'when' on that route"))
            }
        }
        for (name, templateOverlay) in overlay.templates.sorted(by: { $0.key < $1.key }) {
            guard let template = templates[name] else {
                let suggestion = YAMLReader.closest(to: name, in: Array(templates.keys)).map { " (did you mean '\($0)'?)" } ?? ""
                diagnostics.append(TemplateDiagnostic(templateOverlay.location, "overlay for unknown template '\(name)'\(suggestion); expected one of: \(templates.keys.sorted().joined(separator: ", "))"))
                continue
            }
            if let eval = templateOverlay.eval {
                diagnostics += validateEvalOverlay(eval, template: template, customer: overlay.customer)
            }
            for (role, binding) in templateOverlay.bindings.sorted(by: { $0.key < $1.key }) {
                if template.models[role] == nil {
                    diagnostics.append(TemplateDiagnostic(templateOverlay.location, "binding for unknown role '\(role)' of template '\(name)'; expected one of: \(template.models.keys.sorted().joined(separator: ", "))"))
                }
                if ModelBinding(binding) == nil {
                    diagnostics.append(TemplateDiagnostic(templateOverlay.location, "expected 'adapter-id@version' for the binding of role '\(role)', found '\(binding)'"))
                } else if let adapters, !adapters.contains(binding) {
                    diagnostics.append(TemplateDiagnostic(templateOverlay.location, "role '\(role)' of template '\(name)' is bound to adapter \(binding), which is not loaded; loaded: \(adapters.sorted().joined(separator: ", "))"))
                }
            }
            diagnostics += sampleOverrideDiagnostics(templateOverlay.sampling, template: template)
            let base = template.config.objectValue ?? [:]
            for (key, value) in (templateOverlay.config.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                let location = templateOverlay.configKeyLocations[key] ?? templateOverlay.location
                guard let original = base[key] else {
                    let suggestion = YAMLReader.closest(to: key, in: Array(base.keys)).map { " (did you mean '\($0)'?)" } ?? ""
                    diagnostics.append(TemplateDiagnostic(location, "unknown config key '\(key)' for template '\(name)'\(suggestion); expected one of: \(base.keys.sorted().joined(separator: ", "))"))
                    continue
                }
                if !original.isNull, original.typeName != value.typeName {
                    diagnostics.append(TemplateDiagnostic(location, "config key '\(key)' of template '\(name)' is a \(original.typeName); the overlay gives a \(value.typeName)"))
                }
            }
        }
        return diagnostics
    }
}
