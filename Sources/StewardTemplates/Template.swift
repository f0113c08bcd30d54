import StewardExpressions
import StewardJSON

/// A workflow template: the unit a customer is onboarded with. Loaded from one YAML file.
public struct Template: Sendable {
    /// Template id, e.g. `support-ticket-triage`.
    public var name: String
    /// Explicit version, e.g. `1.0.0`. Instances are pinned to it.
    public var version: String
    /// The vertical it belongs to, e.g. `customer-support`.
    public var vertical: String
    /// One paragraph for people.
    public var description: String
    /// The agent operating procedure.
    public var aop: OperatingProcedure
    /// Plugin names whose steps the template calls.
    public var plugins: [String]
    /// Plugins the template asks to run a certain way (`{name: x, isolation: process}` in its
    /// `plugins` list): name -> `process` or `in-process`. A template can only tighten what the
    /// operator set: `process` isolates the plugin for the whole engine, and `in-process` for a
    /// plugin the operator isolates is an error at assembly.
    public var pluginIsolation: [String: String] = [:]
    /// Template configuration, visible to expressions as `config.*`; customer overlays change it.
    public var config: JSONValue
    /// Name of the first state.
    public var start: String
    /// Where `start` is written (or the top of the file when it is implied).
    public var startLocation: SourceLocation
    /// The states, in file order.
    public var states: [State]
    /// Retry policy for steps that do not set their own.
    public var defaultRetry: RetryPolicy
    /// SLA targets, if the template has any.
    public var serviceLevels: ServiceLevels?
    /// The escalation ladder for checkpoints with an SLA.
    public var escalation: [EscalationRung]
    /// Model role bindings: role (`classifier`) -> adapter `id@version`. Customers may override.
    public var models: [String: String]
    /// Where the template came from.
    public var file: String
    /// The call timeout of step, model and ffi states that set no `timeout_ms` (nil: none).
    public var defaultTimeoutMilliseconds: Int? = nil
    /// The output size limit of step, model and ffi states that set no `max_output_bytes`
    /// (nil: only the engine's global limit applies).
    public var defaultMaxOutputBytes: Int? = nil
    /// Whether validation must prove that a credentialed person stands between every `model`
    /// state and every effect (`human_in_path: required`).
    public var humanInPath: HumanInPathRule = .optional
    /// Where `human_in_path` is written (nil when absent).
    public var humanInPathLocation: SourceLocation?
    /// Where each `aop.human_touchpoints` entry is written, in order (empty when unknown).
    public var touchpointLocations: [SourceLocation] = []
    /// The evaluation rubric (`eval:`): metrics, gates and cadence (nil: none).
    public var eval: EvalRubric? = nil

    /// The state with this name.
    public func state(named name: String) -> State? { states.first { $0.name == name } }
}

/// The `human_in_path` rule of a template or a customer overlay.
public enum HumanInPathRule: String, Sendable, Hashable, CaseIterable {
    /// No proof required (the default).
    case optional
    /// Every route from a `model` state to a step that is not pure must pass a checkpoint
    /// that always opens (a credential and no `when`); validation fails otherwise.
    case required
}

/// The AOP (agent operating procedure) every template carries.
public struct OperatingProcedure: Sendable, Hashable {
    /// The domain the agent works in.
    public var domain: String
    /// What the agent receives.
    public var inputs: [String]
    /// What the agent produces.
    public var outputs: [String]
    /// Where a human touches the work. An entry that starts with a checkpoint's state name
    /// followed by a comma or a colon (`review_reply, for P1 tickets`) names that checkpoint;
    /// validation checks the names against the states (see `Plan.validate`).
    public var humanTouchpoints: [String]
    /// Known ways the work goes wrong.
    public var failureModes: [String]
    /// Who gets what the agent cannot handle.
    public var escalationTarget: String
    /// What the agent may do.
    public var may: [String]
    /// What the agent must never do.
    public var mayNot: [String]

    /// Creates an AOP.
    public init(
        domain: String, inputs: [String], outputs: [String], humanTouchpoints: [String], failureModes: [String],
        escalationTarget: String, may: [String], mayNot: [String]
    ) {
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.humanTouchpoints = humanTouchpoints
        self.failureModes = failureModes
        self.escalationTarget = escalationTarget
        self.may = may
        self.mayNot = mayNot
    }
}

