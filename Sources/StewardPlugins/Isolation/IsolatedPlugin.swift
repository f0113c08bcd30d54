import Foundation
import Logging
import StewardJSON

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plugin that runs in host processes of its own (`isolation: process`): the engine side.
///
/// Each host is a `steward-plugin-host` process holding a number of channels (socket pairs),
/// one call in flight per channel. A call takes a free channel, writes its request, and reads
/// the reply on the calling thread, bounded by the call's deadline (ABI 1.2 `deadline_ns`).
/// What can go wrong with a host becomes a `StepCallError` of the calls in flight on it, never
/// a fault of the engine:
/// - the host dies (a signal, an exit): every call in flight on it fails, classified as the
///   settings say (`crashKind`), naming the plugin, the pid, the signal and the call;
/// - a call runs past its deadline: the call fails as `transient` and the host is retired:
///   new calls go to a fresh host, and the old one is killed (a hung call cannot be stopped
///   otherwise) once the other calls on it are back;
/// - the host's watchdog stops a call past its CPU-time limit, or the host writes a malformed
///   frame: as a crash.
/// A failed host is restarted on the next call, after a backoff that doubles with consecutive
/// failures (100 ms to 5 s). `quarantineAfter` failures (timeouts aside) within the window
/// quarantine the plugin: its calls then fail at once as `permanent` ("quarantined") until an
/// operator clears it (`clearQuarantine`, or `steward plugins unquarantine` through the state
/// directory, which is checked once a second while quarantined).
///
/// Thread rules: calls may come from any number of threads at once; they block their thread
/// for the length of the call (the engine makes them on its `BlockingCallPool`).
// @unchecked Sendable: every mutable field lives in `state`, read and written only with
// `lock` held (a pthread mutex, paired with the condition `changed` that waiting callers use;
// Synchronization's Mutex has no condition variable).
public final class IsolatedPlugin: @unchecked Sendable {
    /// The library.
    public let path: String
    /// How it runs.
    public let settings: IsolationSettings
    /// The first host's report of the plugin.
    public let hello: HostHello
    /// The library's identity.
    public let binary: BinaryIdentity
    let environment: IsolationEnvironment
    let channelsPerHost: Int

    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var state: State

    /// One running host process.
    final class Host: @unchecked Sendable {
        // @unchecked Sendable: `pid` and `channels` never change; the other fields are read and
        // written only with the owning plugin's lock held.
        let pid: pid_t
        let channels: [Int32]
        /// Why it was taken out of service (nil while it serves).
        var cause: Cause?
        /// The call (step or adapter, and key) that saw it fail first.
        var failedCall: String?
        /// How the process ended, once it was reaped.
        var ending: String?
        /// Channels taken by calls and not yet given back.
        var busy = 0
        /// Someone is killing and reaping it.
        var finalizing = false
        init(pid: pid_t, channels: [Int32]) {
            self.pid = pid
            self.channels = channels
        }
    }

    /// Why a host was taken out of service.
    enum Cause {
        /// The socket closed under a call: the process died.
        case died
        /// A call ran past its deadline and the engine killed the host.
        case timedOut(call: String, milliseconds: UInt64)
        /// The host's watchdog stopped a call past the CPU limit.
        case limit(message: String)
        /// The host wrote something that is not a frame.
        case malformed(String)

        var countsAsCrash: Bool { !isTimeout }

        /// The metric label of the cause.
        var label: String {
            switch self {
            case .died: "died"
            case .timedOut: "timeout"
            case .limit: "limit"
            case .malformed: "malformed"
            }
        }

        var isTimeout: Bool {
            if case .timedOut = self { return true }
            return false
        }
    }

    struct Slot {
        var host: Host?
        var free: [Int32] = []
        var starting = false
        var notBefore: UInt64 = 0
    }

    /// What happened to a host, for metrics (`observe`).
    public enum HostEvent: Sendable, Equatable {
        /// A host started after the first one (a restart, or another host of the pool).
        case started
        /// A host was taken out of service: `died`, `timeout`, `limit` or `malformed`.
        case failed(cause: String)
        /// The plugin was quarantined.
        case quarantined
    }

    struct State {
        var observer: (@Sendable (HostEvent) -> Void)?
        var slots: [Slot]
        var failures: [UInt64] = []
        var consecutiveFailures = 0
        var restarts = 0
        var crashes = 0
        var quarantine: String?
        var lastQuarantineCheck: UInt64 = 0
        var stopped = false
    }

