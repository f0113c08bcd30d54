import StewardJSON
import Yams

/// A staged, per-customer migration (YAML in `migrations/`) of a template's model binding
/// (which role moves from which adapter to which) or of the template's version (a new version
/// of the workflow, its prompts included: a prompt changes with the template version that names
/// it), for which customers in which order, through which stages, each with its gate.
public struct MigrationPlan: Sendable, Hashable {
    /// The migration's name, unique in the store.
    public var name: String
    /// The template whose binding or version moves.
    public var template: String
    /// The model role that moves (nil: the plan moves the template version).
    public var role: String?
    /// The binding customers are on now (`banking-intent@1.0.0`), or the template version.
    public var from: String
    /// The candidate (`banking-intent@2.0.0`), or the template version new work moves to.
    public var to: String
    /// For a version change: where an instance waiting at an old version's state goes in the
    /// new version (old state -> new state), for `steward migrate move`. Unmapped states stay.
    public var states: [String: String] = [:]
    /// Where `states` is written (for located problems against the two versions).
    public var statesLocation: SourceLocation? = nil
    /// Customers who go first, in order.
    public var pilot: [String]
    /// Customers who follow once every pilot customer completed.
    public var rest: [String]
    /// The stages, in order.
    public var stages: [MigrationStage]
    /// The credential that approves stages marked `approval: required` and inconclusive gates.
    public var approver: String
    /// The day the old binding stops working (`YYYY-MM-DD`), if the provider said.
    public var retireBy: String?
    /// The file.
    public var file: String
    /// The plan's text, as read (stored with the migration so its record never depends on the file).
    public var text: String

    /// Every customer, pilot first.
    public var customers: [String] { pilot + rest }

    /// Whether the plan moves the template version rather than a model binding.
    public var changesTemplate: Bool { role == nil }

    /// What moves, for people: `classifier banking-intent@1.0.0 -> banking-intent@2.0.0` or
    /// `version 1.1.0 -> 1.2.0`.
    public var changeSummary: String { "\(role ?? "version") \(from) -> \(to)" }
}

/// One stage of a migration.
public struct MigrationStage: Sendable, Hashable {
    /// What a stage does.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// An eval run of the candidate against the current binding on the customer's golden
        /// dataset; gated on the rubric's thresholds and `max_drop` against the current run.
        case regression
        /// For the customer's live instances, the candidate is called beside the current binding
        /// on the same input (its answer never reaches the instance); gated on agreement with
        /// the current output, the candidate's error rate and its latency p95.
        case shadow
        /// A share of the customer's new instances runs on the candidate.
        case canary
        /// Every new instance of the customer runs on the candidate.
        case full
    }

    /// The stage's name (unique in the plan).
    public var name: String
    /// What it does.
    public var kind: Kind
    /// For `canary`: the share of new instances on the candidate, in (0, 1).
    public var share: Double?
    /// The golden dataset of a `regression` stage (nil: the customer's overlay's, else the rubric's).
    public var dataset: String?
    /// The fewest observations before the gate can pass (cases for regression, finished
    /// candidate instances for canary); fewer is inconclusive.
    public var minimumObservations: Int
    /// The shortest time the stage runs before its gate can pass, in milliseconds.
    public var minimumDuration: Int64
    /// For `canary`: the largest failure rate of candidate instances (Wilson upper bound).
    public var maximumFailureRate: Double?
    /// For `canary`: the largest share of the candidate's human-reviewed work that reviewers
    /// edited or rejected.
    public var maximumReworkRate: Double? = nil
    /// For `shadow`: the least agreement with the current binding's output, in [0, 1]; for a
    /// `regression` stage with `replay`, the least agreement of the two sides on the replayed inputs.
    public var minimumAgreement: Double? = nil
    /// For `canary`: the least production accuracy of the candidate's work, from audits of its
    /// sampled unreviewed instances (the share of audited items judged entirely correct).
    public var minimumProductionAccuracy: Double? = nil
    /// For `regression`: how many of the customer's most recent production inputs (from the
    /// journal) are replayed through both sides beside the golden dataset (0: none).
    public var replay: Int = 0
    /// For `shadow`: the largest share of candidate calls that may fail.
    public var maximumErrorRate: Double? = nil
    /// For `shadow`: the largest 95th-percentile latency of candidate calls, in milliseconds.
    public var maximumLatencyP95: Double? = nil
    /// Whether a person with the plan's approver credential must approve before the stage is left.
    public var approvalRequired: Bool
    /// Where the stage is written.
    public var location: SourceLocation
}

