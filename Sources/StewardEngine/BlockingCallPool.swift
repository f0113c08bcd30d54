import Foundation
import Synchronization

/// Why a call submitted to a `BlockingCallPool` did not produce its result.
public enum BlockingCallError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The deadline passed before the call returned (`started`: it is still running on its
    /// thread and its result will be dropped) or before a thread was free to start it (it
    /// never ran).
    case timedOut(milliseconds: Int, started: Bool)
    /// The pool was shut down before the call started.
    case shutDown

    /// A readable explanation.
    public var description: String {
        switch self {
        case .timedOut(let milliseconds, true): return "did not return within \(milliseconds) ms (its result will be discarded)"
        case .timedOut(let milliseconds, false): return "could not start within \(milliseconds) ms: every plugin thread was busy"
        case .shutDown: return "the plugin call pool is shut down"
        }
    }
}

/// What a call running on a pool thread may consult about itself: when the pool stops
/// waiting for it, and a flag the pool raises when it gives up on the call (its deadline
/// passed, or the pool shut down). The engine hands both to plugins (ABI 1.2 `deadline_ns`,
/// `cancel_flag`) so a long call can stop early.
// @unchecked Sendable: `cancelFlag` points at the running thread's own flag, which lives as
// long as the thread; it is read with atomic loads and written only by the pool.
public struct CallControl: @unchecked Sendable {
    /// CLOCK_MONOTONIC nanoseconds after which the pool no longer waits; 0 when the call has
    /// no deadline.
    public let deadlineNanoseconds: UInt64
    /// Non-zero once the pool has given up on the call. Valid while the call runs.
    public let cancelFlag: UnsafePointer<UInt32>?

    /// Creates a control.
    public init(deadlineNanoseconds: UInt64, cancelFlag: UnsafePointer<UInt32>?) {
        self.deadlineNanoseconds = deadlineNanoseconds
        self.cancelFlag = cancelFlag
    }
}

/// A bounded pool of dedicated OS threads for blocking work (plugin calls through the C ABI,
/// libffi calls), so that work of unknown duration never occupies Swift's cooperative pool,
/// which the store, the server and every other instance need. It is to the engine what
/// `NIOThreadPool` is to event loops.
///
/// `run` suspends the calling task until a pool thread has run the closure or the deadline
/// has passed, whichever comes first. A blocking C call cannot be interrupted: when the
/// deadline passes first the caller resumes at once with `BlockingCallError.timedOut`, the
/// thread stays busy until the call returns, and its result is dropped. So that a plugin that
/// hangs does not shrink the pool for good, each abandoned thread is replaced, up to
/// `maximumThreads` threads in all; past that, calls wait in the queue (and time out there).
/// A call that times out in the queue never runs.
///
/// Thread rules: every method may be called from any thread or task.
public final class BlockingCallPool: Sendable {
    /// The number of threads kept for calls (the pool's width).
    public let size: Int
    /// The most threads that may exist at once, counting those stuck in abandoned calls.
    public let maximumThreads: Int

    private let shared = Shared()
    /// Deadlines run on a thread of their own, so a timeout fires on time even when Swift's
    /// cooperative threads are all busy.
    private let timers = DeadlineThread()

    /// Creates a pool of `size` threads (at least 1), started lazily as calls arrive.
    /// - Parameter maximumThreads: the cap on threads, counting those stuck in calls that
    ///   timed out (default: twice `size`; never less than `size`).
    public init(size: Int, maximumThreads: Int? = nil) {
        self.size = max(1, size)
        self.maximumThreads = max(self.size, maximumThreads ?? self.size * 2)
        timers.onExpiry = { [weak self] id, milliseconds in self?.expire(id, after: milliseconds) }
    }

    /// Runs `body` on a pool thread and returns what it returns.
    ///
    /// - Parameter timeoutMilliseconds: how long the caller waits, counted from this call
    ///   (time in the queue included); nil waits as long as the call takes.
    /// - Throws: `BlockingCallError.timedOut` when the deadline passes first, `.shutDown`
    ///   after `shutdown()`, or whatever `body` throws.
    public func run<T: Sendable>(timeoutMilliseconds: Int? = nil, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await run(timeoutMilliseconds: timeoutMilliseconds) { (_: CallControl) throws -> T in try body() }
    }

