import StewardJSON

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Cold start: wall time from spawning `steward run workflows/support-ticket-triage.yaml
/// --input ticket-1.json` (a P4 ticket that runs to completion without a checkpoint) to the
/// process having exited, with every shipped template, overlay and plugin loaded and a fresh
/// database created and migrated. Run from the repository root, like a user would.
struct ColdStartBenchmark {
    let steward: String
    let root: String
    let plugins: String
    let runs: Int
    let scratch: String

    func run() throws -> JSONValue {
        guard chdir(root) == 0 else { throw BenchError("cannot chdir to \(root)") }
        var times: [Double] = []
        for run in 0...runs {  // run 0 warms the page cache and is not counted
            let database = "\(scratch)/cold-\(run).db"
            for suffix in ["", "-wal", "-shm"] { unlink(database + suffix) }
            let output = "\(scratch)/cold-\(run).out"
            let arguments = [
                steward, "run", "workflows/support-ticket-triage.yaml", "--input", "workflows/examples/ticket-1.json",
                "--plugins", plugins, "--db", database, "--quiet",
            ]
            let start = nowNanoseconds()
            let status = try spawnAndWait(arguments, stdout: output)
            let seconds = secondsSince(start)
            let printed = (try? readTextFile(output)) ?? ""
            guard status == 0, printed.contains("completed") else {
                throw BenchError("steward run exited \(status) and printed: \(printed.prefix(400))")
            }
            if run > 0 { times.append(seconds * 1000) }
        }
        let sorted = times.sorted()
        return [
            "runs": .int(runs), "median_ms": .number(percentile(sorted, 50), places: 1),
            "min_ms": .number(sorted.first ?? .nan, places: 1), "max_ms": .number(sorted.last ?? .nan, places: 1),
            "command": .string("steward run workflows/support-ticket-triage.yaml --input workflows/examples/ticket-1.json --plugins <built plugins> --db <fresh file> --quiet"),
        ]
    }

    func spawnAndWait(_ arguments: [String], stdout: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stdout + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
        guard spawned == 0 else { throw BenchError("posix_spawn \(arguments[0]) failed: \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw BenchError("waitpid failed: \(errno)") }
        }
        // WIFEXITED / WEXITSTATUS are macros Swift does not import.
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
    }
}

/// The contents of a text file.
func readTextFile(_ path: String) throws -> String {
    guard let file = fopen(path, "r") else { throw BenchError("cannot open \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let read = fread(&buffer, 1, buffer.count, file)
        if read <= 0 { break }
        bytes += buffer[0..<read]
    }
    return String(decoding: bytes, as: UTF8.self)
}
