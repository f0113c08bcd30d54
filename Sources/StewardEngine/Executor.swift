import StewardCore
import StewardJSON
import StewardTemplates

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Performs step calls for the executor. `PooledStepInvoker` runs blocking plugin calls on a
/// `BlockingCallPool`; tests supply fakes.
///
/// Contract: returns the call's output or throws how it failed; honours
/// `invocation.timeoutMilliseconds` (a call that takes longer fails as `transient`); never
/// blocks the calling thread for the duration of a plugin call.
public protocol StepInvoker: Sendable {
    /// Calls the step and returns its output, or throws how it failed.
    func invoke(_ invocation: StepInvocation) async throws(StepFailure) -> JSONValue
    /// The SHA-256 of the binary that serves `callee` (the plugin library, or the C library of an
    /// `ffi` state), recorded with the step's event in the journal; nil when unknown (scripted steps).
    func binary(of callee: Callee) -> String?
}

extension StepInvoker {
    /// Unknown by default.
    public func binary(of callee: Callee) -> String? { nil }
}

/// A step invoker over a blocking call (the plugin host's C ABI calls, libffi calls), run on a
/// dedicated `BlockingCallPool` so that a slow or hung plugin never holds a cooperative thread.
public struct PooledStepInvoker: StepInvoker {
    /// The threads the calls run on.
    public let pool: BlockingCallPool
    /// The blocking call; it runs on a pool thread, never on the caller's, with the call's
    /// deadline and cancel flag.
    public let call: @Sendable (StepInvocation, CallControl) throws(StepFailure) -> JSONValue
    /// Which binary serves a callee (nil: none known).
    public let binaries: @Sendable (Callee) -> String?
    /// Whether a callee only computes and returns within a millisecond (`STW_STEP_NONBLOCKING`
    /// and thread-safe, in this process): such a call with no timeout runs on the asking
    /// thread (`BlockingCallPool.runHere`), not on a pool thread.
    public let runsInline: @Sendable (Callee) -> Bool

    /// Creates an invoker running `call` on `pool` (or, for callees `runsInline` names, on
    /// the caller's thread).
    public init(
        pool: BlockingCallPool, call: @escaping @Sendable (StepInvocation, CallControl) throws(StepFailure) -> JSONValue,
        binaries: @escaping @Sendable (Callee) -> String? = { _ in nil }, runsInline: @escaping @Sendable (Callee) -> Bool = { _ in false }
    ) {
        self.pool = pool
        self.call = call
        self.binaries = binaries
        self.runsInline = runsInline
    }

    /// Creates an invoker running `call`, which needs no deadline or cancel flag, on `pool`.
    public init(
        pool: BlockingCallPool, call: @escaping @Sendable (StepInvocation) throws(StepFailure) -> JSONValue,
        binaries: @escaping @Sendable (Callee) -> String? = { _ in nil }
    ) {
        self.init(pool: pool, call: { invocation, _ throws(StepFailure) in try call(invocation) }, binaries: binaries)
    }

    /// The binary `binaries` names.
    public func binary(of callee: Callee) -> String? { binaries(callee) }

    /// Runs the call on the pool; a call past its timeout fails as `transient` at once (the
    /// plugin's thread finishes on its own and its answer is dropped).
    public func invoke(_ invocation: StepInvocation) async throws(StepFailure) -> JSONValue {
        let call = self.call
        do {
            if invocation.timeoutMilliseconds == nil, runsInline(invocation.callee) {
                return try pool.runHere { (control: CallControl) throws -> JSONValue in try call(invocation, control) }
            }
            return try await pool.run(timeoutMilliseconds: invocation.timeoutMilliseconds) { (control: CallControl) throws -> JSONValue in
                try call(invocation, control)
            }
        } catch let failure as StepFailure {
            throw failure
        } catch let error as BlockingCallError {
            switch error {
            case .timedOut: throw StepFailure(.transient, "\(invocation.step) timed out: \(error)")
            case .shutDown: throw StepFailure(.transient, "\(invocation.step) was not called: \(error)")
            }
        } catch {
            throw StepFailure(.internal, "\(invocation.step): \(error)")
        }
    }
}

