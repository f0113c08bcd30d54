import CPluginSandbox
import StewardJSON
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The host side of process isolation: what `steward-plugin-host` runs once it has dropped
/// what it does not need. Loads one plugin with the engine's own loader and checks, reports it
/// on channel 0, then serves each channel on a thread of its own (one call at a time per
/// channel, as many at once as there are channels) until the engine closes them all; then
/// runs the plugin's deinit and returns.
///
/// A watchdog thread ends the process when the engine is gone (the host was re-parented) and,
/// with a CPU-time limit, stops a call that used more CPU than allowed: it answers that call
/// with a `limit` reply and exits, since a plugin thread cannot be stopped in the middle.
public enum PluginHostServer {
    /// What the host was asked to do.
    public struct Options: Sendable {
        /// The library.
        public var path: String
        /// The channel descriptors, channel 0 first.
        public var channels: [Int32]
        /// The CPU time one call may use, in milliseconds (nil: no limit).
        public var cpuLimitMilliseconds: Int?

        /// Creates options.
        public init(path: String, channels: [Int32], cpuLimitMilliseconds: Int?) {
            self.path = path
            self.channels = channels
            self.cpuLimitMilliseconds = cpuLimitMilliseconds
        }
    }

    /// Tells the engine on `channel` that the host cannot serve (`PluginLoadError.hostFailed`).
    public static func refuse(channel: Int32, message: String) {
        let reason = PluginLoadError.Reason.hostFailed(message: message)
        _ = FrameIO.write(channel, reason.json.jsonBytes.withUnsafeBytes { HostWire.reply(.loadFailure, payload: $0) })
    }

    /// Loads and serves until every channel is closed.
    /// - Returns: the process exit status: 0 after serving, 3 when the plugin did not load
    ///   (the reason went to the engine on channel 0), 4 when channel 0 could not be written.
    public static func run(_ options: Options) -> Int32 {
        guard let first = options.channels.first else { return 4 }
        let plugin: LoadedPlugin
        do {
            plugin = try PluginLoader.load(path: options.path)
        } catch {
            let frame = error.reason.json.jsonBytes.withUnsafeBytes { HostWire.reply(.loadFailure, payload: $0) }
            _ = FrameIO.write(first, frame)
            return 3
        }
        let helloFrame = HostHello(plugin, pid: getpid()).json.jsonBytes.withUnsafeBytes { HostWire.reply(.hello, payload: $0) }
        guard FrameIO.write(first, helloFrame) == 0 else { return 4 }

        let calls = RunningCalls(count: options.channels.count)
        startWatchdog(calls: calls, channels: options.channels, cpuLimit: options.cpuLimitMilliseconds)
        var threads: [pthread_t] = []
        for (index, fd) in options.channels.enumerated() {
            let server = ChannelServer(plugin: plugin, fd: fd, index: index, calls: calls)
            if let thread = server.start() { threads.append(thread) }
        }
        for thread in threads { pthread_join(thread, nil) }
        plugin.deinitialize()
        return 0
    }

    /// The call each channel is running, for the watchdog.
    final class RunningCalls: Sendable {
        struct Call {
            var thread: pthread_t
            var startCPU: UInt64
            var step: String
            var key: String
        }

        /// A channel's write lock: one writer at a time (the channel's thread, or the watchdog).
        final class Writer: Sendable {
            let mutex = Mutex<Void>(())
            func withLock<T>(_ body: () -> T) -> T { mutex.withLock { _ in body() } }
        }

        let calls: Mutex<[Call?]>
        let writers: [Writer]

        init(count: Int) {
            calls = Mutex(Array(repeating: nil, count: count))
            writers = (0..<count).map { _ in Writer() }
        }
    }

    /// Serves one channel on its own thread.
    final class ChannelServer: Sendable {
        let plugin: LoadedPlugin
        let fd: Int32
        let index: Int
        let calls: RunningCalls

        init(plugin: LoadedPlugin, fd: Int32, index: Int, calls: RunningCalls) {
            self.plugin = plugin
            self.fd = fd
            self.index = index
            self.calls = calls
        }

        func start() -> pthread_t? {
            let box = Unmanaged.passRetained(self).toOpaque()
            var thread = pthread_t()
            let started = pthread_create(&thread, nil, { raw in
                let server = Unmanaged<ChannelServer>.fromOpaque(raw!).takeRetainedValue()
                server.serve()
                return nil
            }, box)
            guard started == 0 else {
                Unmanaged<ChannelServer>.fromOpaque(box).release()
                return nil
            }
            return thread
        }

        func serve() {
            while true {
                let body: [UInt8]
                do {
                    body = try FrameIO.readFrame(fd, deadline: 0)
                } catch {
                    // The engine closed the channel (or it broke): this channel is done.
                    close(fd)
                    return
                }
                let reply = body.withUnsafeBytes { answer($0) }
                let failed = calls.writers[index].withLock { FrameIO.write(fd, reply) != 0 }
                if failed {
                    close(fd)
                    return
                }
            }
        }