/// How often and how patiently a step is retried after a transient error.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, including the first (1 = never retry).
    public var maxAttempts: Int
    /// Delay before the first retry, in milliseconds.
    public var initialBackoffMilliseconds: Int
    /// Upper bound of the delay, in milliseconds.
    public var maxBackoffMilliseconds: Int
    /// Factor applied to the delay after each retry.
    public var multiplier: Double

    /// Creates a policy.
    public init(maxAttempts: Int, initialBackoffMilliseconds: Int, maxBackoffMilliseconds: Int, multiplier: Double) {
        self.maxAttempts = maxAttempts
        self.initialBackoffMilliseconds = initialBackoffMilliseconds
        self.maxBackoffMilliseconds = maxBackoffMilliseconds
        self.multiplier = multiplier
    }

    /// Three attempts, 100 ms doubling up to 5 s.
    public static let standard = RetryPolicy(
        maxAttempts: 3, initialBackoffMilliseconds: 100, maxBackoffMilliseconds: 5_000, multiplier: 2)

    /// The delay before attempt `attempt` (2 = first retry), in milliseconds.
    public func backoffMilliseconds(beforeAttempt attempt: Int) -> Int {
        let retries = max(0, attempt - 2)
        let delay = Double(initialBackoffMilliseconds) * pow(multiplier, Double(retries))
        return Int(min(delay, Double(maxBackoffMilliseconds)))
    }

    private func pow(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) { result *= base }
        return result
    }
}

/// One state of a template.
public struct State: Sendable {
    /// Its name, unique in the template.
    public var name: String
    /// What it does.
    public var kind: Kind
    /// Where it is declared.
    public var location: SourceLocation
    /// For step, model and ffi states: how long one call may take before the attempt fails
    /// as transient (`timeout_ms`, else the template's; nil: no limit).
    public var timeoutMilliseconds: Int?
    /// For step, model and ffi states: the largest output one call may return, in bytes
    /// (`max_output_bytes`, else the template's; nil: only the engine's global limit). A larger
    /// output fails the attempt as `invalid_output` before the host reads it.
    public var maxOutputBytes: Int? = nil

    /// Creates a state.
    public init(name: String, kind: Kind, location: SourceLocation, timeoutMilliseconds: Int? = nil) {
        self.name = name
        self.kind = kind
        self.location = location
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// Whether the state calls something (step, model or ffi).
    public var isCallable: Bool {
        switch kind {
        case .step, .model, .ffi: return true
        default: return false
        }
    }

    /// Whether the state runs branches as child instances (map or parallel).
    public var fanOut: FanOutState? {
        switch kind {
        case .map(let fanOut), .parallel(let fanOut): return fanOut
        default: return nil
        }
    }

    /// The kinds of state.
    public enum Kind: Sendable {
        /// Call a plugin step.
        case step(StepState)
        /// Pick the next state by guards.
        case choice(ChoiceState)
        /// Wait for a credentialed human's decision.
        case checkpoint(CheckpointState)
        /// Finish the instance.
        case end(EndState)
        /// Call a plain exported C function through libffi.
        case ffi(ForeignState)
        /// Call the model adapter bound to a role.
        case model(ModelState)
        /// Wait for a duration or until an instant, on a durable timer.
        case wait(WaitState)
        /// Wait for a named event from outside (a customer's reply, a webhook), with an optional timeout.
        case event(EventState)
        /// Run a branch (a sub-sequence of states or a named template) for each item of a
        /// list, as child instances, and join their outputs in order.
        case map(FanOutState)
        /// Run a fixed set of branches side by side, as child instances, and join their outputs by name.
        case parallel(FanOutState)
    }

    /// The kind's name as written in templates.
    public var kindName: String {
        switch kind {
        case .step: return "step"
        case .choice: return "choice"
        case .checkpoint: return "checkpoint"
        case .end: return "end"
        case .ffi: return "ffi"
        case .model: return "model"
        case .wait: return "wait"
        case .event: return "event"
        case .map: return "map"
        case .parallel: return "parallel"
        }
    }

    /// Every state this one can lead to, with the location of the reference.
    public var exits: [(target: String, location: SourceLocation)] {
        switch kind {
        case .step(let step):
            return [step.next, step.onError].compactMap { $0 }.map { ($0.name, $0.location) }
        case .choice(let choice):
            return choice.branches.map { ($0.next.name, $0.next.location) }
                + [choice.otherwise].compactMap { $0 }.map { ($0.name, $0.location) }
        case .checkpoint(let checkpoint):
            return checkpoint.decisions.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($0.value.name, $0.value.location) }
        case .end:
            return []
        case .ffi(let foreign):
            return [foreign.next, foreign.onError].compactMap { $0 }.map { ($0.name, $0.location) }
        case .model(let model):
            return [model.next, model.onError].compactMap { $0 }.map { ($0.name, $0.location) }
        case .wait(let wait):
            return [(wait.next.name, wait.next.location)]
        case .event(let event):
            return [event.next, event.onTimeout].compactMap { $0 }.map { ($0.name, $0.location) }
        case .map(let fanOut), .parallel(let fanOut):
            return [fanOut.next, fanOut.onError].compactMap { $0 }.map { ($0.name, $0.location) }
        }
    }
}

