import Foundation
import StewardABI
import StewardTesting

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which copy of `steward_abi.h` a fixture is compiled against.
enum ABIHeader: String, Sendable, CaseIterable, CustomStringConvertible {
    /// `Sources/StewardABI/include/steward_abi.h`, as it is today.
    case current
    /// `Fixtures/abi-1.0/steward_abi.h`, frozen when ABI 1.0 shipped.
    case frozen10 = "abi-1.0"
    /// `Fixtures/abi-1.1/steward_abi.h`, frozen when ABI 1.1 shipped (the call key).
    case frozen11 = "abi-1.1"

    /// The directory to pass to `-I`.
    var directory: URL {
        switch self {
        case .current: return FixtureBuilder.packageRoot.appendingPathComponent("Sources/StewardABI/include")
        case .frozen10, .frozen11: return FixtureBuilder.fixtures.appendingPathComponent(rawValue)
        }
    }

    /// The minor version the copy declares (`STW_ABI_VERSION_MINOR`).
    var minor: Int {
        switch self {
        case .current: return Int(STW_ABI_VERSION_MINOR)
        case .frozen10: return 0
        case .frozen11: return 1
        }
    }

    var description: String { rawValue }
}

/// A compiler or fixture program that failed; carries its command line and output.
struct ToolFailure: Error, CustomStringConvertible {
    let command: [String]
    let status: Int32
    let output: String

    var description: String { "\(command.joined(separator: " ")) exited with \(status):\n\(output)" }
}

/// Compiles the C fixtures with the system compiler, at test time, into one temporary
/// directory per test run. Each distinct build happens once per run, however many tests ask.
enum FixtureBuilder {
    /// `Tests/StewardPluginsTests/Fixtures`.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// The package root (holds `Package.swift`).
    static let packageRoot = fixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Where builds go; removed when the test process exits.
    static let outputDirectory: URL = {
        var template = Array((FileManager.default.temporaryDirectory.path + "/steward-plugin-tests-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed: errno \(errno)") }
        let url = URL(fileURLWithPath: String(cString: made), isDirectory: true)
        atexit { try? FileManager.default.removeItem(at: FixtureBuilder.outputDirectory) }
        return url
    }()

    private static let cache = BuildCache()

    /// Builds `source` (a file name in Fixtures/, or an absolute URL) as a plugin shared
    /// library: `cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden -I <header dir>`.
    static func plugin(_ source: String, defines: [String] = [], against header: ABIHeader = .current, extraFlags: [String] = []) async throws -> String {
        try await plugin(at: fixtures.appendingPathComponent(source), defines: defines, against: header, extraFlags: extraFlags)
    }

    /// As `plugin(_:defines:against:)`, for a source anywhere.
    static func plugin(at source: URL, defines: [String] = [], against header: ABIHeader = .current, extraFlags: [String] = []) async throws -> String {
        let output = outputDirectory.appendingPathComponent("lib" + buildName(source, defines, header) + ".so").path
        return try await cache.build(output) {
            _ = try await run("cc", ["-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-fvisibility=hidden"]
                + extraFlags + ["-I", header.directory.path] + defines.map { "-D" + $0 } + [source.path, "-o", output])
            return output
        }
    }

    /// Builds a fixture as an executable and runs it, returning its standard output.
    static func runProgram(_ source: String, against header: ABIHeader) async throws -> String {
        let sourceURL = fixtures.appendingPathComponent(source)
        let output = outputDirectory.appendingPathComponent(buildName(sourceURL, [], header)).path
        let program = try await cache.build(output) {
            _ = try await run("cc", ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", header.directory.path, sourceURL.path, "-o", output])
            return output
        }
        return try await run(program, [])
    }

    /// `lib<product>.so`, a SwiftPM dynamic-library product of this package, when the build that
    /// produced this test bundle also produced it (`swift build --build-tests` and `swift test` do).
    static func product(_ name: String) -> String? {
        let candidates = [
            Bundle.main.executableURL?.deletingLastPathComponent(),
            Bundle.main.bundleURL,
            Bundle.main.bundleURL.deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        ]
        return candidates.compactMap { $0?.appendingPathComponent("lib\(name).so").path }
            .first { FileManager.default.fileExists(atPath: $0) }
    }

    /// Copies a fixture file under a new name into the output directory (e.g. a text file named `.so`).
    static func copy(_ source: String, as name: String) throws -> String {
        let target = outputDirectory.appendingPathComponent(name)
        if !FileManager.default.fileExists(atPath: target.path) {
            // Tests asking at once each copy to a name of their own and rename it into place
            // (atomic): the last rename wins with the same bytes, and nobody sees a half copy.
            let temporary = outputDirectory.appendingPathComponent(name + ".\(UUID().uuidString).tmp")
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent(source), to: temporary)
            guard rename(temporary.path, target.path) == 0 else { throw ToolFailure(command: ["rename", temporary.path, target.path], status: errno, output: "") }
        }
        return target.path
    }

    private static func buildName(_ source: URL, _ defines: [String], _ header: ABIHeader) -> String {
        let parts = [source.deletingPathExtension().lastPathComponent] + defines + [header.rawValue]
        return String(parts.joined(separator: "-").map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }

    /// Runs `tool` (looked up on PATH unless it is a path) and returns its standard output;
    /// throws `ToolFailure` with both outputs when it exits non-zero. Waits without blocking a thread.
    static func run(_ tool: String, _ arguments: [String]) async throws -> String {
        let stdoutFile = outputDirectory.appendingPathComponent(UUID().uuidString + ".out")
        let stderrFile = outputDirectory.appendingPathComponent(UUID().uuidString + ".err")
        _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: stdoutFile)
            try? FileManager.default.removeItem(at: stderrFile)
        }
        // posix_spawn (ChildProcess), not Foundation's Process: see ChildProcess. Waited for on a
        // thread of its own, never on the cooperative pool.
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    let ending = try ChildProcess.run(tool, arguments, stdout: stdoutFile.path, stderr: stderrFile.path)
                    return ending.signal.map { 128 + $0 } ?? ending.status
                })
            }.start()
        }
        let standardOutput = (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? ""
        guard status == 0 else {
            let standardError = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
            throw ToolFailure(command: [tool] + arguments, status: status, output: standardOutput + standardError)
        }
        return standardOutput
    }
}

/// One build per output path per test run; concurrent requests for the same output share it.
private actor BuildCache {
    private var builds: [String: Task<String, any Error>] = [:]

    func build(_ output: String, _ make: @escaping @Sendable () async throws -> String) async throws -> String {
        if let existing = builds[output] { return try await existing.value }
        let task = Task { try await make() }
        builds[output] = task
        return try await task.value
    }
}