    /// Calls `handler` for every host event from now on (on the thread where it happened,
    /// without the plugin's lock held). One observer; a second replaces the first.
    public func observe(_ handler: @escaping @Sendable (HostEvent) -> Void) {
        locked { state.observer = handler }
    }

    private func emit(_ event: HostEvent) {
        locked { state.observer }?(event)
    }

    /// Calls in flight on the hosts in service now.
    var callsInFlight: Int { locked { state.slots.reduce(0) { $0 + ($1.host?.busy ?? 0) } } }

    /// Host processes the plugin may have at once.
    public var hostCount: Int { locked { state.slots.count } }

    /// Status for `steward plugins list` and the metrics.
    public struct Status: Sendable, Equatable {
        /// The pids of the running hosts.
        public var pids: [Int32]
        /// Hosts started after the first ones.
        public var restarts: Int
        /// Host failures so far (timeouts included in `restarts`, not here).
        public var crashes: Int
        /// Why the plugin is quarantined (nil: it is not).
        public var quarantine: String?
    }

    /// Starts the plugin's first host and reads its hello; the other hosts start on demand.
    /// - Throws: `PluginLoadError`, the same the in-process loader throws for a plugin that
    ///   does not load (the host sends the reason), or `.hostFailed` when the host itself
    ///   could not start or died first.
    public init(path: String, settings: IsolationSettings, environment: IsolationEnvironment) throws(PluginLoadError) {
        self.path = path
        self.settings = settings
        self.environment = environment
        binary = BinaryIdentity(path: path)
        pthread_mutex_init(lock, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(changed, &attributes)
        pthread_condattr_destroy(&attributes)
        guard access(path, F_OK) == 0 else { throw PluginLoadError(path: path, reason: .fileNotFound) }
        // The first host tells whether the plugin is thread-safe, which decides how many
        // channels a host keeps: it starts with the settings' count or the most a host uses,
        // and closes the ones it does not keep (their threads in the host then end).
        let (host, hello) = try Self.spawn(path: path, channels: settings.channels ?? 8, settings: settings, environment: environment)
        self.hello = hello
        let threadSafe = hello.isThreadSafe
        channelsPerHost = max(1, settings.channels ?? (threadSafe ? 8 : 1))
        let hostCount = max(1, settings.hosts ?? (threadSafe ? 1 : 2))
        var slots = Array(repeating: Slot(), count: hostCount)
        for fd in host.channels.dropFirst(channelsPerHost) { close(fd) }
        // The host as kept: its channels are the open ones only, so no later close meets a closed descriptor.
        let kept = Host(pid: host.pid, channels: Array(host.channels.prefix(channelsPerHost)))
        slots[0].host = kept
        slots[0].free = kept.channels
        state = State(slots: slots)
        if let directory = environment.stateDirectory, let reason = Self.readQuarantine(directory: directory, plugin: hello.name) {
            state.quarantine = reason
        }
        writeStatus()
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(lock)
        changed.deallocate()
        lock.deallocate()
    }

    // MARK: Calls

    /// Calls step `index` (its position in the hello) in a host; returns its checked UTF-8 output.
    func callStep(
        index: UInt16, name: String, input: UnsafeRawBufferPointer, config: UnsafeRawBufferPointer, idempotencyKey: String, attempt: Int,
        callKey: String?, maxOutputBytes: Int
    ) throws(StepCallError) -> [UInt8] {
        let request = HostWire.Request(
            operation: .step, index: index, attempt: UInt32(clamping: attempt), deadline: PluginCallContext.current.deadlineNanoseconds,
            maxOutput: UInt32(clamping: maxOutputBytes))
        let head = HostWire.requestHead(
            request, key: idempotencyKey, callKey: callKey, config: config, prompt: UnsafeRawBufferPointer(start: nil, count: 0), inputCount: input.count)
        let reply = try roundTrip(head: head, input: input, deadline: request.deadline, callee: name, key: idempotencyKey) { StepCallError(step: name, kind: $0, message: $1) }
        switch reply.first {
        case HostWire.Reply.output.rawValue:
            return Array(reply.dropFirst())
        default:
            throw failure(reply, callee: name, key: idempotencyKey) { StepCallError(step: name, kind: $0, message: $1) }
        }
    }

    /// Calls adapter `index` in a host; `read` sees the answer while its reply is held.
    func callAdapter<T>(
        index: UInt16, key adapterKey: String, task: ModelTask, input: [UInt8], parameters: [UInt8], prompt: String, idempotencyKey: String, attempt: Int,
        callKey: String?, maxOutputBytes: Int, read: (PluginAdapter.RawResponse) throws(StepCallError) -> T
    ) throws(StepCallError) -> T {
        let request = HostWire.Request(
            operation: .adapter, task: UInt8(clamping: task.rawValue), index: index, attempt: UInt32(clamping: attempt),
            deadline: PluginCallContext.current.deadlineNanoseconds, maxOutput: UInt32(clamping: maxOutputBytes))
        var prompt = prompt
        let reply = try prompt.withUTF8 { promptBytes in
            parameters.withUnsafeBytes { parametersBytes in
                input.withUnsafeBytes { inputBytes in
                    Result { () throws(StepCallError) -> [UInt8] in
                        let head = HostWire.requestHead(
                            request, key: idempotencyKey, callKey: callKey, config: parametersBytes, prompt: UnsafeRawBufferPointer(promptBytes),
                            inputCount: inputBytes.count)
                        return try roundTrip(head: head, input: inputBytes, deadline: request.deadline, callee: adapterKey, key: idempotencyKey) {
                            StepCallError(adapter: adapterKey, kind: $0, message: $1)
                        }
                    }
                }
            }
        }.get()
        guard reply.first == HostWire.Reply.adapterOutput.rawValue, reply.count >= 33 else {
            throw failure(reply, callee: adapterKey, key: idempotencyKey) { StepCallError(adapter: adapterKey, kind: $0, message: $1) }
        }
        return try reply.withUnsafeBytes { bytes in
            Result { () throws(StepCallError) -> T in
                try read(PluginAdapter.RawResponse(
                    output: UnsafeRawBufferPointer(rebasing: bytes[33...]), confidence: Double(bitPattern: HostWire.load(bytes, 1)),
                    usage: AdapterUsage(inputTokens: HostWire.load(bytes, 9), outputTokens: HostWire.load(bytes, 17), latencyMicroseconds: HostWire.load(bytes, 25))))
            }
        }.get()
    }

    /// The error of a `failure` or `limit` reply (or of a reply of the wrong kind).
    private func failure(_ reply: [UInt8], callee: String, key: String, _ make: (StepCallError.Kind, String) -> StepCallError) -> StepCallError {
        if reply.count >= 2, reply[0] == HostWire.Reply.failure.rawValue, let kind = HostWire.kind(reply[1]) {
            return make(kind, String(decoding: reply[2...], as: UTF8.self))
        }
        return make(.internal, "the host of plugin \(hello.name) answered with a reply of kind \(reply.first.map(String.init) ?? "none")")
    }

    /// Takes a channel, sends the request, reads the reply; turns every host fault into the
    /// call's error. A `limit` reply also takes the host out of service.
    private func roundTrip(
        head: [UInt8], input: UnsafeRawBufferPointer, deadline: UInt64, callee: String, key: String, _ make: (StepCallError.Kind, String) -> StepCallError
    ) throws(StepCallError) -> [UInt8] {
        let (host, fd) = try acquire(deadline: deadline, make)
        let written = head.withUnsafeBytes { FrameIO.write(fd, [$0, input]) }
        var reply: [UInt8] = []
        var cause: Cause?
        if written != 0 {
            cause = .died
        } else {
            do {
                reply = try FrameIO.readFrame(fd, deadline: deadline)
                if reply.first == HostWire.Reply.limit.rawValue {
                    cause = .limit(message: reply.count > 2 ? String(decoding: reply[2...], as: UTF8.self) : "a limit was exceeded")
                } else if reply.first.flatMap(HostWire.Reply.init(rawValue:)) == nil {
                    cause = .malformed("a reply of unknown kind \(reply.first ?? 0)")
                }
            } catch {
                switch error {
                case .closed, .failed: cause = .died
                case .timedOut:
                    let now = MonotonicNanoseconds.now()
                    cause = .timedOut(call: "\(callee) \(key)", milliseconds: deadline > now ? 0 : (now - deadline) / 1_000_000)
                case .malformed(let what): cause = .malformed(what)
                }
            }
        }
        guard let cause else {
            release(host: host, fd: fd)
            return reply
        }
        takeOutOfService(host, cause: cause, call: "\(callee), key \(key)")
        close(fd)
        throw describe(host, own: cause, callee: callee, key: key, make)
    }

    /// The error of a call whose host was taken out of service.
    private func describe(_ host: Host, own: Cause, callee: String, key: String, _ make: (StepCallError.Kind, String) -> StepCallError) -> StepCallError {
        let (cause, ending) = locked { (host.cause ?? own, host.ending ?? "ended") }
        let who = "the host process of plugin \(hello.name) (pid \(host.pid))"
        switch cause {
        case .timedOut(let call, _):
            if case .timedOut(let mine, _) = own, mine == call {
                return make(
                    .transient,
                    "timed out (the call's deadline passed); \(who) is killed as soon as the other calls on it are back, and new calls go to a fresh host")
            }
            return make(.transient, "\(who) was killed because another call on it (\(call)) ran past its deadline; this call was in flight on it")
        case .limit(let message):
            return make(settings.crashKind, "\(message) (\(who))")
        case .malformed(let what):
            return make(settings.crashKind, "\(who) wrote a malformed frame (\(what)) during this call (\(callee), key \(key)); it was killed")
        case .died:
            var text = "\(who) \(ending) during this call (\(callee), key \(key))"
            if let limit = settings.memoryLimitBytes { text += "; its memory limit is \(limit / 1_048_576) MiB of address space" }
            return make(settings.crashKind, text)
        }
    }

    /// A free channel of a running host, starting or restarting one when needed.
    private func acquire(deadline: UInt64, _ make: (StepCallError.Kind, String) -> StepCallError) throws(StepCallError) -> (Host, Int32) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        while true {
            if state.stopped { throw make(.transient, "plugin \(hello.name) is shutting down") }
            if let reason = state.quarantine {
                if !quarantineStillHolds() {
                    state.quarantine = nil
                    state.failures = []
                    state.consecutiveFailures = 0
                } else {
                    throw make(.permanent, "plugin \(hello.name) is quarantined (\(reason)); an operator clears it with 'steward plugins unquarantine \(hello.name)'")
                }
            }
            // A running host with a free channel, the least busy first.
            if let index = state.slots.indices.filter({ state.slots[$0].host != nil && !state.slots[$0].free.isEmpty })
                .max(by: { state.slots[$0].free.count < state.slots[$1].free.count })
            {
                let fd = state.slots[index].free.removeLast()
                let host = state.slots[index].host!
                host.busy += 1
                return (host, fd)
            }
            // A slot without a host: start one (outside the lock), after its backoff.
            if let index = state.slots.indices.first(where: { state.slots[$0].host == nil && !state.slots[$0].starting }) {
                state.slots[index].starting = true
                let notBefore = state.slots[index].notBefore
                pthread_mutex_unlock(lock)
                let started = startHost(notBefore: notBefore, deadline: deadline)
                pthread_mutex_lock(lock)
                state.slots[index].starting = false
                switch started {
                case .success(let host):
                    if state.stopped {
                        Self.retire(host)
                    } else {
                        state.slots[index].host = host
                        state.slots[index].free = host.channels
                        state.restarts += 1
                    }
                    pthread_cond_broadcast(changed)
                    unlockedStatusWrite()
                    let observer = state.observer
                    pthread_mutex_unlock(lock)
                    observer?(.started)
                    pthread_mutex_lock(lock)
                    continue
                case .failure(let error):
                    recordFailure(countsAsCrash: true)
                    state.slots[index].notBefore = MonotonicNanoseconds.now() + backoff()
                    pthread_cond_broadcast(changed)
                    unlockedStatusWrite()
                    throw make(settings.crashKind, "\(hello.name)'s host process did not start again: \(error)")
                }
            }
            // Every channel is busy (or hosts are starting): wait for one.
            if deadline != 0 {
                let now = MonotonicNanoseconds.now()
                guard now < deadline else { throw make(.transient, "timed out waiting for a free channel of plugin \(hello.name)'s host processes") }
                var until = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
                pthread_cond_timedwait(changed, lock, &until)
            } else {
                pthread_cond_wait(changed, lock)
            }
        }
    }