/// A `wait` state: the instance waits (durably: the timer is stored with the commit that enters
/// the state, and its firing is an event) for a duration or until an instant from its data,
/// then goes to `next`.
public struct WaitState: Sendable {
    /// How long, in milliseconds (`for: 2h`); nil when `until` is set.
    public var duration: Int64?
    /// A data path holding the instant to wait until (ISO 8601 text such as `2027-01-31`,
    /// `2027-01-31T09:00:00Z` or with an offset, or milliseconds since 1970); nil when `for` is set.
    public var until: String?
    /// Whether `duration` counts only the customer's business hours (its calendar), not wall time.
    public var business: Bool
    /// Where the instance goes when the time has come.
    public var next: StateReference

    /// Creates a wait.
    public init(duration: Int64?, until: String?, business: Bool, next: StateReference) {
        self.duration = duration
        self.until = until
        self.business = business
        self.next = next
    }
}

/// An `event` state: the instance waits for the named event, delivered by the API or the CLI
/// (to the instance, or to every instance whose `correlate` value equals the sender's key);
/// its payload, checked against `payload` when given, is written at `output`.
public struct EventState: Sendable {
    /// The event's name (`customer_reply`).
    public var event: String
    /// The payload's fields (nil: any JSON object).
    public var payload: [PayloadField]?
    /// Where the payload goes in the instance data (default: the state's name).
    public var output: String
    /// A data path whose value (as text) a sender who does not know the instance id names as the key.
    public var correlate: String?
    /// The credential, besides operators, a sender needs (nil: operators only).
    public var credential: String?
    /// How long to wait before `onTimeout`, in milliseconds (nil: no timeout).
    public var timeout: Int64?
    /// Whether `timeout` counts the customer's business hours.
    public var business: Bool
    /// Where a timed-out wait goes.
    public var onTimeout: StateReference?
    /// Where the instance goes with the event.
    public var next: StateReference
    /// Whether the event, sent to the instance before it waits here, is kept until it does
    /// (`buffer: true`) rather than refused.
    public var buffer: Bool = false

    /// Creates an event state.
    public init(
        event: String, payload: [PayloadField]?, output: String, correlate: String?, credential: String?, timeout: Int64?, business: Bool,
        onTimeout: StateReference?, next: StateReference
    ) {
        self.event = event
        self.payload = payload
        self.output = output
        self.correlate = correlate
        self.credential = credential
        self.timeout = timeout
        self.business = business
        self.onTimeout = onTimeout
        self.next = next
    }

    /// The problems of `payload` against the field list, each naming the field
    /// (`payload.satisfied: expected a boolean, found a string`); empty when it fits.
    public func problems(of payload: JSONValue) -> [String] {
        guard case .object(let members) = payload else { return ["payload: expected a JSON object, found \(payload.typeName)"] }
        guard let fields = self.payload else { return [] }
        var problems: [String] = []
        for field in fields {
            guard let value = members[field.name], !value.isNull else {
                if !field.optional { problems.append("payload.\(field.name): required (\(field.type.rawValue)), missing") }
                continue
            }
            if !field.type.admits(value) { problems.append("payload.\(field.name): expected \(field.type.article), found \(value.typeName)") }
        }
        for name in members.keys.sorted() where !fields.contains(where: { $0.name == name }) {
            problems.append("payload.\(name): unknown field; expected \(fields.map(\.name).joined(separator: ", "))")
        }
        return problems
    }
}

extension Template {
    /// Its states and, recursively, the states of its inline branches (what loads libraries and
    /// prompts for the whole template).
    public var allStates: [State] {
        states.flatMap { state -> [State] in
            [state] + (state.fanOut?.branches ?? []).flatMap { branch in branch.states.flatMap { inner in [inner] + Template.nested(inner) } }
        }
    }

    private static func nested(_ state: State) -> [State] {
        (state.fanOut?.branches ?? []).flatMap { branch in branch.states.flatMap { [$0] + nested($0) } }
    }
}

