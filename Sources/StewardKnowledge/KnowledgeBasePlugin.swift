import Foundation
import Yams

/// Why the knowledge-base plugin could not be built or evaluated.
public struct KnowledgeBaseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, for people.
    public let message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// The `kb` plugin shipped in `Plugins/kb`, built the way `steward plugins build` builds a C
/// plugin (the manifest's sources and `link` libraries, the same compiler flags), plus
/// `-Werror` so that a warning fails the evaluation instead of scrolling past.
public enum KnowledgeBasePlugin {
    /// The fields of `steward-plugin.yaml` a C plugin build needs.
    struct Manifest: Decodable {
        let name: String
        let language: String
        let library: String
        let sources: [String]
        let link: [String]?
    }

    /// Compiles `Plugins/kb` under `packageRoot` into `directory` and returns the library's path.
    public static func build(packageRoot: URL, into directory: URL) throws(KnowledgeBaseError) -> String {
        let folder = packageRoot.appendingPathComponent("Plugins/kb")
        let manifestURL = folder.appendingPathComponent("steward-plugin.yaml")
        let manifest: Manifest
        do {
            manifest = try YAMLDecoder().decode(Manifest.self, from: String(contentsOf: manifestURL, encoding: .utf8))
        } catch {
            throw KnowledgeBaseError("\(manifestURL.path): cannot read the plugin manifest: \(error)")
        }
        guard manifest.language == "c" else {
            throw KnowledgeBaseError("\(manifestURL.path): expected a C plugin, found language '\(manifest.language)'")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw KnowledgeBaseError("cannot create \(directory.path): \(error)")
        }
        let output = directory.appendingPathComponent(manifest.library).path
        let compiler = ProcessInfo.processInfo.environment["CC"] ?? "cc"
        let arguments = [
            "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-fvisibility=hidden",
            "-I", packageRoot.appendingPathComponent("Sources/StewardABI/include").path,
        ] + manifest.sources.map { folder.appendingPathComponent($0).path }
            + (manifest.link ?? []).map { "-l\($0)" } + ["-o", output]
        try run(compiler, arguments)
        return output
    }

    /// Builds into a fresh temporary directory.
    public static func buildInTemporaryDirectory(packageRoot: URL) throws(KnowledgeBaseError) -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("steward-kb-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        return try build(packageRoot: packageRoot, into: directory)
    }

    private static func run(_ tool: String, _ arguments: [String]) throws(KnowledgeBaseError) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            throw KnowledgeBaseError("cannot run \(tool): \(error)")
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw KnowledgeBaseError(
                "\(tool) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus):\n"
                    + String(decoding: output, as: UTF8.self))
        }
    }
}
