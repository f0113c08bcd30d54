import StewardCore
import StewardJSON
import StewardTemplates

/// The engine's source of time, in milliseconds since 1970. Injected so tests control it.
public protocol EngineClock: Sendable {
    /// Now.
    func nowMilliseconds() -> Int64
}

/// Finds the plan an instance is pinned to, and a customer's effective config.
public protocol PlanResolver: Sendable {
    /// The plan of `template` at `version` (the newest when `version` is nil).
    func plan(template: String, version: String?) -> Plan?
    /// The `map` and `parallel` states of the loaded plans, by template name (what a restart
    /// reconciles: the branches of instances waiting there).
    var fanOutStates: [(template: String, state: String)] { get }
    /// The config an instance of `plan` runs with for `customer` (overlays applied).
    func config(for plan: Plan, customer: String?) -> JSONValue
    /// The customer's model bindings that override the template's (pinned at start).
    func bindings(for plan: Plan, customer: String?) -> [String: String]
    /// Whether `customer` is onboarded (has an overlay); unknown customers are refused.
    func knowsCustomer(_ customer: String) -> Bool
    /// The exact texts `plan` was built from, which new instances are pinned to (nil: the
    /// plan was built in memory and instances are pinned by version only).
    func snapshot(of plan: Plan) -> TemplateSnapshot?
    /// The plan built from the template snapshot with this hash, if loaded.
    func plan(hash: String) -> Plan?
    /// The customer's overrides of `plan`'s checkpoint sampling rates, by checkpoint (read
    /// when a checkpoint is passed, so a changed rate applies to instances already running).
    func sampling(for plan: Plan, customer: String?) -> [String: SampleOverride]
}

extension PlanResolver {
    /// None by default.
    public var fanOutStates: [(template: String, state: String)] { [] }
    /// No snapshots by default.
    public func snapshot(of plan: Plan) -> TemplateSnapshot? { nil }
    /// No snapshots by default.
    public func plan(hash: String) -> Plan? { nil }
    /// No overrides by default.
    public func bindings(for plan: Plan, customer: String?) -> [String: String] { [:] }
    /// Every customer is known by default.
    public func knowsCustomer(_ customer: String) -> Bool { true }
    /// No sampling overrides by default.
    public func sampling(for plan: Plan, customer: String?) -> [String: SampleOverride] { [:] }
}

/// A set of plans by name and version (several versions of a template side by side), with
/// the texts each was built from and the customers' overlays.
public struct PlanLibrary: PlanResolver {
    private var plans: [String: [String: Plan]] = [:]
    private var newest: [String: Plan] = [:]
    /// Names whose newest is only a version kept for pinned instances (added with `newest` false).
    private var provisional: Set<String> = []
    private var snapshots: [String: [String: TemplateSnapshot]] = [:]
    private var byHash: [String: Plan] = [:]
    /// Inline branch plans (`template:key`) by name and version.
    private var branches: [String: [String: Plan]] = [:]
    private var overlays: [String: [String: JSONValue]] = [:]
    private var overlayBindings: [String: [String: [String: String]]] = [:]
    private var overlaySampling: [String: [String: [String: SampleOverride]]] = [:]
    /// The onboarded customers; nil accepts any customer (no overlays configured).
    public var knownCustomers: Set<String>?

    /// Creates a library of `plans`.
    public init(_ plans: [Plan] = []) {
        for plan in plans { add(plan) }
    }

    /// Adds a plan. The newest version of a name is the highest (dotted numbers compared as
    /// numbers, `1.10.0` after `1.9.0`; among equal ones the last added) of those added with
    /// `newest` true; a plan added with `newest` false is an older version kept only for the
    /// instances pinned to it. With `snapshot`, new instances of this version are pinned to that text.
    public mutating func add(_ plan: Plan, snapshot: TemplateSnapshot? = nil, newest isNewest: Bool = true) {
        plans[plan.name, default: [:]][plan.version] = plan
        let standIn = provisional.contains(plan.name)
        if newest[plan.name] == nil || (isNewest && (standIn || !Self.version(plan.version, isBelow: newest[plan.name]?.version ?? ""))) {
            newest[plan.name] = plan
            // A kept-only version is the newest only until a real one is added.
            if isNewest { provisional.remove(plan.name) } else { provisional.insert(plan.name) }
        }
        if let snapshot {
            snapshots[plan.name, default: [:]][plan.version] = snapshot
            byHash[snapshot.hash] = plan
        }
        addBranches(of: plan, hash: snapshot?.hash)
    }