/// A `map` or `parallel` state: the instance waits while its branches run as child instances
/// (each durable and resumable on its own, checkpoints included), at most `maxConcurrency` at
/// a time, and joins their outputs at `output` (a list in item order for `map`, an object by
/// branch name for `parallel`) before it goes to `next`.
public struct FanOutState: Sendable {
    /// What one branch runs.
    public enum Body: Sendable {
        /// A sub-sequence of states written in the state itself (`start`, `states`); its child
        /// instances run the sub-plan keyed by `key` in the parent's plan.
        case inline(key: String)
        /// The newest version of a loaded template, by name (a sub-template).
        case template(String, SourceLocation)
    }

    /// One branch: `map` has one (run for every item), `parallel` one per entry of `branches`.
    public struct Branch: Sendable {
        /// The branch's name (the state's name for `map`, the key under `branches` for `parallel`).
        public var name: String
        /// What it runs.
        public var body: Body
        /// For an inline body: its start state and states.
        public var start: String?
        public var startLocation: SourceLocation?
        public var states: [State]

        /// Creates a branch.
        public init(name: String, body: Body, start: String? = nil, startLocation: SourceLocation? = nil, states: [State] = []) {
            self.name = name
            self.body = body
            self.start = start
            self.startLocation = startLocation
            self.states = states
        }
    }

    /// What happens when a branch fails (ends `failed` or is cancelled).
    public enum FailurePolicy: String, Sendable, CaseIterable {
        /// The first failed branch cancels the others still running and fails the state (to
        /// `on_error` when it has one, else the instance fails).
        case failFast = "fail_fast"
        /// Every branch runs to its end; a failed branch leaves null at its place in the output
        /// and an entry under `errors.<state>`.
        case collect
    }

    /// For `map`: the data path of the list (`input.clauses`); nil for `parallel`.
    public var items: String?
    /// The branches (one for `map`).
    public var branches: [Branch]
    /// How a branch's input is built (evaluated with `item` and `index` in scope for `map`); nil:
    /// `{item, index}` for `map`, the instance's `input` for `parallel`.
    public var input: InputMapping?
    /// The most branches running at once.
    public var maxConcurrency: Int
    /// What a failed branch does.
    public var failure: FailurePolicy
    /// Where the joined outputs go in the instance data (default: the state's name).
    public var output: String
    /// Where the instance goes once every branch has ended (with `collect`, whatever they did).
    public var next: StateReference
    /// Where a failed state goes (`fail_fast`); nil: the instance fails.
    public var onError: StateReference?
    /// Where `items` is written, for diagnostics.
    public var location: SourceLocation

    /// Creates a fan-out.
    public init(
        items: String?, branches: [Branch], input: InputMapping?, maxConcurrency: Int, failure: FailurePolicy, output: String,
        next: StateReference, onError: StateReference?, location: SourceLocation
    ) {
        self.items = items
        self.branches = branches
        self.input = input
        self.maxConcurrency = maxConcurrency
        self.failure = failure
        self.output = output
        self.next = next
        self.onError = onError
        self.location = location
    }
}

/// One field of an event's payload contract (`text: string`, `satisfied: boolean?`).
public struct PayloadField: Sendable, Hashable {
    /// The JSON types a field may have.
    public enum FieldType: String, Sendable, Hashable, CaseIterable {
        case string, number, integer, boolean, object, array, any

        /// "a string", "an integer", ...
        public var article: String {
            switch self {
            case .integer, .object, .array: return "an \(rawValue)"
            case .any: return "any value"
            default: return "a \(rawValue)"
            }
        }

        /// Whether `value` has this type.
        public func admits(_ value: JSONValue) -> Bool {
            switch self {
            case .string: return value.stringValue != nil
            case .number: return value.doubleValue != nil
            case .integer: return value.integerValue != nil
            case .boolean: return value.boolValue != nil
            case .object: return value.objectValue != nil
            case .array: return value.arrayValue != nil
            case .any: return true
            }
        }
    }

    /// The field's name.
    public var name: String
    /// Its type.
    public var type: FieldType
    /// Whether it may be missing (written `type?`).
    public var optional: Bool

    /// Creates a field.
    public init(name: String, type: FieldType, optional: Bool) {
        self.name = name
        self.type = type
        self.optional = optional
    }
}