extension TemplateParser {
    static let migrationKeys = ["migration", "description", "template", "change", "customers", "stages", "approver", "retire_by"]
    static let stageKeys = [
        "name", "kind", "share", "dataset", "min_observations", "min_duration", "max_failure_rate", "approval", "min_agreement", "max_error_rate",
        "max_latency_p95_ms", "max_rework_rate", "replay", "min_production_accuracy",
    ]

    /// Parses a migration plan, reporting every problem with its location.
    /// - Throws: `TemplateErrors` listing every problem.
    public static func parseMigration(_ text: String, file: String) throws(TemplateErrors) -> MigrationPlan {
        var reader = YAMLReader(file: file)
        let root = try compose(text, file: file, expected: "a migration plan")
        guard let top = reader.entries(of: root, context: "the migration plan", allowed: migrationKeys) else {
            throw TemplateErrors(reader.diagnostics)
        }
        let name = reader.string(reader.required(top, "migration", in: root, context: "the migration plan"), "'migration'")
        let template = reader.string(reader.required(top, "template", in: root, context: "the migration plan"), "'template'")
        var role: String?
        var from: String?
        var to: String?
        var states: [String: String] = [:]
        var statesLocation: SourceLocation?
        if let changeNode = reader.required(top, "change", in: root, context: "the migration plan"),
            let change = reader.entries(of: changeNode, context: "'change'", allowed: ["binding", "template"])
        {
            if change["binding"] != nil, change["template"] != nil {
                reader.error(changeNode, "'change' has both 'binding' and 'template'; a migration moves one thing, start one per change")
            } else if change["binding"] == nil, change["template"] == nil {
                reader.error(changeNode, "'change' needs 'binding' (a model role's adapter) or 'template' (the template version)")
            }
            if let bindingNode = change["binding"]?.value,
                let binding = reader.entries(of: bindingNode, context: "'change.binding'", allowed: ["role", "from", "to"])
            {
                role = reader.string(reader.required(binding, "role", in: bindingNode, context: "'change.binding'"), "'change.binding.role'")
                for (key, slot) in [("from", 0), ("to", 1)] {
                    guard let node = reader.required(binding, key, in: bindingNode, context: "'change.binding'"),
                        let value = reader.string(node, "'change.binding.\(key)'")
                    else { continue }
                    if ModelBinding(value) == nil { reader.error(node, "expected 'adapter-id@version' for 'change.binding.\(key)', found '\(value)'") }
                    if slot == 0 { from = value } else { to = value }
                }
                if let from, let to, from == to, let node = binding["to"]?.value {
                    reader.error(node, "'change.binding.to' is '\(to)', the same as 'from'; a migration moves to another binding")
                }
            }
            if let templateNode = change["template"]?.value,
                let versions = reader.entries(of: templateNode, context: "'change.template'", allowed: ["from", "to", "states"])
            {
                from = reader.string(reader.required(versions, "from", in: templateNode, context: "'change.template'"), "'change.template.from'")
                to = reader.string(reader.required(versions, "to", in: templateNode, context: "'change.template'"), "'change.template.to'")
                if let from, let to, from == to, let node = versions["to"]?.value {
                    reader.error(node, "'change.template.to' is '\(to)', the same as 'from'; a migration moves to another version")
                }
                if let statesNode = versions["states"]?.value {
                    statesLocation = reader.location(of: statesNode)
                    if case .mapping(let mapping) = statesNode {
                        for (key, value) in mapping {
                            guard let old = reader.string(key, "a state in 'change.template.states'"),
                                let new = reader.string(value, "the state '\(key.string ?? "?")' maps to")
                            else { continue }
                            states[old] = new
                        }
                    } else {
                        reader.error(statesNode, "expected a mapping of old state to new state for 'change.template.states', found \(YAMLReader.describe(statesNode))")
                    }
                }
            }
        }
        var pilot: [String] = []
        var rest: [String] = []
        if let customersNode = reader.required(top, "customers", in: root, context: "the migration plan"),
            let customers = reader.entries(of: customersNode, context: "'customers'", allowed: ["pilot", "rest"])
        {
            pilot = customers["pilot"].flatMap { reader.stringList($0.value, "'customers.pilot'") } ?? []
            rest = customers["rest"].flatMap { reader.stringList($0.value, "'customers.rest'") } ?? []
            if pilot.isEmpty { reader.error(customersNode, "'customers.pilot' is empty; expected at least one pilot customer, who goes first") }
            for customer in Set(pilot).intersection(rest).sorted() {
                reader.error(customers["rest"]?.value, "customer '\(customer)' is in both 'pilot' and 'rest'")
            }
        }
        var stages: [MigrationStage] = []
        if let stagesNode = reader.required(top, "stages", in: root, context: "the migration plan") {
            if case .sequence(let items) = stagesNode {
                for item in items {
                    guard let stage = parseStage(item, reader: &reader) else { continue }
                    if stages.contains(where: { $0.name == stage.name }) {
                        reader.error(item, "duplicate stage name '\(stage.name)'; expected each name once")
                        continue
                    }
                    stages.append(stage)
                }
                if !items.isEmpty, stages.count == items.count, stages.last?.kind != .full {
                    reader.error(stagesNode, "the last stage must be a 'full' stage; a migration ends with every new instance on the candidate")
                }
                for (index, stage) in stages.enumerated() where stage.kind == .full && index != stages.count - 1 {
                    reader.error(at: stage.location, "stage '\(stage.name)' is 'full' but not the last stage")
                }
                var lastShare = 0.0
                for stage in stages where stage.kind == .canary {
                    if let share = stage.share, share <= lastShare {
                        reader.error(at: stage.location, "canary stage '\(stage.name)' has share \(share), not more than the canary before it (\(lastShare)); shares only grow")
                    }
                    lastShare = max(lastShare, stage.share ?? 0)
                }
            } else {
                reader.error(stagesNode, "expected a list of stages for 'stages', found \(YAMLReader.describe(stagesNode))")
            }
        }
        let approver = top["approver"].flatMap { reader.string($0.value, "'approver'") } ?? "migration-approver"
        var retireBy: String?
        if let node = top["retire_by"]?.value, let text = reader.string(node, "'retire_by'") {
            if CivilDate(text) == nil { reader.error(node, "expected a date YYYY-MM-DD for 'retire_by', found '\(text)'") } else { retireBy = text }
        }
        if role == nil, from != nil {
            for stage in stages where stage.kind == .shadow {
                reader.error(at: stage.location, "stage '\(stage.name)' is a shadow stage, but the plan changes the template version; shadow stages repeat a model role's calls on a candidate binding")
            }
        }
        guard reader.diagnostics.isEmpty, let name, let template, let from, let to else { throw TemplateErrors(reader.diagnostics) }
        var plan = MigrationPlan(
            name: name, template: template, role: role, from: from, to: to, pilot: pilot, rest: rest, stages: stages, approver: approver,
            retireBy: retireBy, file: file, text: text)
        plan.states = states
        plan.statesLocation = statesLocation
        return plan
    }