    /// `run`, with the call's `CallControl` (its deadline, and the flag the pool raises when
    /// it gives up on the call) passed to `body` on the pool thread.
    public func run<T: Sendable>(
        timeoutMilliseconds: Int? = nil, _ body: @escaping @Sendable (CallControl) throws -> T
    ) async throws -> T {
        let deadline = timeoutMilliseconds.map { UInt64(MonotonicClock.nanoseconds()) + UInt64(max(0, $0)) * 1_000_000 } ?? 0
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job(
                work: { control in
                    let result = Result { try body(control) }
                    return { continuation.resume(with: result) }
                },
                fail: { continuation.resume(throwing: $0) })
            guard let id = submit(job, deadline: deadline) else {
                continuation.resume(throwing: BlockingCallError.shutDown)
                return
            }
            guard let timeoutMilliseconds else { return }
            timers.schedule(id, due: deadline, milliseconds: timeoutMilliseconds)
        }
    }

    /// Runs `body` on the calling thread, counted as a running call: `drain` waits for it and,
    /// after `shutdown()`, it is refused like any other. For calls that only compute and
    /// return within a millisecond (`STW_STEP_NONBLOCKING`): the hand-over to a pool thread and
    /// back would cost two thread wake-ups, more than the call. It has no deadline and no
    /// cancel flag (`CallControl` with neither).
    /// - Throws: `.shutDown` after `shutdown()`, or whatever `body` throws.
    public func runHere<T>(_ body: (CallControl) throws -> T) throws -> T {
        try shared.withLock { state throws(BlockingCallError) in
            guard !state.shutDown else { throw .shutDown }
            state.inline += 1
        }
        defer {
            shared.withLock { state in
                state.inline -= 1
                if state.shutDown { shared.condition.broadcast() }
            }
        }
        return try body(CallControl(deadlineNanoseconds: 0, cancelFlag: nil))
    }

    /// Stops the pool: queued calls fail with `.shutDown`, running calls finish, idle threads
    /// exit, and later calls fail with `.shutDown`.
    public func shutdown() {
        let dropped = shared.withLock { state -> [Call] in
            state.shutDown = true
            // Calls still running learn that the engine is stopping.
            for call in state.calls.values where call.phase != .queued { call.flag?.raise() }
            let queued = state.calls.values.filter { $0.phase == .queued }
            for call in queued { state.calls[call.id] = nil }
            state.queue = []
            state.head = 0
            return queued
        }
        shared.condition.broadcast()
        for call in dropped where call.timed {
            timers.cancel(call.id, due: call.deadline)
        }
        for call in dropped {
            call.job.fail(.shutDown)
        }
    }

    /// Threads that exist now, including those stuck in abandoned calls.
    public var threadCount: Int { shared.withLock { $0.threads } }

    /// Calls waiting for a thread.
    public var queuedCount: Int { shared.withLock { state in state.calls.values.filter { $0.phase == .queued }.count } }

    // MARK: Internals

    private struct Job: Sendable {
        /// Runs the call (with its control) and returns how to deliver its result to the caller.
        let work: @Sendable (CallControl) -> @Sendable () -> Void
        /// Resumes the caller with an error instead.
        let fail: @Sendable (BlockingCallError) -> Void
    }

    private enum Phase: Sendable { case queued, running, abandoned }

    private struct Call {
        let id: UInt64
        let job: Job
        var phase: Phase
        /// CLOCK_MONOTONIC nanoseconds when the caller stops waiting (0: no deadline).
        let deadline: UInt64
        /// Whether a deadline was scheduled for it (only those are cancelled on completion).
        var timed: Bool { deadline != 0 }
        /// The flag of the thread running the call (nil while queued).
        var flag: ThreadFlag?
    }

    private struct State {
        /// Ids in arrival order; `head` is the next to look at. Ids whose call has gone (timed
        /// out in the queue) are skipped.
        var queue: [UInt64] = []
        var head = 0
        var calls: [UInt64: Call] = [:]
        var nextID: UInt64 = 0
        var threads = 0
        var idle = 0
        var abandoned = 0
        /// Calls running on their callers' threads (`runHere`).
        var inline = 0
        var shutDown = false

        /// The next queued call, marked running.
        mutating func next() -> Call? {
            while head < queue.count {
                let id = queue[head]
                head += 1
                if head >= 1024, head * 2 >= queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                guard let call = calls[id], call.phase == .queued else { continue }
                calls[id]?.phase = .running
                return call
            }
            return nil
        }
    }

    // @unchecked Sendable: `state` is only read or written with `condition` locked.
    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        var state = State()

        func withLock<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
            condition.lock()
            defer { condition.unlock() }
            return try body(&state)
        }
    }

    /// Waits up to `seconds` for the calls running after `shutdown` to return.
    /// - Returns: true when none is running any more (so plugin state may be released).
    public func drain(waitingUpTo seconds: Double) -> Bool {
        let until = Date(timeIntervalSinceNow: seconds)
        let condition = shared.condition
        condition.lock()
        defer { condition.unlock() }
        while !shared.state.calls.isEmpty || shared.state.inline > 0 {
            if !condition.wait(until: until) { return shared.state.calls.isEmpty && shared.state.inline == 0 }
        }
        return true
    }

    private func submit(_ job: Job, deadline: UInt64) -> UInt64? {
        let (id, startThread) = shared.withLock { state -> (UInt64?, Bool) in
            guard !state.shutDown else { return (nil, false) }
            state.nextID += 1
            let id = state.nextID
            state.queue.append(id)
            state.calls[id] = Call(id: id, job: job, phase: .queued, deadline: deadline)
            guard state.idle == 0, state.threads - state.abandoned < size, state.threads < maximumThreads else { return (id, false) }
            state.threads += 1
            return (id, true)
        }
        if startThread { spawn() } else { shared.condition.signal() }
        return id
    }

    /// The caller's deadline passed: fail it, dropping the call if it is still queued, or
    /// abandoning its thread (and starting a replacement under the cap) if it is running.
    private func expire(_ id: UInt64, after milliseconds: Int) {
        let (expired, replace) = shared.withLock { state -> (Call?, Bool) in
            guard let call = state.calls[id] else { return (nil, false) }
            switch call.phase {
            case .queued:
                state.calls[id] = nil
                return (call, false)
            case .running:
                call.flag?.raise()
                state.calls[id]?.phase = .abandoned
                state.abandoned += 1
                guard state.threads < maximumThreads, state.threads - state.abandoned < size else { return (call, false) }
                state.threads += 1
                return (call, true)
            case .abandoned:
                return (nil, false)
            }
        }
        if replace { spawn() }
        guard let expired else { return }
        expired.job.fail(.timedOut(milliseconds: milliseconds, started: expired.phase == .running))
    }

    private func spawn() {
        let thread = Thread { [self] in work() }
        thread.name = "steward-plugin-call"
        thread.start()
    }

    private func work() {
        let flag = ThreadFlag()
        let condition = shared.condition
        condition.lock()
        while true {
            if let call = shared.state.next() {
                flag.lower()
                shared.state.calls[call.id]?.flag = flag
                condition.unlock()
                let deliver = call.job.work(CallControl(deadlineNanoseconds: call.deadline, cancelFlag: flag.pointer))
                condition.lock()
                let finished = shared.state.calls.removeValue(forKey: call.id)
                let abandoned = finished?.phase == .abandoned
                if abandoned { shared.state.abandoned -= 1 }
                // `drain` waits for the last running call after a shutdown.
                if shared.state.shutDown { condition.broadcast() }
                condition.unlock()
                if call.timed { timers.cancel(call.id, due: call.deadline) }
                if !abandoned { deliver() }
                condition.lock()
                continue
            }
            // Exit when shut down, or when replacements made the pool wider than it should be.
            if shared.state.shutDown || shared.state.threads - shared.state.abandoned > size {
                shared.state.threads -= 1
                condition.unlock()
                return
            }
            shared.state.idle += 1
            condition.wait()
            shared.state.idle -= 1
        }
    }
}

