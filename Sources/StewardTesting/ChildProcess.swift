#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a child process with `posix_spawn`, its output written to files, for tests that start
/// `steward`, a compiler or a fixture while other tests in the same process open and close
/// files on many threads.
///
/// Written here rather than with Foundation's `Process`: its `run()` was seen crashing (a
/// `memcpy` in `Process.run()`, signal 11) under that load, taking the whole test process
/// with it. Thread rules: blocking; call it from a thread of its own, never the cooperative pool.
public enum ChildProcess {
    /// How a child ended.
    public struct Ending: Sendable, Hashable {
        /// The exit status (when it exited).
        public let status: Int32
        /// The signal that ended it (nil when it exited).
        public let signal: Int32?
        /// Whether it was killed for running past its timeout.
        public let timedOut: Bool
    }

    /// A running child.
    public struct Running: Sendable {
        /// Its process id.
        public let pid: pid_t

        /// Sends `signal` (SIGKILL by default).
        public func kill(_ signal: Int32 = SIGKILL) { _ = Glibc.kill(pid, signal) }

        /// Waits for the child to end and reaps it. With `seconds`, a child still running then is
        /// sent SIGKILL (and `timedOut` is set on the ending); without, it waits as long as it takes.
        /// Blocks the calling thread: call it from a plain thread, never from the cooperative pool.
        public func wait(timeout seconds: Double? = nil) -> Ending {
            var waited = 0.0
            var timedOut = false
            while true {
                var status: Int32 = 0
                let result = waitpid(pid, &status, seconds == nil ? 0 : WNOHANG)
                if result == pid { return Self.ending(status, timedOut: timedOut) }
                if result < 0, errno != EINTR { return Ending(status: -1, signal: nil, timedOut: false) }
                if let seconds, result == 0 {
                    if waited >= seconds, !timedOut {
                        timedOut = true
                        kill()
                    }
                    usleep(10_000)
                    waited += 0.01
                }
            }
        }

        /// Without blocking: the child's ending if it has ended (reaping it, so a later `wait`
        /// must not follow), nil while it still runs.
        public func poll() -> Ending? {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return Self.ending(status, timedOut: false) }
            if result < 0, errno != EINTR { return Ending(status: -1, signal: nil, timedOut: false) }
            return nil
        }

        /// Decodes a `waitpid` status (WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import).
        private static func ending(_ status: Int32, timedOut: Bool) -> Ending {
            let signal = status & 0x7f
            return signal == 0 ? Ending(status: (status >> 8) & 0xff, signal: nil, timedOut: timedOut) : Ending(status: -1, signal: signal, timedOut: timedOut)
        }
    }

    /// Starts `executable` (an absolute path, or a name looked up in `PATH`) with `arguments`,
    /// in `directory`, with `environment` (nil: this process's), stdin from /dev/null and
    /// stdout/stderr appended to the files named (nil: /dev/null).
    public static func start(
        _ executable: String, _ arguments: [String], directory: String? = nil, environment: [String: String]? = nil, stdout: String? = nil,
        stderr: String? = nil
    ) throws(ChildProcessError) -> Running {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let directory {
            guard let addChdir = Self.addChdir else { throw ChildProcessError(description: "this C library cannot set a child's directory") }
            _ = addChdir(&actions, directory)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned: Int32
        if let environment {
            let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { for pointer in envp { free(pointer) } }
            spawned = posix_spawnp(&pid, executable, &actions, nil, argv, envp)
        } else {
            spawned = posix_spawnp(&pid, executable, &actions, nil, argv, environ)
        }
        guard spawned == 0 else { throw ChildProcessError(description: "cannot start \(executable): \(String(cString: strerror(spawned)))") }
        return Running(pid: pid)
    }

    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29+), looked up at run time: Swift's
    /// Glibc module imports it only with _GNU_SOURCE.
    private static let addChdir: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32).self)
    }()

    /// `start`, then waits (killing the child after `timeout` seconds).
    public static func run(
        _ executable: String, _ arguments: [String], directory: String? = nil, environment: [String: String]? = nil, stdout: String? = nil,
        stderr: String? = nil, timeout: Double? = nil
    ) throws(ChildProcessError) -> Ending {
        try start(executable, arguments, directory: directory, environment: environment, stdout: stdout, stderr: stderr).wait(timeout: timeout)
    }
}

/// A child that could not be started.
public struct ChildProcessError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let description: String
}