        /// Runs one request and builds its reply frame.
        func answer(_ body: UnsafeRawBufferPointer) -> [UInt8] {
            guard let received = HostWire.parseRequest(body) else {
                return HostWire.failure(.internal, "the host received a malformed request frame")
            }
            let request = received.request
            let flag = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
            flag.initialize(to: 0)
            defer { flag.deallocate() }
            switch request.operation {
            case .step:
                guard Int(request.index) < plugin.steps.count else { return HostWire.failure(.unknownStep, "no step at index \(request.index)") }
                let step = plugin.steps[Int(request.index)]
                begin(step: step.fullName, key: received.key)
                defer { end() }
                do {
                    return try PluginCallContext.with(deadlineNanoseconds: request.deadline, cancelFlag: UnsafePointer(flag)) { () throws(StepCallError) -> [UInt8] in
                        try step.call(
                            input: received.input, config: received.config, idempotencyKey: received.key, attempt: Int(request.attempt),
                            callKey: received.callKey, maxOutputBytes: Int(request.maxOutput)
                        ) { output in HostWire.reply(.output, payload: output) }
                    }
                } catch {
                    return HostWire.failure(error.kind, error.message)
                }
            case .adapter:
                guard Int(request.index) < plugin.modelAdapters.count else {
                    return HostWire.failure(.unknownAdapter, "no adapter at index \(request.index)")
                }
                guard let task = ModelTask(rawValue: Int32(request.task)) else { return HostWire.failure(.internal, "unknown task \(request.task)") }
                let adapter = plugin.modelAdapters[Int(request.index)]
                begin(step: adapter.key, key: received.key)
                defer { end() }
                do {
                    let prompt = String(decoding: received.prompt, as: UTF8.self)
                    return try PluginCallContext.with(deadlineNanoseconds: request.deadline, cancelFlag: UnsafePointer(flag)) {
                        () throws(StepCallError) -> [UInt8] in
                        try adapter.callRaw(
                            task: task, input: Array(received.input), parameters: Array(received.config), prompt: prompt, idempotencyKey: received.key,
                            attempt: Int(request.attempt), callKey: received.callKey, maxOutputBytes: Int(request.maxOutput)
                        ) { raw in
                            // The reply is built from the plugin's own buffer, before the host frees it.
                            var fields: [UInt8] = []
                            HostWire.append(&fields, raw.confidence.bitPattern)
                            HostWire.append(&fields, raw.usage.inputTokens)
                            HostWire.append(&fields, raw.usage.outputTokens)
                            HostWire.append(&fields, raw.usage.latencyMicroseconds)
                            return HostWire.reply(.adapterOutput, fields: fields, payload: raw.output)
                        }
                    }
                } catch {
                    return HostWire.failure(error.kind, error.message)
                }
            case .shutdown:
                return HostWire.failure(.internal, "shutdown is not a call")
            }
        }

        func begin(step: String, key: String) {
            let call = RunningCalls.Call(thread: pthread_self(), startCPU: stw_sandbox_thread_cpu_ns(), step: step, key: key)
            calls.calls.withLock { $0[index] = call }
        }

        func end() {
            calls.calls.withLock { $0[index] = nil }
        }
    }

    /// Starts the thread that ends the host when the engine is gone and enforces the CPU limit.
    static func startWatchdog(calls: RunningCalls, channels: [Int32], cpuLimit: Int?) {
        let parent = getppid()
        let context = Unmanaged.passRetained(Watchdog(calls: calls, channels: channels, cpuLimit: cpuLimit, parent: parent)).toOpaque()
        var thread = pthread_t()
        if pthread_create(&thread, nil, { raw in
            Unmanaged<Watchdog>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, context) == 0 {
            pthread_detach(thread)
        }
    }

    final class Watchdog: Sendable {
        let calls: RunningCalls
        let channels: [Int32]
        let cpuLimit: Int?
        let parent: pid_t

        init(calls: RunningCalls, channels: [Int32], cpuLimit: Int?, parent: pid_t) {
            self.calls = calls
            self.channels = channels
            self.cpuLimit = cpuLimit
            self.parent = parent
        }

        func run() {
            let interval: useconds_t = cpuLimit == nil ? 100_000 : 10_000
            while true {
                usleep(interval)
                // Re-parented: the engine died without closing the channels (a plugin call may
                // hang forever); nobody is left to answer.
                if getppid() != parent { _exit(0) }
                guard let cpuLimit else { continue }
                let limit = UInt64(cpuLimit) * 1_000_000
                let over = calls.calls.withLock { running -> (Int, RunningCalls.Call, UInt64)? in
                    for (index, call) in running.enumerated() {
                        guard let call else { continue }
                        let used = stw_sandbox_other_thread_cpu_ns(UInt(call.thread)) &- call.startCPU
                        if used > limit, used < UInt64.max / 2 { return (index, call, used) }
                    }
                    return nil
                }
                guard let (index, call, used) = over else { continue }
                let message = "\(call.step) used \(used / 1_000_000) ms of CPU time in call \(call.key), past the plugin's limit of \(cpuLimit) ms; the host process exits and is restarted"
                calls.writers[index].withLock { _ = FrameIO.write(channels[index], HostWire.failure(.transient, message, reply: .limit)) }
                _exit(5)
            }
        }
    }
}