    /// Starts one host (waiting out the backoff first, bounded by the call's deadline) and
    /// checks it still serves the same library.
    private func startHost(notBefore: UInt64, deadline: UInt64) -> Result<Host, PluginLoadError> {
        let now = MonotonicNanoseconds.now()
        if notBefore > now {
            let wait = deadline != 0 ? min(notBefore, deadline) - min(now, min(notBefore, deadline)) : notBefore - now
            usleep(useconds_t(min(wait / 1_000, 5_000_000)))
        }
        do {
            let (host, hello) = try Self.spawn(path: path, channels: channelsPerHost, settings: settings, environment: environment)
            guard hello.sha256 == self.hello.sha256, hello.name == self.hello.name, hello.version == self.hello.version else {
                Self.retire(host)
                return .failure(PluginLoadError(path: path, reason: .hostFailed(message: "the library changed on disk since the engine loaded it (SHA-256 \(hello.sha256), was \(self.hello.sha256))")))
            }
            return .success(host)
        } catch {
            return .failure(error)
        }
    }

    /// Gives a channel back after a call that went well. A host taken out of service after a
    /// timeout (draining) is ended once its last call is back.
    private func release(host: Host, fd: Int32) {
        pthread_mutex_lock(lock)
        host.busy -= 1
        if let index = state.slots.firstIndex(where: { $0.host === host }) {
            state.slots[index].free.append(fd)
            state.consecutiveFailures = 0
            pthread_cond_signal(changed)
            pthread_mutex_unlock(lock)
            return
        }
        close(fd)
        let last = host.busy == 0 && !host.finalizing && host.ending == nil
        if last { host.finalizing = true }
        pthread_mutex_unlock(lock)
        if last { finalize(host) }
    }

