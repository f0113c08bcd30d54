import StewardJSON
import StewardTemplates

/// Why stored JSON could not be turned back into a runtime value.
public struct DecodingFailure: Error, Sendable, CustomStringConvertible {
    /// What was wrong.
    public let description: String
    init(_ description: String) { self.description = description }
}

// Hand-written JSON codecs: Foundation's JSONEncoder is slow on Linux and these run on the
// store's hot path (one snapshot and one event per transition).

extension InstanceState {
    /// The state as a JSON object.
    public var jsonValue: JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id), "template": .string(template), "version": .string(templateVersion),
            "status": .string(status.rawValue), "current": .string(current), "attempt": .integer(Int64(attempt)),
            "data": data, "sequence": .integer(Int64(sequence)),
        ]
        if let customer { object["customer"] = .string(customer) }
        if let output { object["output"] = output }
        if let failure { object["failure"] = failure.jsonValue }
        if !bindings.isEmpty { object["bindings"] = .object(bindings.mapValues { .string($0) }) }
        if let startedAt { object["started_at"] = .integer(startedAt) }
        if let configHash { object["config_hash"] = .string(configHash) }
        if let templateHash { object["template_hash"] = .string(templateHash) }
        if enteredAt != 0 { object["entered_at"] = .integer(Int64(enteredAt)) }
        if let escalation {
            object["escalation"] = [
                "level": .integer(Int64(escalation.level)), "assigned": escalation.assigned.map { .string($0) } ?? .null,
                "fired": .array(escalation.fired.map { .string($0) }),
            ]
        }
        if let parent { object["parent"] = parent.jsonValue }
        if let fanOut { object["fan_out"] = fanOut.jsonValue }
        if !buffered.isEmpty { object["buffered"] = .array(buffered.map { Event.eventReceived($0).payload }) }
        return .object(object)
    }

    /// Rebuilds a state from `jsonValue`.
    public init(json: JSONValue) throws(DecodingFailure) {
        guard let id = json["id"]?.stringValue, let template = json["template"]?.stringValue,
            let version = json["version"]?.stringValue, let statusText = json["status"]?.stringValue,
            let status = InstanceStatus(rawValue: statusText), let current = json["current"]?.stringValue,
            let attempt = json["attempt"]?.integerValue, let sequence = json["sequence"]?.integerValue
        else { throw DecodingFailure("instance state is missing a required field") }
        self.init(id: id, template: template, templateVersion: version, customer: json["customer"]?.stringValue)
        self.status = status
        self.current = current
        self.attempt = Int(attempt)
        self.sequence = Int(sequence)
        self.data = json["data"] ?? .emptyObject
        self.output = json["output"]
        self.bindings = (json["bindings"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        self.startedAt = json["started_at"]?.integerValue
        self.configHash = json["config_hash"]?.stringValue
        self.templateHash = json["template_hash"]?.stringValue
        self.enteredAt = Int(json["entered_at"]?.integerValue ?? 0)
        if let escalation = json["escalation"], let level = escalation["level"]?.integerValue {
            self.escalation = Escalation(
                level: Int(level), assigned: escalation["assigned"]?.stringValue,
                fired: escalation["fired"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
        self.failure = try json["failure"].map { (value) throws(DecodingFailure) -> Failure in try Failure(json: value) }
        self.parent = try json["parent"].map { (value) throws(DecodingFailure) -> BranchLink in try BranchLink(json: value) }
        self.fanOut = try json["fan_out"].map { (value) throws(DecodingFailure) -> FanOutProgress in try FanOutProgress(json: value) }
        self.buffered = try (json["buffered"]?.arrayValue ?? []).map { (value) throws(DecodingFailure) -> EventDelivery in
            guard case .eventReceived(let delivery) = try Event(name: "event_received", payload: value) else { throw DecodingFailure("not an event") }
            return delivery
        }
    }
}

extension Failure {
    /// The failure as a JSON object.
    public var jsonValue: JSONValue { ["state": .string(state), "kind": .string(kind.rawValue), "message": .string(message)] }

    /// Rebuilds a failure from `jsonValue`.
    public init(json: JSONValue) throws(DecodingFailure) {
        guard let state = json["state"]?.stringValue, let kind = json["kind"]?.stringValue,
            let message = json["message"]?.stringValue
        else { throw DecodingFailure("failure is missing a field") }
        self.init(state: state, kind: FailureKind(rawValue: kind), message: message)
    }
}

extension Event {
    /// The event's payload as a JSON object (its `name` is stored beside it).
    public var payload: JSONValue {
        switch self {
        case .started(let input, let bindings, let at, let configHash, let templateHash, let parent):
            var object: [String: JSONValue] = ["input": input]
            if let parent { object["parent"] = parent.jsonValue }
            if !bindings.isEmpty { object["bindings"] = .object(bindings.mapValues { .string($0) }) }
            if let at { object["at"] = .integer(at) }
            if let configHash { object["config"] = .string(configHash) }
            if let templateHash { object["template"] = .string(templateHash) }
            return .object(object)
        case .stepSucceeded(let state, let attempt, let output):
            return ["state": .string(state), "attempt": .integer(Int64(attempt)), "output": output]
        case .stepFailed(let state, let attempt, let kind, let message):
            return ["state": .string(state), "attempt": .integer(Int64(attempt)), "kind": .string(kind.rawValue), "message": .string(message)]
        case .timerFired(let fired):
            return [
                "timer": .integer(fired.timer), "kind": .string(fired.kind), "state": .string(fired.state), "due_at": .integer(fired.dueAt),
                "payload": fired.payload,
            ]
        case .checkpointDecided(let decision):
            var object: [String: JSONValue] = [
                "state": .string(decision.state), "decision": .string(decision.decision.rawValue),
                "reviewer": .string(decision.reviewer), "credential": .string(decision.credential),
            ]
            if let output = decision.output { object["output"] = output }
            if let reason = decision.reason { object["reason"] = .string(reason) }
            return .object(object)
        case .moved(let move):
            var object: [String: JSONValue] = [
                "migration": .string(move.migration), "from": .string(move.from), "from_version": .string(move.fromVersion), "to": .string(move.to),
                "version": .string(move.templateVersion), "by": .string(move.by),
            ]
            if let hash = move.templateHash { object["template"] = .string(hash) }
            if let hash = move.configHash { object["config"] = .string(hash) }
            if !move.bindings.isEmpty { object["bindings"] = .object(move.bindings.mapValues { .string($0) }) }
            return .object(object)
        case .cancelled(let reason, let by):
            return ["reason": .string(reason), "by": .string(by)]
        case .retried(let by):
            return ["by": .string(by)]
        case .eventReceived(let delivery):
            var object: [String: JSONValue] = ["name": .string(delivery.name), "payload": delivery.payload, "by": .string(delivery.by)]
            if let key = delivery.key { object["key"] = .string(key) }
            if let key = delivery.idempotencyKey { object["idempotency_key"] = .string(key) }
            return .object(object)
        case .branchFinished(let finished):
            return ["link": finished.link.jsonValue, "outcome": finished.outcome.jsonValue]
        }
    }

    /// Rebuilds an event from its name and payload.
    public init(name: String, payload: JSONValue) throws(DecodingFailure) {
        func field(_ key: String) throws(DecodingFailure) -> String {
            guard let value = payload[key]?.stringValue else { throw DecodingFailure("event \(name) is missing '\(key)'") }
            return value
        }
        func attempt() throws(DecodingFailure) -> Int {
            guard let value = payload["attempt"]?.integerValue else { throw DecodingFailure("event \(name) is missing 'attempt'") }
            return Int(value)
        }
        switch name {
        case "started":
            self = .started(
                input: payload["input"] ?? .null, bindings: (payload["bindings"]?.objectValue ?? [:]).compactMapValues(\.stringValue),
                at: payload["at"]?.integerValue, configHash: payload["config"]?.stringValue, templateHash: payload["template"]?.stringValue,
                parent: try payload["parent"].map { (value) throws(DecodingFailure) -> BranchLink in try BranchLink(json: value) })
        case "step_succeeded":
            self = .stepSucceeded(state: try field("state"), attempt: try attempt(), output: payload["output"] ?? .null)
        case "step_failed":
            self = .stepFailed(
                state: try field("state"), attempt: try attempt(), kind: FailureKind(rawValue: try field("kind")), message: try field("message"))
        case "timer_fired":
            guard let timer = payload["timer"]?.integerValue, let dueAt = payload["due_at"]?.integerValue else {
                throw DecodingFailure("event timer_fired is missing 'timer' or 'due_at'")
            }
            self = .timerFired(TimerFired(
                timer: timer, kind: try field("kind"), state: try field("state"), dueAt: dueAt, payload: payload["payload"] ?? .null))
        case "checkpoint_decided":
            guard let decision = Decision(rawValue: try field("decision")) else { throw DecodingFailure("unknown decision") }
            self = .checkpointDecided(CheckpointDecision(
                state: try field("state"), decision: decision, output: payload["output"], reason: payload["reason"]?.stringValue,
                reviewer: try field("reviewer"), credential: try field("credential")))
        case "moved":
            self = .moved(InstanceMove(
                migration: try field("migration"), from: try field("from"), fromVersion: try field("from_version"), to: try field("to"), templateVersion: try field("version"),
                templateHash: payload["template"]?.stringValue, configHash: payload["config"]?.stringValue,
                bindings: (payload["bindings"]?.objectValue ?? [:]).compactMapValues(\.stringValue), by: try field("by")))
        case "cancelled":
            self = .cancelled(reason: try field("reason"), by: try field("by"))
        case "retried":
            self = .retried(by: try field("by"))
        case "event_received":
            self = .eventReceived(EventDelivery(
                name: try field("name"), payload: payload["payload"] ?? .emptyObject, key: payload["key"]?.stringValue,
                idempotencyKey: payload["idempotency_key"]?.stringValue, by: try field("by")))
        case "branch_finished":
            guard let link = payload["link"], let outcome = payload["outcome"] else { throw DecodingFailure("event branch_finished is missing 'link' or 'outcome'") }
            self = .branchFinished(BranchFinished(link: try BranchLink(json: link), outcome: try BranchOutcome(json: outcome)))
        default:
            throw DecodingFailure("unknown event '\(name)'")
        }
    }
}
