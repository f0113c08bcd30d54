import StewardCore
import StewardEngine
import StewardJSON
import Synchronization

/// A `StepInvoker` that answers from a script instead of calling plugins, and records every
/// call it receives, so runtime tests can drive an executor deterministically.
///
/// Answers are kept per full step name (`plugin.step`) and consumed in order; the last answer
/// of a step is kept and repeats for every later call. A step with no script fails with
/// `unknown_step`, as the real registry does for a step no plugin provides.
///
/// ```swift
/// let invoker = ScriptedStepInvoker([
///     "demo.fetch": [.transient("timeout"), .output(["text": "hello"])],
/// ])
/// ```
public final class ScriptedStepInvoker: StepInvoker {
    /// One scripted answer.
    public enum Answer: Sendable, Hashable {
        /// The step succeeds with this output.
        case output(JSONValue)
        /// The step fails with this kind and message.
        case failure(FailureKind, String)

        /// A transient failure (the runtime retries it).
        public static func transient(_ message: String = "temporarily unavailable") -> Answer {
            .failure(.transient, message)
        }

        /// A permanent failure.
        public static func permanent(_ message: String = "failed for good") -> Answer {
            .failure(.permanent, message)
        }
    }

    private struct State {
        var script: [String: [Answer]]
        var invocations: [StepInvocation] = []
    }

    private let state: Mutex<State>

    /// Creates an invoker answering each step with its list of answers, in order.
    public init(_ script: [String: [Answer]] = [:]) {
        self.state = Mutex(State(script: script))
    }

    /// Adds answers to the end of a step's script.
    public func append(_ answers: [Answer], for step: String) {
        state.withLock { $0.script[step, default: []].append(contentsOf: answers) }
    }

    /// Answers the call from the script and records it.
    public func invoke(_ invocation: StepInvocation) async throws(StepFailure) -> JSONValue {
        let answer = state.withLock { state -> Answer? in
            state.invocations.append(invocation)
            guard var answers = state.script[invocation.step], let first = answers.first else { return nil }
            if answers.count > 1 {
                answers.removeFirst()
                state.script[invocation.step] = answers
            }
            return first
        }
        switch answer {
        case .output(let value)?:
            return value
        case .failure(let kind, let message)?:
            throw StepFailure(kind, message)
        case nil:
            throw StepFailure(.unknownStep, "no scripted answer for this step")
        }
    }

    /// Every call received, in order.
    public var invocations: [StepInvocation] {
        state.withLock { $0.invocations }
    }

    /// The calls of one step (full name), in order.
    public func invocations(of step: String) -> [StepInvocation] {
        invocations.filter { $0.step == step }
    }

    /// The idempotency keys of every call, in order.
    public var idempotencyKeys: [String] {
        invocations.map(\.idempotencyKey)
    }

    /// The call keys of every call, in order (one per logical call, the same across retries).
    public var callKeys: [String] {
        invocations.map(\.callKey)
    }
}

/// A `Sleeper` that records each requested delay and returns at once, so retry tests run
/// in no time and can assert the backoff schedule.
public final class RecordingSleeper: Sleeper {
    private let recorded = Mutex<[Int]>([])

    /// Creates a sleeper with no delays recorded.
    public init() {}

    /// Records the delay without sleeping.
    public func sleep(milliseconds: Int) async throws {
        recorded.withLock { $0.append(milliseconds) }
    }

    /// The delays requested, in milliseconds, in order.
    public var delays: [Int] {
        recorded.withLock { $0 }
    }
}
