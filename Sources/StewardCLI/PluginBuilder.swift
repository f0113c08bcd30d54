import Foundation
import Yams

/// Builds the plugins shipped in `Plugins/` into `.steward/plugins/`.
///
/// Each plugin folder has a `steward-plugin.yaml`: C plugins are compiled with the system C
/// compiler against the ABI header (they depend on libc, plus the system libraries listed
/// under `link`, e.g. `link: [m]` for `-lm`); Swift plugins are SwiftPM dynamic-library
/// products built with `swift build --product`.
struct PluginBuilder {
    let workspace: Workspace

    struct Manifest: Decodable {
        let name: String
        let language: String
        let library: String
        let sources: [String]?
        let product: String?
        /// `plugin` (the default: exports stw_plugin_entry) or `library` (plain C functions for ffi states).
        let kind: String?
        /// Extra libraries to link (`m` for -lm).
        let link: [String]?
    }

    /// The manifests of the shipped plugins, with their folders.
    func manifests() throws -> [(folder: URL, manifest: Manifest)] {
        let pluginsRoot = workspace.root.appendingPathComponent("Plugins")
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: pluginsRoot.path))?.sorted() ?? []
        return try folders.compactMap { name in
            let folder = pluginsRoot.appendingPathComponent(name)
            let manifestURL = folder.appendingPathComponent("steward-plugin.yaml")
            guard let text = try? String(contentsOf: manifestURL, encoding: .utf8) else { return nil }
            do {
                return (folder, try YAMLDecoder().decode(Manifest.self, from: text))
            } catch {
                throw CLIError("\(manifestURL.path): invalid plugin manifest: \(error)")
            }
        }
    }

    /// Builds every shipped plugin (only the stale ones when `onlyIfStale`). Returns the built paths.
    @discardableResult
    func buildAll(onlyIfStale: Bool, log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) throws -> [String] {
        try FileManager.default.createDirectory(at: workspace.builtPluginsDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: workspace.builtLibrariesDirectory, withIntermediateDirectories: true)
        var built: [String] = []
        for (folder, manifest) in try manifests() {
            let output = manifest.kind == "library" ? workspace.builtLibrariesDirectory : workspace.builtPluginsDirectory
            let target = output.appendingPathComponent(manifest.library)
            if onlyIfStale, !isStale(target: target, sources: folder) {
                built.append(target.path)
                continue
            }
            log("steward: building plugin '\(manifest.name)' (\(manifest.language))")
            switch manifest.language {
            case "c":
                let sources = (manifest.sources ?? []).map { folder.appendingPathComponent($0).path }
                guard !sources.isEmpty else { throw CLIError("plugin '\(manifest.name)': a C plugin needs 'sources'") }
                let compiler = ProcessInfo.processInfo.environment["CC"] ?? "cc"
                try run(compiler, [
                    "-std=c11", "-O2", "-Wall", "-Wextra", "-shared", "-fPIC", "-fvisibility=hidden",
                    "-I", workspace.root.appendingPathComponent("Sources/StewardABI/include").path,
                ] + sources + ["-o", target.path] + (manifest.link ?? []).map { "-l" + $0 })
            case "swift":
                guard let product = manifest.product else { throw CLIError("plugin '\(manifest.name)': a Swift plugin needs 'product'") }
                let library: URL
                if let sibling = siblingLibrary(named: "lib\(product).so", sources: folder) {
                    log("steward: using \(sibling.path), built with this steward")
                    library = sibling
                } else {
                    let binPath = try capture("swift", ["build", "--product", product, "--show-bin-path"])
                    try run("swift", ["build", "--product", product])
                    library = URL(fileURLWithPath: binPath.trimmingCharacters(in: .whitespacesAndNewlines))
                        .appendingPathComponent("lib\(product).so")
                }
                try? FileManager.default.removeItem(at: target)
                try FileManager.default.copyItem(at: library, to: target)
            default:
                throw CLIError("plugin '\(manifest.name)': unknown language '\(manifest.language)'; expected c or swift")
            }
            built.append(target.path)
        }
        return built
    }

    /// The Swift plugin library SwiftPM built next to the running `steward` (same build, so same
    /// toolchain), when it is newer than the plugin's sources. Using it avoids a nested
    /// `swift build`, which waits forever on the build directory's lock while `swift test` (or
    /// another `swift build`) that launched this steward holds it.
    func siblingLibrary(named name: String, sources: URL) -> URL? {
        guard let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() else { return nil }
        let candidate = executable.deletingLastPathComponent().appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: candidate.path), !isStale(target: candidate, sources: sources) else {
            return nil
        }
        return candidate
    }

    /// Whether `target` is missing or older than any file in `sources` (or the ABI header).
    func isStale(target: URL, sources: URL) -> Bool {
        guard let built = modificationDate(target) else { return true }
        let header = workspace.root.appendingPathComponent("Sources/StewardABI/include/steward_abi.h")
        if let date = modificationDate(header), date > built { return true }
        let enumerator = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: [.contentModificationDateKey])
        while let file = enumerator?.nextObject() as? URL {
            if let date = modificationDate(file), date > built { return true }
        }
        return false
    }

    func modificationDate(_ url: URL) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date
    }

    func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        process.currentDirectoryURL = workspace.root
        process.standardOutput = FileHandle.standardError
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CLIError("building a plugin failed: \(tool) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
    }

    func capture(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        process.currentDirectoryURL = workspace.root
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CLIError("\(tool) \(arguments.joined(separator: " ")) failed") }
        return String(decoding: data, as: UTF8.self)
    }
}