    /// Takes a failed host out of service (the first caller to see it fail) and ends it: at
    /// once when it died, crashed or broke the protocol (the calls still on it fail as their
    /// reads end); after a timeout only once the other calls on it are back, so a hung call
    /// does not fail its neighbours (new calls go to a fresh host meanwhile). Counts the
    /// failure and arms the backoff. Callers close their own channel afterwards.
    private func takeOutOfService(_ host: Host, cause: Cause, call: String) {
        pthread_mutex_lock(lock)
        host.busy -= 1
        if let index = state.slots.firstIndex(where: { $0.host === host }) {
            host.cause = cause
            host.failedCall = call
            let free = state.slots[index].free
            state.slots[index].host = nil
            state.slots[index].free = []
            for fd in free { close(fd) }
            recordFailure(countsAsCrash: cause.countsAsCrash)
            state.slots[index].notBefore = MonotonicNanoseconds.now() + backoff()
            pthread_cond_broadcast(changed)
            let draining: Bool
            if case .timedOut = cause { draining = host.busy > 0 } else { draining = false }
            if !draining { host.finalizing = true }
            pthread_mutex_unlock(lock)
            if !draining { finalize(host) }
            writeStatus()
            emit(.failed(cause: cause.label))
            return
        }
        // Already out of service. A draining host that dies under its remaining calls is a
        // crash after all; otherwise wait until whoever ends it has recorded how it ended.
        var mine = false
        if !host.finalizing, host.ending == nil {
            if case .timedOut = host.cause, !cause.isTimeout {
                host.cause = cause
                host.failedCall = call
                recordFailure(countsAsCrash: cause.countsAsCrash)
            }
            if host.busy == 0 || !cause.isTimeout {
                host.finalizing = true
                mine = true
            }
        }
        if mine {
            pthread_mutex_unlock(lock)
            finalize(host)
            return
        }
        while host.ending == nil, host.finalizing { pthread_cond_wait(changed, lock) }
        pthread_mutex_unlock(lock)
    }