/// Instants in instance data, read without Foundation (the template module and the pure core
/// stay free of it).
public enum Instant {
    /// Milliseconds since 1970 of `value`: an integer (milliseconds), or text `YYYY-MM-DD`
    /// (midnight UTC), `YYYY-MM-DDTHH:MM[:SS[.fff]]` followed by `Z` or `±HH:MM`. Nil otherwise.
    public static func milliseconds(_ value: JSONValue) -> Int64? {
        if let integer = value.integerValue { return integer }
        guard let text = value.stringValue else { return nil }
        let characters = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= characters.count, !range.isEmpty else { return nil }
            var result = 0
            for index in range {
                let c = characters[index]
                guard c >= 48 && c <= 57 else { return nil }
                result = result * 10 + Int(c - 48)
            }
            return result
        }
        guard characters.count >= 10, let date = CivilDate(String(decoding: characters[0..<10], as: UTF8.self)) else { return nil }
        if characters.count == 10 { return date.milliseconds }
        guard characters.count >= 16, characters[10] == 84 || characters[10] == 116, characters[13] == 58,
            let hour = number(11..<13), let minute = number(14..<16), hour < 24, minute < 60
        else { return nil }
        var index = 16
        var milliseconds = Int64(hour * 3_600_000 + minute * 60_000)
        if index < characters.count, characters[index] == 58 {
            guard let second = number(index + 1..<index + 3), second < 60 else { return nil }
            milliseconds += Int64(second * 1_000)
            index += 3
            if index < characters.count, characters[index] == 46 {
                var end = index + 1
                while end < characters.count, characters[end] >= 48 && characters[end] <= 57 { end += 1 }
                guard end > index + 1, let fraction = number(index + 1..<min(end, index + 4)) else { return nil }
                let digits = min(end, index + 4) - (index + 1)
                milliseconds += Int64(fraction * [100, 10, 1][digits - 1])
                index = end
            }
        }
        guard index < characters.count else { return nil }
        var offset: Int64 = 0
        if characters[index] == 90 || characters[index] == 122 {
            index += 1
        } else if characters[index] == 43 || characters[index] == 45, let hours = number(index + 1..<index + 3),
            index + 3 < characters.count, characters[index + 3] == 58, let minutes = number(index + 4..<index + 6), hours < 24, minutes < 60
        {
            offset = Int64(hours * 3_600_000 + minutes * 60_000) * (characters[index] == 43 ? 1 : -1)
            index += 6
        } else {
            return nil
        }
        guard index == characters.count else { return nil }
        return date.milliseconds + milliseconds - offset
    }
}

/// A reference to a state by name, with where it was written.
public struct StateReference: Sendable, Hashable {
    /// The target's name.
    public var name: String
    /// Where the reference is.
    public var location: SourceLocation

    /// Creates a reference.
    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }
}

/// How a step's input is built from the instance data.
public enum InputMapping: Sendable {
    /// The whole instance data object.
    case wholeData
    /// One expression's value.
    case expression(Expression)
    /// An object whose members are expressions or literals.
    case object([String: ValueSource])
}

/// Where one member of a mapped input comes from.
public enum ValueSource: Sendable {
    /// A fixed value (a quoted YAML string or a nested structure).
    case literal(JSONValue)
    /// An expression over the instance data.
    case expression(Expression)
}

/// A `step` state: call `plugin.step` and store its output.
public struct StepState: Sendable {
    /// Full step name, `plugin.step`.
    public var step: String
    /// Where the step name is written.
    public var stepLocation: SourceLocation
    /// How the input is built.
    public var input: InputMapping
    /// The data member the output is stored under.
    public var output: String
    /// Step configuration passed to the plugin.
    public var config: JSONValue
    /// Where to go on success.
    public var next: StateReference?
    /// Where to go on a permanent failure (absent: the instance fails).
    public var onError: StateReference?
    /// Retry policy for transient errors.
    public var retry: RetryPolicy
}

/// An `ffi` state: call an exported C function of a shared library with arguments taken from
/// the instance data, and store its return value.
public struct ForeignState: Sendable {
    /// The library: a name (`churn` -> `libchurn.so` on the library path) or a path.
    public var library: String
    /// The C signature; its name is the symbol.
    public var signature: ForeignSignature
    /// One expression per argument.
    public var arguments: [Expression]
    /// The data member the return value is stored under.
    public var output: String
    /// Where to go on success.
    public var next: StateReference?
    /// Where to go on failure (absent: the instance fails).
    public var onError: StateReference?
    /// Where the library and signature are written.
    public var location: SourceLocation
    /// Where `args` is written (the state itself when it has none).
    public var argumentsLocation: SourceLocation? = nil

