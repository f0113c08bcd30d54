import StewardCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The poison-pill guard: an append-only file recording that a step call started and that it
/// finished, so that a call which takes the whole process down (segfault, abort, `_exit`) is
/// recognised on the next start instead of crashing every start forever.
///
/// What counts as a crash of a call: a fault on the thread running it — `SIGSEGV`, `SIGBUS`,
/// `SIGILL`, `SIGFPE`, `SIGABRT` (`abort()`), `SIGSYS` — while the call runs under `guarding`.
/// The signal handler appends one "fault" line for that call (one `write(2)`, which is
/// async-signal-safe), restores the previous handler and lets the signal end the process as
/// before. A process killed from outside (`SIGKILL`, the OOM killer, a power cut) leaves no fault
/// line, so an operator's `kill -9` never poisons the calls that happened to be in flight; the
/// same is true of a plugin that calls `_exit`, which no in-process handler can see.
///
/// Guarantees and limits:
/// - `begin` and `end` are one small `write(2)` each to a file opened with `O_APPEND`, with no
///   fsync: the kernel keeps the bytes when the process dies, which is the failure this guards
///   against. After a power loss or kernel crash markers may be lost, and then a poison call may
///   crash the engine more than `maxCrashes` times.
/// - The crash counts are those of earlier processes, read once at `init`: calls in flight in
///   this process are never counted against themselves.
/// - Markers are keyed by the call key (`<instance>/<state>/<enteredAt>`) and attempt, so a
///   later visit of the same state, or the next attempt, starts from zero.
/// - At `init`, when no other process holds the ledger open, finished calls are dropped from
///   the file (it is rewritten in place); processes that share the ledger keep it open with a
///   shared `flock`, so one never compacts under another.
///
/// Thread rules: every method may be called from any thread or task.
public final class CrashLedger: Sendable {
    /// The ledger file.
    public let path: String
    /// How many unfinished starts of one call make the engine fail it instead of running it.
    public let maxCrashes: Int

    private let descriptor: Int32
    /// Faults of unfinished calls by `<call key>\t<attempt>`, as left by earlier processes.
    private let unfinished: [String: Int]

    /// Opens (creating) the ledger at `path`, reads what earlier processes left, and compacts
    /// it when no other process has it open.
    /// - Parameter maxCrashes: at least 1; a call that crashed the engine this many times is failed.
    /// - Throws: `CrashLedgerError` when the file cannot be opened or read.
    public init(path: String, maxCrashes: Int) throws(CrashLedgerError) {
        self.path = path
        self.maxCrashes = max(1, maxCrashes)
        let descriptor = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw CrashLedgerError(path: path, operation: "open", errno: errno) }
        self.descriptor = descriptor
        let exclusive = flock(descriptor, LOCK_EX | LOCK_NB) == 0
        if !exclusive { flock(descriptor, LOCK_SH) }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var offset: off_t = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
            if count < 0 {
                let code = errno
                close(descriptor)
                throw CrashLedgerError(path: path, operation: "read", errno: code)
            }
            if count == 0 { break }
            text += chunk[0..<count]
            offset += off_t(count)
        }
        let unfinished = Self.unfinished(in: text)
        self.unfinished = unfinished
        if exclusive {
            // Alone: keep only the faults of calls that never finished.
            ftruncate(descriptor, 0)
            var kept: [UInt8] = []
            for (key, count) in unfinished.sorted(by: { $0.key < $1.key }) {
                for _ in 0..<count { kept += Array("F\t\(key)\n".utf8) }
            }
            if !kept.isEmpty { _ = kept.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } }
            flock(descriptor, LOCK_SH)
        }
        FaultMarker.install(descriptor: descriptor)
    }

    deinit {
        // The handler must never write into whatever file reuses this descriptor number.
        _ = FaultMarker.descriptor.compareExchange(expected: descriptor, desired: -1, ordering: .sequentiallyConsistent)
        close(descriptor)
    }

    /// Runs `body` — the blocking plugin or C call — with `invocation` as this thread's current
    /// call, so that a fault while it runs is recorded against it. Call it on the thread that
    /// makes the call (a `BlockingCallPool` thread).
    public func guarding<T>(_ invocation: StepInvocation, _ body: () throws(StepFailure) -> T) throws(StepFailure) -> T {
        try FaultMarker.with(ledgerKey: Self.key(invocation), body)
    }

    /// How many times earlier processes crashed in this attempt of the call (a fault while it ran) before it finished.
    public func crashes(of invocation: StepInvocation) -> Int {
        unfinished[Self.key(invocation)] ?? 0
    }

    /// Whether the call crashed the engine `maxCrashes` times and must not run again.
    public func isPoisoned(_ invocation: StepInvocation) -> Bool { isPoisoned(key: Self.key(invocation)) }

    /// `isPoisoned` for a call whose ledger key (`CrashLedger.key`) the caller already has.
    public func isPoisoned(key: String) -> Bool { (unfinished[key] ?? 0) >= maxCrashes }

    /// Records that the call is about to start. One `write(2)`, no fsync.
    public func begin(_ invocation: StepInvocation) { begin(key: Self.key(invocation)) }

    /// `begin` for a call whose ledger key the caller already has.
    public func begin(key: String) { append(marker: UInt8(ascii: "S"), key: key) }

    /// Records that the call returned (or was failed without running). One `write(2)`, no fsync.
    public func end(_ invocation: StepInvocation) { end(key: Self.key(invocation)) }

    /// `end` for a call whose ledger key the caller already has.
    public func end(key: String) { append(marker: UInt8(ascii: "E"), key: key) }

    /// Writes "<marker>\t<key>\n" with one `write(2)`, the line built on the stack (this runs
    /// twice per plugin call).
    private func append(marker: UInt8, key: String) {
        var key = key
        key.withUTF8 { bytes in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bytes.count + 3) { line in
                line[0] = marker
                line[1] = UInt8(ascii: "\t")
                if let source = bytes.baseAddress, bytes.count > 0 {
                    UnsafeMutableRawPointer(line.baseAddress! + 2).copyMemory(from: source, byteCount: bytes.count)
                }
                line[bytes.count + 2] = UInt8(ascii: "\n")
                // A failed marker write must not fail the step: the guard is best effort by design.
                _ = write(descriptor, line.baseAddress, line.count)
            }
        }
    }

    /// The ledger's key of one attempt of one call: its call key and attempt, tab-separated.
    public static func key(_ invocation: StepInvocation) -> String {
        // Tabs and newlines would break the line format; ids never contain them, but be safe.
        var callKey = invocation.callKey
        if callKey.utf8.contains(where: { $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\n") }) {
            callKey = String(String.UnicodeScalarView(callKey.unicodeScalars.map { $0 == "\t" || $0 == "\n" ? " " : $0 }))
        }
        // One allocation: this runs on every plugin call.
        var key = String()
        key.reserveCapacity(callKey.utf8.count + 12)
        key += callKey
        key += "\t"
        key += String(invocation.attempt)
        return key
    }

    /// Faults per key since its last end; a torn last line is ignored.
    static func unfinished(in text: [UInt8]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for line in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard line.count > 2, line[line.startIndex + 1] == UInt8(ascii: "\t") else { continue }
            let key = String(decoding: line.dropFirst(2), as: UTF8.self)
            guard key.contains("\t") else { continue }
            switch line.first {
            case UInt8(ascii: "F"): counts[key, default: 0] += 1
            case UInt8(ascii: "E"): counts[key] = 0
            default: continue
            }
        }
        return counts.filter { $0.value > 0 }
    }
}