    /// Kills and reaps a host out of service, recording how it ended (`finalizing` is set).
    private func finalize(_ host: Host) {
        kill(host.pid, SIGKILL)
        let ending = Self.reap(host.pid)
        let (cause, call) = locked { () -> (Cause?, String?) in
            host.ending = ending
            host.finalizing = false
            pthread_cond_broadcast(changed)
            return (host.cause, host.failedCall)
        }
        let during = call.map { " (during \($0))" } ?? ""
        IsolationLog.report("plugin \(hello.name): host process \(host.pid) \(ending)\(during); \(cause.map(Self.summary) ?? "stopped")")
    }

    private static func summary(_ cause: Cause) -> String {
        switch cause {
        case .died: "the calls in flight on it failed"
        case .timedOut(let call, _): "killed after \(call) ran past its deadline"
        case .limit(let message): message
        case .malformed(let what): "it wrote a malformed frame (\(what))"
        }
    }

    /// Counts a failure (lock held) and quarantines the plugin past the threshold.
    private func recordFailure(countsAsCrash: Bool) {
        state.consecutiveFailures += 1
        guard countsAsCrash else { return }
        state.crashes += 1
        let now = MonotonicNanoseconds.now()
        let window = UInt64(settings.quarantineWindowSeconds * 1e9)
        state.failures.append(now)
        state.failures.removeAll { now - $0 > window }
        guard state.quarantine == nil, state.failures.count >= max(1, settings.quarantineAfter) else { return }
        let reason = "\(state.failures.count) host failures within \(Int(settings.quarantineWindowSeconds)) s"
        state.quarantine = reason
        state.lastQuarantineCheck = now
        if let directory = environment.stateDirectory {
            Self.writeQuarantine(directory: directory, plugin: hello.name, reason: reason)
        }
        IsolationLog.report("plugin \(hello.name) is quarantined: \(reason); its calls fail until 'steward plugins unquarantine \(hello.name)'")
        // Called with the lock held: the observer runs on a thread of its own.
        if let observer = state.observer { Thread.detachNewThread { observer(.quarantined) } }
    }