    /// The step name the executor dispatches on: `ffi:<library>:<signature>`.
    public var stepName: String { "ffi:\(library):\(signature)" }
}

/// The task kinds of the adapter ABI.
public enum ModelTask: String, Sendable, Hashable, CaseIterable {
    /// Pick a label.
    case classify
    /// Pull fields out of text.
    case extract
    /// Write text.
    case generate
    /// A number.
    case score
}

/// A `model` state: call the adapter bound to `role` (the binding the instance was pinned to
/// when it started), with an optional versioned prompt rendered from the input.
public struct ModelState: Sendable {
    /// The role, e.g. `classifier`.
    public var role: String
    /// What the adapter is asked to do.
    public var task: ModelTask
    /// A prompt id (`customer-support/draft-reply@1`), rendered with the input.
    public var prompt: String?
    /// How the input is built.
    public var input: InputMapping
    /// Call parameters (temperature, top_k, labels, base_url, ...), as written: defaults over
    /// which `config.model_parameters.<role>` is merged, so a customer overlay can change a
    /// role's parameters (an endpoint, a model name) through config like any other setting.
    public var parameters: JSONValue
    /// The data member the output (with `confidence` and `adapter`) is stored under.
    public var output: String
    /// Where to go on success.
    public var next: StateReference?
    /// Where to go on a permanent failure.
    public var onError: StateReference?
    /// Retry policy for transient errors (rate limits, timeouts).
    public var retry: RetryPolicy
    /// Where the role is written.
    public var roleLocation: SourceLocation
    /// Where the prompt is written.
    public var promptLocation: SourceLocation?
}

/// A `choice` state: the first branch whose guard holds wins.
public struct ChoiceState: Sendable {
    /// A guarded branch.
    public struct Branch: Sendable {
        /// The guard.
        public var when: Expression
        /// Where the guard is written, for diagnostics about what it reads.
        public var whenLocation: SourceLocation
        /// Where it leads.
        public var next: StateReference
    }
    /// Branches, tried in order.
    public var branches: [Branch]
    /// Where to go when no guard holds (absent: the instance fails with "no branch matched").
    public var otherwise: StateReference?
}

/// The decisions a reviewer can take at a checkpoint.
public enum Decision: String, Sendable, Hashable, CaseIterable, Codable {
    /// Accept the output as it is.
    case approve
    /// Replace the output with the reviewer's version.
    case edit
    /// Refuse the output, with a reason.
    case reject
}

/// A `checkpoint` state: stop until a credentialed human decides.
public struct CheckpointState: Sendable {
    /// The credential a reviewer needs, e.g. `support-agent`.
    public var credential: String
    /// Open the checkpoint only when this holds; otherwise it passes as approved.
    public var when: Expression?
    /// Where `when` is written, for diagnostics about what it reads.
    public var whenLocation: SourceLocation?
    /// The data member under review (edits replace it).
    public var subject: String
    /// Where each decision leads.
    public var decisions: [Decision: StateReference]
    /// Which SLA deadline the review task carries.
    public var deadline: DeadlineKind
    /// Which of the instances that pass without a person are picked for a later audit (nil:
    /// none). Only a checkpoint with a `when` passes without a person.
    public var sample: SampleRule? = nil
    /// A data path whose string, when the checkpoint opens, is the credential a reviewer needs
    /// instead of `credential` (which stays the fallback when the path holds no string): one
    /// template serves reviews that need different credentials, like a migration's approver.
    public var credentialFrom: String? = nil

    /// The credential a reviewer needs for an instance with `data` waiting here.
    public func credential(in data: JSONValue) -> String {
        guard let path = credentialFrom, let named = data.value(at: path.split(separator: "."))?.stringValue, !named.isEmpty else {
            return credential
        }
        return named
    }

    /// The SLA clock a checkpoint's task runs against.
    public enum DeadlineKind: String, Sendable, CaseIterable {
        /// The first-response deadline.
        case firstResponse = "first_response"
        /// The resolution deadline.
        case resolution
        /// No deadline.
        case none
    }
}

/// An `end` state.
public struct EndState: Sendable {
    /// How the instance ends.
    public enum Outcome: String, Sendable, CaseIterable {
        /// Finished as intended.
        case completed
        /// Finished by a reviewer's rejection.
        case rejected
        /// Finished in failure.
        case failed
    }
    /// The outcome.
    public var outcome: Outcome
    /// The instance's final output, built like a step input (absent: the whole data).
    public var output: InputMapping?
}