/// A pool thread's cancel flag: one 32-bit atomic word at a fixed address, so plugins can
/// read it through a plain C pointer (`cancel_flag`). Lowered before each call the thread
/// runs, raised when the pool gives up on that call.
// @unchecked Sendable: the word is only read and written through Atomic's operations; the
// pointer itself never changes and the memory lives as long as the object.
private final class ThreadFlag: @unchecked Sendable {
    private let word: UnsafeMutablePointer<Atomic<UInt32>>

    init() {
        word = .allocate(capacity: 1)
        word.initialize(to: Atomic(0))
    }

    deinit {
        word.deinitialize(count: 1)
        word.deallocate()
    }

    /// The word's address, as the ABI passes it (`const uint32_t *`).
    var pointer: UnsafePointer<UInt32> { UnsafeRawPointer(word).assumingMemoryBound(to: UInt32.self) }

    func raise() { word.pointee.store(1, ordering: .relaxed) }
    func lower() { word.pointee.store(0, ordering: .relaxed) }
}

/// One thread that fires deadlines in order: waits on a condition until the earliest one is due
/// (or a sooner one is added), then calls `onExpiry` for each due id. Cancelled ids never fire.
private final class DeadlineThread: @unchecked Sendable {
    // @unchecked Sendable: `deadlines`, `started` and `onExpiry` are only touched with
    // `condition` locked (`onExpiry` is set once, before the first deadline).
    private let condition = NSCondition()
    private var deadlines: [(at: UInt64, id: UInt64, milliseconds: Int)] = []
    private var started = false
    var onExpiry: (@Sendable (UInt64, Int) -> Void)?