    /// Makes `plan`'s inline branch plans resolve by name and version, and (with the parent's
    /// text `hash`) by `<hash>:<key>`, the text a child instance of the branch is pinned to.
    private mutating func addBranches(of plan: Plan, hash: String?) {
        for (key, branch) in plan.branchPlans {
            branches[branch.name, default: [:]][branch.version] = branch
            let branchHash = hash.map { $0 + ":" + key }
            if let branchHash { byHash[branchHash] = branch }
            addBranches(of: branch, hash: branchHash)
        }
    }

    /// Whether version `a` orders before `b`: dotted parts compared as numbers where both are
    /// numbers, else as text (`1.9.0` < `1.10.0`, `1.2` < `1.2.1`).
    public static func version(_ a: String, isBelow b: String) -> Bool {
        let left = a.split(separator: "."), right = b.split(separator: ".")
        for (x, y) in zip(left, right) where x != y {
            if let m = Int(x), let n = Int(y) { return m < n }
            return x < y
        }
        return left.count < right.count
    }

    /// Makes `hash` resolve to `plan` too (an older text of a version that is still loaded
    /// under another hash cannot happen: a changed text under the same version is refused).
    public mutating func alias(hash: String, to plan: Plan) {
        byHash[hash] = plan
        addBranches(of: plan, hash: hash)
    }

    /// The text new instances of `plan` are pinned to.
    public func snapshot(of plan: Plan) -> TemplateSnapshot? { snapshots[plan.name]?[plan.version] }

    /// The plan built from the snapshot with `hash`.
    public func plan(hash: String) -> Plan? { byHash[hash] }

    /// Sets a customer's config overlay for a template (merged over the template config).
    public mutating func setOverlay(_ overlay: JSONValue, template: String, customer: String) {
        overlays[template, default: [:]][customer] = overlay
    }

    /// Sets a customer's model bindings for a template (they win over the template's).
    public mutating func setBindings(_ bindings: [String: String], template: String, customer: String) {
        overlayBindings[template, default: [:]][customer] = bindings
    }

    /// Sets a customer's sampling rate overrides for a template's checkpoints.
    public mutating func setSampling(_ overrides: [String: SampleOverride], template: String, customer: String) {
        overlaySampling[template, default: [:]][customer] = overrides
    }

    /// The customer's sampling rate overrides for `plan`'s checkpoints.
    public func sampling(for plan: Plan, customer: String?) -> [String: SampleOverride] {
        guard let customer else { return [:] }
        return overlaySampling[plan.name]?[customer] ?? [:]
    }

    /// The customer's binding overrides for `plan`.
    public func bindings(for plan: Plan, customer: String?) -> [String: String] {
        guard let customer else { return [:] }
        return overlayBindings[plan.name]?[customer] ?? [:]
    }

    /// Whether `customer` is onboarded.
    public func knowsCustomer(_ customer: String) -> Bool { knownCustomers?.contains(customer) ?? true }

    /// Every plan.
    public var all: [Plan] { plans.values.flatMap(\.values) }

    /// The `map` and `parallel` states of every plan and branch plan, by template name.
    public var fanOutStates: [(template: String, state: String)] {
        let every = all + branches.values.flatMap(\.values)
        let pairs = Set(every.flatMap { plan in plan.template.states.filter { $0.fanOut != nil }.map { "\(plan.name)\u{0}\($0.name)" } })
        return pairs.sorted().map { pair in
            let parts = pair.split(separator: "\u{0}", maxSplits: 1).map(String.init)
            return (parts[0], parts[1])
        }
    }

    /// The plan of `template` at `version`.
    public func plan(template: String, version: String?) -> Plan? {
        guard let version else { return newest[template] }
        return plans[template]?[version] ?? branches[template]?[version]
    }

    /// The template config with the customer's overlay merged over it.
    public func config(for plan: Plan, customer: String?) -> JSONValue {
        guard let customer, let overlay = overlays[plan.name]?[customer] else { return plan.template.config }
        return plan.template.config.merging(overlay)
    }
}

