#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// A real PostgreSQL server for tests and benchmarks: Debian's `postgresql` binaries,
/// `initdb` into a new temporary folder, `pg_ctl start` on a free loopback port with trust
/// authentication for one superuser (`steward`), and torn down when the process that started
/// it exits, however it exits (a watchdog shell stops the server and removes the folder once
/// that process is gone).
///
/// One server per process (`shared()`); each test makes its own database in it
/// (`makeDatabase()`). PostgreSQL refuses to run as root: as root the server runs as the
/// `postgres` system user the Debian package creates.
///
/// Thread rules: `shared()` blocks while the server starts (a few seconds, once); call it from a
/// thread that may block — the tests call it from a detached thread through `start()`.
public final class PostgresServer: Sendable {
    /// The loopback port it listens on.
    public let port: Int
    /// The superuser the tests connect as (trust authentication: no password).
    public let user = "steward"
    /// The folder holding the cluster and its log.
    public let directory: String
    /// The folder of `psql`, `createdb`, `pg_ctl` (Debian's version folder, or where `PATH` found `initdb`).
    public let binaries: String

    /// Why a server could not start: what was run and what it printed.
    public struct StartFailure: Error, CustomStringConvertible, Sendable {
        /// What went wrong.
        public let description: String
    }

    /// The process's server once started (or why it did not), behind a lock held while it starts.
    private static let started = Mutex<Result<PostgresServer, StartFailure>?>(nil)

    /// The process's server, started on first use.
    /// - Throws: `StartFailure` when the binaries are missing (`scripts/setup.sh` installs
    ///   them) or the server does not start; every later call throws the same failure.
    public static func shared() throws(StartFailure) -> PostgresServer {
        try started.withLock { started throws(StartFailure) in
            if let started { return try started.get() }
            let result: Result<PostgresServer, StartFailure>
            do throws(StartFailure) { result = .success(try PostgresServer()) } catch { result = .failure(error) }
            started = result
            return try result.get()
        }
    }

    /// `shared()` from a plain thread, for async tests (it blocks while the server starts).
    public static func start() async throws -> PostgresServer {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do { continuation.resume(returning: try shared()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    /// The folder of the server binaries: `$STEWARD_PG_BIN`, the newest `/usr/lib/postgresql/N/bin`,
    /// or the folder of `initdb` on `PATH`; nil when there is none.
    public static func binaryFolder() -> String? {
        let files = FileManager.default
        if let given = ProcessInfo.processInfo.environment["STEWARD_PG_BIN"], files.isExecutableFile(atPath: given + "/initdb") { return given }
        let root = "/usr/lib/postgresql"
        let versions = ((try? files.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        if let newest = versions.last.map({ "\(root)/\($0)/bin" }), files.isExecutableFile(atPath: newest + "/initdb") { return newest }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where files.isExecutableFile(atPath: "\(folder)/initdb") {
            return String(folder)
        }
        return nil
    }

    private init() throws(StartFailure) {
        guard let binaries = Self.binaryFolder() else {
            throw StartFailure(description: "no PostgreSQL server binaries (initdb, pg_ctl): run scripts/setup.sh, which installs Debian's postgresql")
        }
        self.binaries = binaries
        var template = Array("/tmp/steward-pg-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw StartFailure(description: "cannot make a temporary folder: \(String(cString: strerror(errno)))") }
        directory = String(cString: made)
        let asRoot = getuid() == 0
        if asRoot {
            // PostgreSQL will not run as root; the Debian package's system user owns the cluster.
            guard let account = getpwnam("postgres") else {
                throw StartFailure(description: "running as root and there is no postgres user to run the server as (install Debian's postgresql)")
            }
            chown(directory, account.pointee.pw_uid, account.pointee.pw_gid)
        }
        guard let (socket, port) = Loopback.claim(listening: false) else { throw StartFailure(description: "no free loopback port") }
        close(socket)
        self.port = port
        let data = directory + "/data"
        let log = directory + "/server.log"
        func run(_ tool: String, _ arguments: [String]) throws(StartFailure) {
            let command = asRoot ? ["runuser", "-u", "postgres", "--", "\(binaries)/\(tool)"] + arguments : ["\(binaries)/\(tool)"] + arguments
            let output = directory + "/\(tool).out"
            let ending: ChildProcess.Ending
            do {
                ending = try ChildProcess.run(command[0], Array(command.dropFirst()), directory: directory, stdout: output, stderr: output, timeout: 120)
            } catch {
                throw StartFailure(description: "cannot run \(tool): \(error)")
            }
            guard ending.status == 0, ending.signal == nil else {
                let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                throw StartFailure(description: "\(tool) failed (status \(ending.status)): \(printed.suffix(2_000))")
            }
        }
        try run("initdb", ["-D", data, "-U", user, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        // Durable like production (fsync on), sized for a test machine; the socket in the
        // cluster's own folder, TCP on loopback only.
        let settings = [
            "-p \(port)", "-k \(directory)", "-c listen_addresses=127.0.0.1", "-c max_connections=300", "-c shared_buffers=64MB",
            "-c fsync=on", "-c synchronous_commit=on", "-c log_min_messages=warning",
        ].joined(separator: " ")
        try run("pg_ctl", ["-D", data, "-l", log, "-o", settings, "-w", "-t", "60", "start"])
        // The watchdog: once this process is gone, stop the server and remove its folder.
        let stop = asRoot ? "runuser -u postgres -- '\(binaries)/pg_ctl'" : "'\(binaries)/pg_ctl'"
        let script = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(stop) -D '\(data)' -m immediate stop >/dev/null 2>&1; rm -rf '\(directory)'"
        do {
            _ = try ChildProcess.start("/bin/sh", ["-c", script])
        } catch {
            throw StartFailure(description: "cannot start the server's watchdog: \(error)")
        }
    }

    /// A `postgres://` URL for `database` on this server.
    public func url(database: String) -> String { "postgres://\(user)@127.0.0.1:\(port)/\(database)" }

    /// Creates a new, empty database with a unique name.
    /// - Returns: Its name.
    /// - Throws: `StartFailure` when `createdb` fails. Blocks: call it off the cooperative pool
    ///   (or through `makeDatabase()`).
    public func createDatabase(prefix: String = "test") throws(StartFailure) -> String {
        let name = "\(prefix)_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))"
        let output = directory + "/createdb-\(name).out"
        let ending: ChildProcess.Ending
        do {
            ending = try ChildProcess.run(
                "\(binaries)/createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", user, name], stdout: output, stderr: output, timeout: 60)
        } catch {
            throw StartFailure(description: "cannot run createdb: \(error)")
        }
        guard ending.status == 0, ending.signal == nil else {
            throw StartFailure(description: "createdb \(name) failed: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
        }
        try? FileManager.default.removeItem(atPath: output)
        return name
    }

    /// `createDatabase` from a plain thread.
    /// - Returns: The new database's `postgres://` URL.
    public func makeDatabase(prefix: String = "test") async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do { continuation.resume(returning: self.url(database: try self.createDatabase(prefix: prefix))) } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