    /// Calls with one timeout arrive in due order, so a new deadline almost always goes last and
    /// the thread, already waiting for an earlier one, is woken only when the new one comes first.
    /// - Parameters: `due` is the CLOCK_MONOTONIC nanosecond the call's deadline passes;
    ///   `milliseconds` the timeout it came from (for the error).
    func schedule(_ id: UInt64, due: UInt64, milliseconds: Int) {
        condition.lock()
        let index = firstIndex(after: due)
        deadlines.insert((due, id, milliseconds), at: index)
        if !started {
            started = true
            let thread = Thread { [self] in run() }
            thread.name = "steward-plugin-deadlines"
            thread.start()
        }
        if index == 0 { condition.signal() }
        condition.unlock()
    }

    /// Removes `id`'s deadline (found by its due time, then among equal ones by id).
    func cancel(_ id: UInt64, due: UInt64) {
        condition.lock()
        var index = firstIndex(atOrAfter: due)
        while index < deadlines.count, deadlines[index].at == due, deadlines[index].id != id { index += 1 }
        if index < deadlines.count, deadlines[index].id == id {
            deadlines.remove(at: index)
        } else if let found = deadlines.firstIndex(where: { $0.id == id }) {
            deadlines.remove(at: found)
        }
        condition.unlock()
    }

    /// The first index whose deadline is after `due` (binary search; `deadlines` is sorted).
    private func firstIndex(after due: UInt64) -> Int {
        var low = 0, high = deadlines.count
        while low < high {
            let middle = (low + high) / 2
            if deadlines[middle].at <= due { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The first index whose deadline is at or after `due`.
    private func firstIndex(atOrAfter due: UInt64) -> Int {
        var low = 0, high = deadlines.count
        while low < high {
            let middle = (low + high) / 2
            if deadlines[middle].at < due { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private func run() {
        condition.lock()
        while true {
            guard let first = deadlines.first else {
                condition.wait()
                continue
            }
            let now = UInt64(MonotonicClock.nanoseconds())
            if first.at > now {
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(first.at - now) / 1e9))
                continue
            }
            deadlines.removeFirst()
            let expire = onExpiry
            condition.unlock()
            expire?(first.id, first.milliseconds)
            condition.lock()
        }
    }
}