/// The crash ledger could not be opened or read.
public struct CrashLedgerError: Error, Sendable, CustomStringConvertible {
    /// The ledger file.
    public let path: String
    /// What failed ("open", "read").
    public let operation: String
    /// The C error number.
    public let errno: Int32

    /// "cannot open the crash ledger <path>: <strerror>".
    public var description: String { "cannot \(operation) the crash ledger \(path): \(String(cString: strerror(errno)))" }
}

/// The fault handler's side of the ledger: the current call's fault line, per thread, and the
/// handler that writes it when the thread faults.
enum FaultMarker {
    /// The signals that mean the running code crashed the process itself.
    static let signals: [Int32] = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS]

    /// The ledger the handler writes to (-1: none yet). Atomic, so the handler reads it safely.
    static let descriptor = Atomic<Int32>(-1)

    /// The thread's current fault line: a block holding its length (an `Int`) then its bytes.
    static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The handlers in place before ours, restored by the handler before the signal proceeds.
    // nonisolated(unsafe): written once, under `installed`, before any handler can run; read
    // only by the handler afterwards.
    nonisolated(unsafe) static let previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 64)
    static let installed = Mutex(false)

    /// Installs the handler once per process; later ledgers only change the descriptor.
    static func install(descriptor: Int32) {
        self.descriptor.store(descriptor, ordering: .sequentiallyConsistent)
        _ = key
        installed.withLock { done in
            guard !done else { return }
            done = true
            for signal in signals {
                var action = sigaction()
                action.__sigaction_handler = .init(sa_handler: { signal in FaultMarker.handle(signal) })
                sigemptyset(&action.sa_mask)
                action.sa_flags = 0
                sigaction(signal, &action, previous + Int(signal))
            }
        }
    }

    /// The handler: records the thread's current call, if any, then puts the previous handler
    /// back. Returning re-runs a faulting instruction (or lets abort() finish), which now goes
    /// to the previous handler, so the process ends exactly as it would have without us.
    static func handle(_ signal: Int32) {
        let fd = descriptor.load(ordering: .relaxed)
        if fd >= 0, let block = pthread_getspecific(key) {
            let length = block.load(as: Int.self)
            _ = write(fd, block + MemoryLayout<Int>.stride, length)
        }
        sigaction(signal, previous + Int(signal), nil)
    }

    /// Runs `body` with `line` as this thread's fault line.
    static func with<T>(ledgerKey: String, _ body: () throws(StepFailure) -> T) throws(StepFailure) -> T {
        // The fault line "F\t<key>\n", behind its length, in one block the handler can write as is.
        var text = ledgerKey
        let block = text.withUTF8 { bytes -> UnsafeMutableRawPointer in
            let length = bytes.count + 3
            let block = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<Int>.stride + length, alignment: MemoryLayout<Int>.alignment)
            block.storeBytes(of: length, as: Int.self)
            let line = (block + MemoryLayout<Int>.stride).assumingMemoryBound(to: UInt8.self)
            line[0] = UInt8(ascii: "F")
            line[1] = UInt8(ascii: "\t")
            if let source = bytes.baseAddress, bytes.count > 0 { (line + 2).update(from: source, count: bytes.count) }
            line[length - 1] = UInt8(ascii: "\n")
            return block
        }
        let outer = pthread_getspecific(key)
        pthread_setspecific(key, block)
        defer {
            pthread_setspecific(key, outer)
            block.deallocate()
        }
        return try body()
    }
}