    static func parseStage(_ node: Node, reader: inout YAMLReader) -> MigrationStage? {
        guard let entries = reader.entries(of: node, context: "a stage", allowed: stageKeys) else { return nil }
        let name = reader.string(reader.required(entries, "name", in: node, context: "a stage"), "'name' of a stage")
        let context = "stage '\(name ?? "?")'"
        var kind: MigrationStage.Kind?
        if let kindNode = reader.required(entries, "kind", in: node, context: context), let text = reader.string(kindNode, "'kind' of \(context)") {
            kind = MigrationStage.Kind(rawValue: text)
            if kind == nil {
                let names = MigrationStage.Kind.allCases.map(\.rawValue)
                let suggestion = YAMLReader.closest(to: text, in: names).map { " (did you mean '\($0)'?)" } ?? ""
                reader.error(kindNode, "unknown stage kind '\(text)' in \(context)\(suggestion); expected one of: \(names.joined(separator: ", "))")
            }
        }
        let share = reader.number(entries["share"]?.value, "'share' of \(context)")
        if let share, !(share > 0 && share < 1) { reader.error(entries["share"]?.value, "'share' of \(context) is \(share); expected a share in (0, 1)") }
        if kind == .canary, share == nil { reader.error(node, "missing 'share' in \(context); a canary stage needs the share of new instances on the candidate") }
        if kind != .canary, let entry = entries["share"] { reader.error(entry.key, "'share' applies to canary stages only (\(context))") }
        if kind != .regression, let entry = entries["dataset"] { reader.error(entry.key, "'dataset' applies to regression stages only (\(context))") }
        let observations = reader.integer(entries["min_observations"]?.value, "'min_observations' of \(context)", range: 0...10_000_000) ?? 0
        var duration: Int64 = 0
        if let node = entries["min_duration"]?.value, let text = reader.string(node, "'min_duration' of \(context)") {
            if let parsed = parseDurationMilliseconds(text) { duration = parsed } else {
                reader.error(node, "expected a duration like 30m, 24h or 7d for 'min_duration' of \(context), found '\(text)'")
            }
        }
        let failureRate = reader.number(entries["max_failure_rate"]?.value, "'max_failure_rate' of \(context)")
        if let failureRate, !(0...1).contains(failureRate) { reader.error(entries["max_failure_rate"]?.value, "'max_failure_rate' of \(context) must be in [0, 1]") }
        var approval = false
        if let node = entries["approval"]?.value, let text = reader.string(node, "'approval' of \(context)") {
            switch text {
            case "required": approval = true
            case "none": approval = false
            default: reader.error(node, "unknown approval '\(text)' in \(context); expected one of: required, none")
            }
        }
        func fraction(_ key: String) -> Double? {
            guard let node = entries[key]?.value, let value = reader.number(node, "'\(key)' of \(context)") else { return nil }
            if !(0...1).contains(value) { reader.error(node, "'\(key)' of \(context) must be in [0, 1]") }
            if kind != .shadow, !(key == "min_agreement" && kind == .regression) {
                reader.error(entries[key]?.key, "'\(key)' applies to shadow stages\(key == "min_agreement" ? " and regression stages with 'replay'" : "") only (\(context))")
            }
            return value
        }
        var rework: Double?
        if let node = entries["max_rework_rate"]?.value, let value = reader.number(node, "'max_rework_rate' of \(context)") {
            if !(0...1).contains(value) { reader.error(node, "'max_rework_rate' of \(context) must be in [0, 1]") }
            if kind != .canary { reader.error(entries["max_rework_rate"]?.key, "'max_rework_rate' applies to canary stages only (\(context))") }
            rework = value
        }
        var productionAccuracy: Double?
        if let node = entries["min_production_accuracy"]?.value, let value = reader.number(node, "'min_production_accuracy' of \(context)") {
            if !(0...1).contains(value) { reader.error(node, "'min_production_accuracy' of \(context) must be in [0, 1]") }
            if kind != .canary { reader.error(entries["min_production_accuracy"]?.key, "'min_production_accuracy' applies to canary stages only (\(context))") }
            productionAccuracy = value
        }
        let agreement = fraction("min_agreement")
        let replay = reader.integer(entries["replay"]?.value, "'replay' of \(context)", range: 1...100_000) ?? 0
        if kind != .regression, let entry = entries["replay"] { reader.error(entry.key, "'replay' applies to regression stages only (\(context))") }
        if kind == .regression, agreement != nil, replay == 0, let entry = entries["min_agreement"] {
            reader.error(entry.key, "'min_agreement' of \(context) needs 'replay': it gates the two sides' agreement on replayed production inputs")
        }
        let errorRate = fraction("max_error_rate")
        var latency: Double?
        if let node = entries["max_latency_p95_ms"]?.value, let value = reader.number(node, "'max_latency_p95_ms' of \(context)") {
            if value <= 0 { reader.error(node, "'max_latency_p95_ms' of \(context) must be positive") }
            if kind != .shadow { reader.error(entries["max_latency_p95_ms"]?.key, "'max_latency_p95_ms' applies to shadow stages only (\(context))") }
            latency = value
        }
        guard let name, let kind else { return nil }
        var stage = MigrationStage(
            name: name, kind: kind, share: kind == .canary ? share : nil, dataset: entries["dataset"].flatMap { reader.string($0.value, "'dataset'") },
            minimumObservations: observations, minimumDuration: duration, maximumFailureRate: failureRate, approvalRequired: approval,
            location: reader.location(of: node))
        stage.maximumReworkRate = rework
        stage.minimumAgreement = agreement
        stage.replay = replay
        stage.minimumProductionAccuracy = productionAccuracy
        stage.maximumErrorRate = errorRate
        stage.maximumLatencyP95 = latency
        return stage
    }

