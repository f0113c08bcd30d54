import ArgumentParser
import Foundation
import StewardBootstrap
import StewardEngine

/// `steward store copy`: moving a workspace's store to another backend.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Move a store to another backend.", subcommands: [Copy.self])

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy every row of a store into an empty one (SQLite to PostgreSQL), then verify the hash chain on arrival.",
            discussion: """
                Stop every engine writing to the source first. The target must be empty (its schema is created when missing); \
                a target holding anything is refused and left as it was. The copy is verified on arrival: the target's journal \
                must verify (hash chain, reviewer and task tables) and its head must equal the source's. Exit status 0 when it \
                verifies, 1 when it does not, 3 when a store cannot be opened.
                """)
        @Option(help: "The store to copy (sqlite:PATH).") var from: String
        @Option(help: "The empty store to fill (postgres://user@host:port/database).") var to: String
        @Option(help: "Rows per batch.") var chunk = 1_000

        func run() async throws {
            let source = try StoreLocation(from)
            let target = try StoreLocation(to)
            guard source != target else { throw CLIError("--from and --to name the same store") }
            if case .sqlite(let path) = source, !FileManager.default.fileExists(atPath: path) {
                throw CLIError("there is no SQLite store at \(path)")
            }
            let sourceStore = try await source.open()
            let targetStore = try await target.open()
            printError("copying \(source) to \(target)")
            let report: StoreCopier.Report
            do {
                report = try await StoreCopier.copy(from: sourceStore, to: targetStore, chunk: max(1, chunk))
            } catch let error as StoreCopyError {
                throw CLIError(error.description)
            }
            for table in report.rows { print("\(table.name)  \(table.rows)") }
            print("verified: \(report.verifiedRows) journal rows, head row \(report.head.lastID) \(report.head.lastHash), "
                + "\(report.head.reviewers) reviewers, \(report.head.tasks) tasks (the same as the source's)")
        }
    }
}
