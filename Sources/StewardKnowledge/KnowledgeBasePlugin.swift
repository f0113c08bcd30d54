import Foundation
import StewardPlugins

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

/// The `kb` plugin shipped in `Plugins/kb`, built by the same `PluginBuilder` that
/// `steward plugins build` uses (the manifest's sources and `link` libraries, the same compiler
/// flags), plus `-Werror` so that a warning fails the evaluation instead of scrolling past.
public enum KnowledgeBasePlugin {
    /// Compiles `Plugins/kb` under `packageRoot` into `directory` and returns the library's path.
    public static func build(packageRoot: URL, into directory: URL) throws(KnowledgeBaseError) -> String {
        let folder = packageRoot.appendingPathComponent("Plugins/kb")
        do throws(PluginBuildError) {
            let manifest = try PluginManifest.read(folder: folder)
            guard manifest.language == "c" else {
                throw PluginBuildError("\(folder.path): expected a C plugin, found language '\(manifest.language)'")
            }
            let builder = PluginBuilder(
                root: packageRoot, pluginsDirectory: directory, librariesDirectory: directory, extraCFlags: ["-Werror"], log: { _ in })
            return try builder.build(manifest, folder: folder, onlyIfStale: false)
        } catch {
            throw KnowledgeBaseError(error.description)
        }
    }

    /// Builds into a fresh temporary directory.
    public static func buildInTemporaryDirectory(packageRoot: URL) throws(KnowledgeBaseError) -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("steward-kb-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        return try build(packageRoot: packageRoot, into: directory)
    }
}