/// Waits between retries. Injected so tests never sleep.
public protocol Sleeper: Sendable {
    /// Suspends for `milliseconds`.
    func sleep(milliseconds: Int) async throws
}

/// Sleeps on the continuous clock.
public struct ClockSleeper: Sleeper {
    /// Creates the sleeper.
    public init() {}
    /// Sleeps for real.
    public func sleep(milliseconds: Int) async throws {
        try await ContinuousClock().sleep(for: .milliseconds(milliseconds))
    }
}

/// One applied event, as the executor reports it.
public struct TransitionRecord: Sendable {
    /// The event applied.
    public var event: Event
    /// The state after it.
    public var state: InstanceState
    /// The moves it caused.
    public var moves: [Move]
    /// The effects it asked for.
    public var effects: [Effect]
}

/// Runs an instance in memory: applies events, performs effects, feeds results back as
/// events, until the instance finishes or waits at a checkpoint. Durable execution wraps
/// the same loop with a store.
public struct Executor: Sendable {
    /// The plan it runs.
    public let plan: Plan
    /// The effective config (template config with a customer overlay applied).
    public let config: JSONValue
    /// Who performs step calls.
    public let invoker: any StepInvoker
    /// Who waits between retries.
    public let sleeper: any Sleeper
    /// Where step timings go (nil: nowhere).
    public let metrics: EngineMetrics?

    /// Creates an executor.
    public init(
        plan: Plan, config: JSONValue? = nil, invoker: any StepInvoker, sleeper: any Sleeper = ClockSleeper(),
        metrics: EngineMetrics? = nil
    ) {
        self.plan = plan
        self.config = config ?? plan.template.config
        self.invoker = invoker
        self.sleeper = sleeper
        self.metrics = metrics
    }

    /// Starts a new instance with `input` and runs it as far as it goes.
    public func start(
        id: String, input: JSONValue, customer: String? = nil, observe: (TransitionRecord) -> Void = { _ in }
    ) async throws -> InstanceState {
        let initial = InstanceState(id: id, template: plan.name, templateVersion: plan.version, customer: customer)
        return try await drive(initial, event: .started(input: input), observe: observe)
    }

    /// Applies `event` (e.g. a checkpoint decision) and runs on as far as the instance goes.
    public func drive(
        _ state: InstanceState, event: Event, observe: (TransitionRecord) -> Void = { _ in }
    ) async throws -> InstanceState {
        var pending: [Event] = [event]
        var current = state
        while let next = pending.popLast() {
            let result = try Transition.apply(next, to: current, plan: plan, config: config)
            current = result.state
            observe(TransitionRecord(event: next, state: current, moves: result.moves, effects: result.effects))
            for effect in result.effects {
                if case .runStep(let invocation) = effect {
                    pending.append(try await perform(invocation))
                }
            }
        }
        return current
    }

    /// Calls one step and turns the outcome into an event.
    public func perform(_ invocation: StepInvocation) async throws -> Event {
        if invocation.delayMilliseconds > 0 {
            try await sleeper.sleep(milliseconds: invocation.delayMilliseconds)
        }
        // Timed around the call only: the retry backoff above is not the step's latency.
        let started = metrics == nil ? 0 : MonotonicClock.nanoseconds()
        defer { if let metrics { metrics.stepCall(invocation.step, nanoseconds: MonotonicClock.nanoseconds() - started) } }
        do {
            let output = try await invoker.invoke(invocation)
            return .stepSucceeded(state: invocation.state, attempt: invocation.attempt, output: output)
        } catch {
            return .stepFailed(state: invocation.state, attempt: invocation.attempt, kind: error.kind, message: error.message)
        }
    }
}

/// A monotonic clock for step timings (the engine's `EngineClock` is wall time in milliseconds).
public enum MonotonicClock {
    /// CLOCK_MONOTONIC, in nanoseconds.
    public static func nanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