    /// 100 ms, doubling with each consecutive failure, at most 5 s (lock held).
    private func backoff() -> UInt64 {
        let exponent = min(max(0, state.consecutiveFailures - 1), 6)
        return min(100_000_000 << UInt64(exponent), 5_000_000_000)
    }

    /// Whether the quarantine still holds (lock held): the state directory's file is checked
    /// at most once a second, so an operator's unquarantine takes effect without a restart.
    private func quarantineStillHolds() -> Bool {
        guard let directory = environment.stateDirectory else { return true }
        let now = MonotonicNanoseconds.now()
        guard now - state.lastQuarantineCheck >= 1_000_000_000 else { return true }
        state.lastQuarantineCheck = now
        return Self.readQuarantine(directory: directory, plugin: hello.name) != nil
    }

    // MARK: Operator actions and status

    /// Lifts the quarantine (in memory and in the state directory).
    public func clearQuarantine() {
        locked {
            state.quarantine = nil
            state.failures = []
            state.consecutiveFailures = 0
        }
        if let directory = environment.stateDirectory { try? FileManager.default.removeItem(atPath: Self.quarantineFile(directory: directory, plugin: hello.name)) }
        writeStatus()
    }

    /// The hosts' pids, restarts, failures and quarantine.
    public var status: Status {
        locked {
            Status(pids: state.slots.compactMap { $0.host?.pid }, restarts: state.restarts, crashes: state.crashes, quarantine: state.quarantine)
        }
    }

    /// Stops every host: closes its channels (the host then runs the plugin's deinit and
    /// exits), waits up to 5 s for it, then kills it. Calls fail as shutting down afterwards.
    /// - Returns: whether every host ended by itself (its deinit ran).
    @discardableResult
    public func stop() -> Bool {
        let hosts: [(Host, [Int32])] = locked {
            state.stopped = true
            let hosts = state.slots.compactMap { slot in slot.host.map { ($0, slot.free) } }
            for (host, _) in hosts { host.ending = "was stopped with the engine" }
            for index in state.slots.indices {
                state.slots[index].host = nil
                state.slots[index].free = []
            }
            pthread_cond_broadcast(changed)
            return hosts
        }
        var clean = true
        for (host, free) in hosts {
            for fd in free { close(fd) }
            if !Self.retire(host, closing: false) { clean = false }
        }
        if let directory = environment.stateDirectory {
            try? FileManager.default.removeItem(atPath: Self.statusFile(directory: directory, plugin: hello.name, engine: getpid()))
        }
        return clean
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return body()
    }

    /// `writeStatus` for callers holding the lock: the file is written after they release it.
    private func unlockedStatusWrite() {
        pthread_mutex_unlock(lock)
        writeStatus()
        pthread_mutex_lock(lock)
    }

    /// Writes `<plugin>.host.json` in the state directory (when there is one).
    private func writeStatus() {
        guard let directory = environment.stateDirectory else { return }
        let status = self.status
        let document: JSONValue = [
            "plugin": .string(hello.name), "version": .string(hello.version), "mode": "process", "engine_pid": .integer(Int64(getpid())),
            "pids": .array(status.pids.map { .integer(Int64($0)) }), "restarts": .integer(Int64(status.restarts)), "crashes": .integer(Int64(status.crashes)),
            "quarantine": status.quarantine.map(JSONValue.string) ?? .null, "updated_at": .string(ISO8601DateFormatter().string(from: Date())),
        ]
        Self.writeAtomically(document.jsonBytes, to: Self.statusFile(directory: directory, plugin: hello.name, engine: getpid()))
    }

    /// `<plugin>.host.<engine pid>.json`: one file per engine process, so engines (and a
    /// `steward plugins list` that loads the plugin itself) never overwrite each other.
    static func statusFile(directory: String, plugin: String, engine: pid_t) -> String {
        (directory as NSString).appendingPathComponent("\(plugin).host.\(engine).json")
    }

