import GRDB
import StewardJSON

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How long one durable SQLite commit takes on this disk right now (WAL, synchronous=FULL,
/// one single-row transaction at a time). Every engine here is bounded by it when it commits
/// one transaction per step, so the report prints it next to the figures.
struct FsyncProbe {
    let database: String
    let commits: Int

    func run() throws -> JSONValue {
        for suffix in ["", "-wal", "-shm"] { unlink(database + suffix) }
        defer { for suffix in ["", "-wal", "-shm"] { unlink(database + suffix) } }
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let queue = try DatabaseQueue(path: database, configuration: configuration)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "CREATE TABLE probe (id INTEGER PRIMARY KEY, payload TEXT)")
        }
        var times: [Double] = []
        for index in 0..<commits {
            let start = nowNanoseconds()
            try queue.write { db in try db.execute(sql: "INSERT INTO probe (payload) VALUES (?)", arguments: ["commit \(index)"]) }
            times.append(Double(nowNanoseconds() - start) / 1e6)
        }
        let sorted = times.sorted()
        return ["commits": .int(commits), "commit_ms_p50": .number(percentile(sorted, 50), places: 3), "commit_ms_p99": .number(percentile(sorted, 99), places: 3)]
    }
}
