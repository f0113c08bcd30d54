import StewardJSON

/// Where a child instance belongs: the branch `index` of the fan-out (`map` or `parallel`
/// state) `state` of instance `instance`, entered at sequence `visit`.
public struct BranchLink: Sendable, Codable, Hashable {
    /// The parent instance.
    public var instance: String
    /// The parent's fan-out state.
    public var state: String
    /// The parent's visit of that state (its `enteredAt`): a later visit has other children.
    public var visit: Int
    /// The branch's place: the item's index (`map`) or the branch's position (`parallel`).
    public var index: Int

    /// Creates a link.
    public init(instance: String, state: String, visit: Int, index: Int) {
        self.instance = instance
        self.state = state
        self.visit = visit
        self.index = index
    }

    /// The child's instance id: `<parent>.<state>.<visit>.<index>`, so starting it twice finds
    /// the first (a restart, a reconciliation) instead of running it twice.
    public var childID: String { "\(instance).\(state).\(visit).\(index)" }
}

/// How one branch of a fan-out ended, as the parent records it.
public struct BranchOutcome: Sendable, Codable, Hashable {
    /// The child instance.
    public var child: String
    /// How it ended (`completed`, `rejected`, `failed`, `cancelled`).
    public var status: InstanceStatus
    /// Its output (nil when it failed or was cancelled).
    public var output: JSONValue?
    /// Why it failed, for a failed or cancelled branch.
    public var message: String?

    /// Creates an outcome.
    public init(child: String, status: InstanceStatus, output: JSONValue?, message: String?) {
        self.child = child
        self.status = status
        self.output = output
        self.message = message
    }

    /// Whether the branch counts as failed: it ended `failed` or was cancelled (a `rejected`
    /// end is an outcome the branch chose, with its output).
    public var isFailure: Bool { status == .failed || status == .cancelled }
}

/// The progress of the fan-out an instance waits at: how many branches were started (always
/// the first `started` of `total`) and how each that ended did.
public struct FanOutProgress: Sendable, Codable, Hashable {
    /// The fan-out state.
    public var state: String
    /// The visit (`enteredAt`) the branches belong to.
    public var visit: Int
    /// How many branches there are.
    public var total: Int
    /// How many were started: branches `0..<started`.
    public var started: Int
    /// The outcomes of the branches that ended, by index (nil: running or not started).
    public var outcomes: [BranchOutcome?]

    /// Creates progress with nothing started.
    public init(state: String, visit: Int, total: Int) {
        self.state = state
        self.visit = visit
        self.total = total
        self.started = 0
        self.outcomes = Array(repeating: nil, count: total)
    }

    /// Branches started and not ended.
    public var running: [Int] { (0..<started).filter { outcomes[$0] == nil } }
    /// How many ended.
    public var ended: Int { outcomes.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
}

/// A branch's end, delivered to its parent.
public struct BranchFinished: Sendable, Codable, Hashable {
    /// Which branch.
    public var link: BranchLink
    /// How it ended.
    public var outcome: BranchOutcome

    /// Creates a delivery.
    public init(link: BranchLink, outcome: BranchOutcome) {
        self.link = link
        self.outcome = outcome
    }
}

/// A child instance the executor must start for a fan-out (and drive), unless it exists.
public struct BranchStart: Sendable, Hashable {
    /// Where it belongs; `link.childID` is its id.
    public var link: BranchLink
    /// The branch's name.
    public var branch: String
    /// What it runs.
    public var target: Target
    /// Its input.
    public var input: JSONValue

    /// What a branch runs.
    public enum Target: Sendable, Hashable {
        /// The inline branch plan of the parent's plan with this key (`Plan.branchPlans`).
        case inline(key: String)
        /// The newest version of a loaded template.
        case template(String)
    }

    /// Creates a start.
    public init(link: BranchLink, branch: String, target: Target, input: JSONValue) {
        self.link = link
        self.branch = branch
        self.target = target
        self.input = input
    }
}

extension BranchLink {
    /// The link as JSON.
    public var jsonValue: JSONValue {
        ["instance": .string(instance), "state": .string(state), "visit": .integer(Int64(visit)), "index": .integer(Int64(index))]
    }

    /// Rebuilds a link from `jsonValue`.
    public init(json: JSONValue) throws(DecodingFailure) {
        guard let instance = json["instance"]?.stringValue, let state = json["state"]?.stringValue, let visit = json["visit"]?.integerValue,
            let index = json["index"]?.integerValue
        else { throw DecodingFailure("branch link is missing a field") }
        self.init(instance: instance, state: state, visit: Int(visit), index: Int(index))
    }
}

extension BranchOutcome {
    /// The outcome as JSON.
    public var jsonValue: JSONValue {
        var object: [String: JSONValue] = ["child": .string(child), "status": .string(status.rawValue)]
        if let output { object["output"] = output }
        if let message { object["message"] = .string(message) }
        return .object(object)
    }

    /// Rebuilds an outcome from `jsonValue`.
    public init(json: JSONValue) throws(DecodingFailure) {
        guard let child = json["child"]?.stringValue, let text = json["status"]?.stringValue, let status = InstanceStatus(rawValue: text) else {
            throw DecodingFailure("branch outcome is missing a field")
        }
        self.init(child: child, status: status, output: json["output"], message: json["message"]?.stringValue)
    }
}

extension FanOutProgress {
    /// The progress as JSON.
    public var jsonValue: JSONValue {
        [
            "state": .string(state), "visit": .integer(Int64(visit)), "total": .integer(Int64(total)), "started": .integer(Int64(started)),
            "outcomes": .array(outcomes.map { $0?.jsonValue ?? .null }),
        ]
    }

    /// Rebuilds progress from `jsonValue`.
    public init(json: JSONValue) throws(DecodingFailure) {
        guard let state = json["state"]?.stringValue, let visit = json["visit"]?.integerValue, let total = json["total"]?.integerValue,
            let started = json["started"]?.integerValue, let outcomes = json["outcomes"]?.arrayValue, outcomes.count == Int(total)
        else { throw DecodingFailure("fan-out progress is missing a field") }
        self.init(state: state, visit: Int(visit), total: Int(total))
        self.started = Int(started)
        self.outcomes = try outcomes.map { (value) throws(DecodingFailure) -> BranchOutcome? in
            value.isNull ? nil : try BranchOutcome(json: value)
        }
    }
}