    /// The status files of `plugin` written by engine processes that are still running (other
    /// than this one), as written: `engine_pid`, `pids`, `restarts`, `crashes`, `quarantine`.
    /// Files of engines that are gone are removed.
    public static func runningHosts(directory: String, plugin: String) -> [JSONValue] {
        let prefix = "\(plugin).host."
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var found: [JSONValue] = []
        for name in names.sorted() where name.hasPrefix(prefix) && name.hasSuffix(".json") {
            guard let engine = Int32(name.dropFirst(prefix.count).dropLast(5)), engine != getpid() else { continue }
            let file = (directory as NSString).appendingPathComponent(name)
            guard kill(engine, 0) == 0 || errno == EPERM else {
                try? FileManager.default.removeItem(atPath: file)
                continue
            }
            if let data = FileManager.default.contents(atPath: file), let document = try? JSONValue.parse(Array(data)) { found.append(document) }
        }
        return found
    }

    // MARK: Host processes

    /// What the plugin at `path` declares, as a host process reports it (the host starts, loads
    /// it, reports, and is stopped: the plugin's init and deinit run in that process).
    /// - Throws: `PluginLoadError` as `init` does.
    public static func describe(path: String, environment: IsolationEnvironment) throws(PluginLoadError) -> HostHello {
        guard access(path, F_OK) == 0 else { throw PluginLoadError(path: path, reason: .fileNotFound) }
        let (host, hello) = try spawn(path: path, channels: 1, settings: IsolationSettings(mode: .process), environment: environment)
        retire(host)
        return hello
    }

    /// Starts a host with `channels` socket pairs and reads its hello (or why it did not load).
    static func spawn(path: String, channels: Int, settings: IsolationSettings, environment: IsolationEnvironment) throws(PluginLoadError) -> (Host, HostHello) {
        var engineEnds: [Int32] = []
        var hostEnds: [Int32] = []
        func closeAll() { for fd in engineEnds + hostEnds { close(fd) } }
        for _ in 0..<max(1, channels) {
            var pair: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
                closeAll()
                throw PluginLoadError(path: path, reason: .hostFailed(message: "socketpair: \(String(cString: strerror(errno)))"))
            }
            engineEnds.append(pair[0])
            // Far above the numbers the host's channels get (3, 4, ...), so no dup2 lands on itself.
            let high = fcntl(pair[1], F_DUPFD_CLOEXEC, 256)
            close(pair[1])
            hostEnds.append(high)
        }
        var arguments = [environment.hostExecutable, "--plugin", path, "--channels", String(hostEnds.count)]
        if let limit = settings.memoryLimitBytes { arguments += ["--memory-limit-bytes", String(limit)] }
        if let limit = settings.cpuLimitMilliseconds { arguments += ["--cpu-limit-ms", String(limit)] }
        if !settings.network { arguments.append("--no-network") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // What a plugin prints goes to the engine's standard error, never into its output.
        posix_spawn_file_actions_adddup2(&actions, 2, 1)
        for (index, fd) in hostEnds.enumerated() { posix_spawn_file_actions_adddup2(&actions, fd, Int32(3 + index)) }
        var environmentList = ProcessInfo.processInfo.environment
        for (name, value) in settings.environment { environmentList[name] = value }
        // With an address-space limit, glibc's per-thread arenas (64 MiB each) would spend it.
        if settings.memoryLimitBytes != nil, environmentList["MALLOC_ARENA_MAX"] == nil { environmentList["MALLOC_ARENA_MAX"] = "2" }
        // A crash is the host's way to fail a call: no Swift backtrace on the engine's stderr.
        environmentList["SWIFT_BACKTRACE"] = "enable=no"
        let cArguments = arguments.map { strdup($0) } + [nil]
        let cEnvironment = environmentList.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in cArguments { free(pointer) }
            for pointer in cEnvironment { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, environment.hostExecutable, &actions, nil, cArguments, cEnvironment)
        for fd in hostEnds { close(fd) }
        hostEnds = []
        guard spawned == 0 else {
            closeAll()
            throw PluginLoadError(path: path, reason: .hostFailed(message: "cannot start \(environment.hostExecutable): \(String(cString: strerror(spawned)))"))
        }
        let host = Host(pid: pid, channels: engineEnds)
        let startDeadline = MonotonicNanoseconds.now() + 60_000_000_000
        let frame: [UInt8]
        do {
            frame = try FrameIO.readFrame(engineEnds[0], deadline: startDeadline)
        } catch {
            kill(pid, SIGKILL)
            let ending = reap(pid)
            closeAll()
            switch error {
            case .timedOut: throw PluginLoadError(path: path, reason: .hostFailed(message: "pid \(pid) did not report the plugin within 60 s; it was killed"))
            default: throw PluginLoadError(path: path, reason: .hostFailed(message: "pid \(pid) \(ending) before it reported the plugin"))
            }
        }
        let document = try? JSONValue.parse(frame.dropFirst())
        if frame.first == HostWire.Reply.hello.rawValue, let document, let hello = HostHello(json: document) {
            return (host, hello)
        }
        kill(pid, SIGKILL)
        _ = reap(pid)
        closeAll()
        if frame.first == HostWire.Reply.loadFailure.rawValue, let document, let reason = PluginLoadError.Reason(json: document) {
            throw PluginLoadError(path: path, reason: reason)
        }
        throw PluginLoadError(path: path, reason: .hostFailed(message: "pid \(pid) answered with something that is not a hello"))
    }