    /// `30m`, `24h`, `7d`, `45s` (a whole number and one of s, m, h, d) in milliseconds; nil for
    /// anything else. The one reader of such durations: plans, templates, channels, and the
    /// CLI's and the API's age filters.
    public static func parseDurationMilliseconds(_ text: String) -> Int64? {
        guard let unit = text.last, let number = Int64(text.dropLast()), number >= 0 else { return nil }
        switch unit {
        case "s": return number * 1_000
        case "m": return number * 60_000
        case "h": return number * 3_600_000
        case "d": return number * 86_400_000
        default: return nil
        }
    }
}

/// A calendar date `YYYY-MM-DD` (UTC), for `retire_by`.
public struct CivilDate: Sendable, Hashable {
    /// Midnight UTC of the date, ms since 1970.
    public let milliseconds: Int64

    /// Parses `YYYY-MM-DD`; nil when it is not a real date.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), (1...12).contains(month), day >= 1
        else { return nil }
        let first = CivilTime.firstMinute(year: year, month: month)
        let next = CivilTime.firstMinute(year: month == 12 ? year + 1 : year, month: month % 12 + 1)
        guard Int64(day - 1) * 1_440 < next - first else { return nil }
        milliseconds = (first + Int64(day - 1) * 1_440) * 60_000
    }
}