    /// Ends a host: closes its channels (unless the caller did), waits up to 5 s for it to exit
    /// on its own, then kills it. Returns whether it exited by itself with status 0.
    @discardableResult
    static func retire(_ host: Host, closing: Bool = true) -> Bool {
        if closing { for fd in host.channels { close(fd) } }
        for _ in 0..<500 {
            var status: Int32 = 0
            let result = waitpid(host.pid, &status, WNOHANG)
            if result == host.pid { return status == 0 }
            if result < 0 { return false }
            usleep(10_000)
        }
        kill(host.pid, SIGKILL)
        _ = reap(host.pid)
        return false
    }

    /// Waits for `pid` and says how it ended ("was killed by signal 11 (SIGSEGV)", "exited with status 3").
    static func reap(_ pid: pid_t) -> String {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return "ended (its status could not be read)" }
        }
        // WIFEXITED / WTERMSIG are macros Swift does not import.
        let signal = status & 0x7f
        if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
        let name = SignalName.of(signal)
        return "was killed by signal \(signal)\(name.map { " (\($0))" } ?? "")"
    }

    // MARK: The state directory

    static func quarantineFile(directory: String, plugin: String) -> String {
        (directory as NSString).appendingPathComponent("\(plugin).quarantined")
    }

    /// The quarantine reason recorded for `plugin`, nil when it is not quarantined.
    public static func readQuarantine(directory: String, plugin: String) -> String? {
        guard let data = FileManager.default.contents(atPath: quarantineFile(directory: directory, plugin: plugin)) else { return nil }
        return (try? JSONValue.parse(Array(data)))?["reason"]?.stringValue ?? "quarantined"
    }

    static func writeQuarantine(directory: String, plugin: String, reason: String) {
        let document: JSONValue = ["plugin": .string(plugin), "reason": .string(reason), "since": .string(ISO8601DateFormatter().string(from: Date()))]
        writeAtomically(document.jsonBytes, to: quarantineFile(directory: directory, plugin: plugin))
    }

    /// Lifts `plugin`'s quarantine in `directory` (what `steward plugins unquarantine` does).
    /// - Returns: whether it was quarantined.
    @discardableResult
    public static func clearQuarantine(directory: String, plugin: String) -> Bool {
        let file = quarantineFile(directory: directory, plugin: plugin)
        guard FileManager.default.fileExists(atPath: file) else { return false }
        return (try? FileManager.default.removeItem(atPath: file)) != nil
    }

    static func writeAtomically(_ bytes: [UInt8], to file: String) {
        try? FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let temporary = file + ".\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else { return }
        rename(temporary, file)
    }
}

/// Where isolation reports what happened to hosts (the plugin host's logger, one line each).
enum IsolationLog {
    static let logger = Logger(label: "steward.plugin.isolation")

    static func report(_ line: String) {
        logger.warning("\(line)")
    }
}

/// The names of the signals that end a plugin process, for messages ("SIGSEGV").
public enum SignalName {
    /// The signal's name, or nil for one not named here.
    public static func of(_ signal: Int32) -> String? {
        switch signal {
        case SIGSEGV: "SIGSEGV"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGFPE: "SIGFPE"
        case SIGILL: "SIGILL"
        case SIGKILL: "SIGKILL"
        case SIGTRAP: "SIGTRAP"
        case SIGXCPU: "SIGXCPU"
        case SIGTERM: "SIGTERM"
        default: nil
        }
    }
}
