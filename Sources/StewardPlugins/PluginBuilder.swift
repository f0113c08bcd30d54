import Foundation
import Yams

/// What went wrong reading a plugin manifest or building a plugin.
public struct PluginBuildError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A readable explanation naming the manifest or the command.
    public let description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// A plugin folder's `steward-plugin.yaml`: the one reader of it (the CLI, the tests, the
/// knowledge-base evaluation and the benchmarks all go through `PluginBuilder`).
public struct PluginManifest: Decodable, Sendable, Hashable {
    /// The plugin's name (`support`, `kb`).
    public let name: String
    /// `c` or `swift`.
    public let language: String
    /// The file name of the built library (`libsteward-kb.so`).
    public let library: String
    /// C sources, relative to the plugin folder.
    public let sources: [String]?
    /// For Swift plugins: the SwiftPM dynamic-library product.
    public let product: String?
    /// `plugin` (the default: exports stw_plugin_entry) or `library` (plain C functions for ffi states).
    public let kind: String?
    /// Extra system libraries to link (`m` for -lm).
    public let link: [String]?

    /// Whether the library holds plain C functions for `ffi` states rather than a plugin.
    public var isForeignLibrary: Bool { kind == "library" }

    /// Reads `steward-plugin.yaml` in `folder`.
    /// - Throws: `PluginBuildError` naming the file when it cannot be read or decoded.
    public static func read(folder: URL) throws(PluginBuildError) -> PluginManifest {
        let url = folder.appendingPathComponent("steward-plugin.yaml")
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch { throw PluginBuildError("\(url.path): cannot read the plugin manifest: \(error.localizedDescription)") }
        do {
            return try YAMLDecoder().decode(PluginManifest.self, from: text)
        } catch {
            throw PluginBuildError("\(url.path): invalid plugin manifest: \(error)")
        }
    }
}

/// Builds the plugins shipped in a source checkout's `Plugins/` from their manifests: C plugins
/// with the system C compiler against the ABI header (libc plus the manifest's `link`
/// libraries), Swift plugins as SwiftPM dynamic-library products.
///
/// Thread rules: not thread-safe; it runs compilers as child processes and blocks until they
/// finish, so call it at start-up, never from the cooperative pool while serving.
public struct PluginBuilder: Sendable {
    /// The source checkout (it has `Plugins/` and `Sources/StewardABI/include`).
    public let root: URL
    /// Where plugin libraries go.
    public let pluginsDirectory: URL
    /// Where plain C libraries for `ffi` states go.
    public let librariesDirectory: URL
    /// Directories searched first for Swift plugin products already built with this toolchain
    /// (beside the running executable or test bundle), so no nested `swift build` is needed.
    public let productDirectories: [URL]
    /// Extra C compiler flags (the knowledge-base evaluation adds `-Werror`).
    public let extraCFlags: [String]
    /// Where progress lines go.
    public let log: @Sendable (String) -> Void

    /// Creates a builder.
    public init(
        root: URL, pluginsDirectory: URL, librariesDirectory: URL, productDirectories: [URL] = PluginBuilder.defaultProductDirectories,
        extraCFlags: [String] = [], log: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    ) {
        self.root = root
        self.pluginsDirectory = pluginsDirectory
        self.librariesDirectory = librariesDirectory
        self.productDirectories = productDirectories
        self.extraCFlags = extraCFlags
        self.log = log
    }

    /// The directory of the running executable, and of the first command-line argument (the
    /// test bundle under `swift test`).
    public static var defaultProductDirectories: [URL] {
        var directories: [URL] = []
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() { directories.append(executable.deletingLastPathComponent()) }
        if let first = CommandLine.arguments.first {
            directories.append(URL(fileURLWithPath: first).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        return directories
    }

    /// Builds every shipped plugin of the checkout at `root` into `directory` (`plugins/` and
    /// `lib/` under it), Swift ones copied from the products beside this process: what tests
    /// and tools that run outside a workspace need. Returns the two directories.
    public static func buildShipped(root: URL, into directory: URL) throws(PluginBuildError) -> (plugins: URL, libraries: URL) {
        let plugins = directory.appendingPathComponent("plugins"), libraries = directory.appendingPathComponent("lib")
        let builder = PluginBuilder(
            root: root, pluginsDirectory: plugins, librariesDirectory: libraries,
            productDirectories: [Bundle.main.bundleURL] + defaultProductDirectories, log: { _ in })
        try builder.buildAll(onlyIfStale: false)
        return (plugins, libraries)
    }

    /// The manifests of the shipped plugins, with their folders, in folder-name order.
    public func manifests() throws(PluginBuildError) -> [(folder: URL, manifest: PluginManifest)] {
        let pluginsRoot = root.appendingPathComponent("Plugins")
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: pluginsRoot.path))?.sorted() ?? []
        var found: [(folder: URL, manifest: PluginManifest)] = []
        for name in folders {
            let folder = pluginsRoot.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("steward-plugin.yaml").path) else { continue }
            found.append((folder, try PluginManifest.read(folder: folder)))
        }
        return found
    }

    /// Builds every shipped plugin (only the stale ones when `onlyIfStale`), or only those
    /// named in `only`. Returns the built libraries' paths.
    /// - Throws: `PluginBuildError` when a manifest is wrong or a compiler fails.
    @discardableResult
    public func buildAll(onlyIfStale: Bool, only: Set<String>? = nil) throws(PluginBuildError) -> [String] {
        do {
            try FileManager.default.createDirectory(at: pluginsDirectory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: librariesDirectory, withIntermediateDirectories: true)
        } catch {
            throw PluginBuildError("cannot create \(pluginsDirectory.path): \(error.localizedDescription)")
        }
        var built: [String] = []
        for (folder, manifest) in try manifests() where only?.contains(manifest.name) ?? true {
            built.append(try build(manifest, folder: folder, onlyIfStale: onlyIfStale))
        }
        return built
    }

    /// Builds one plugin from its manifest; returns the library's path.
    public func build(_ manifest: PluginManifest, folder: URL, onlyIfStale: Bool) throws(PluginBuildError) -> String {
        let output = manifest.isForeignLibrary ? librariesDirectory : pluginsDirectory
        let target = output.appendingPathComponent(manifest.library)
        do { try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true) } catch {
            throw PluginBuildError("cannot create \(output.path): \(error.localizedDescription)")
        }
        if onlyIfStale, !isStale(target: target, sources: folder) { return target.path }
        log("steward: building plugin '\(manifest.name)' (\(manifest.language))")
        switch manifest.language {
        case "c":
            let sources = (manifest.sources ?? []).map { folder.appendingPathComponent($0).path }
            guard !sources.isEmpty else { throw PluginBuildError("plugin '\(manifest.name)': a C plugin needs 'sources'") }
            let compiler = ProcessInfo.processInfo.environment["CC"] ?? "cc"
            try run(
                compiler,
                ["-std=c11", "-O2", "-Wall", "-Wextra"] + extraCFlags + [
                    "-shared", "-fPIC", "-fvisibility=hidden", "-I", root.appendingPathComponent("Sources/StewardABI/include").path,
                ] + sources + ["-o", target.path] + (manifest.link ?? []).map { "-l" + $0 })
        case "swift":
            guard let product = manifest.product else { throw PluginBuildError("plugin '\(manifest.name)': a Swift plugin needs 'product'") }
            let library: URL
            if let prebuilt = prebuiltProduct(named: "lib\(product).so", sources: folder) {
                library = prebuilt
            } else {
                let binPath = try capture("swift", ["build", "--product", product, "--show-bin-path"])
                try run("swift", ["build", "--product", product])
                library = URL(fileURLWithPath: binPath.trimmingCharacters(in: .whitespacesAndNewlines)).appendingPathComponent("lib\(product).so")
            }
            try? FileManager.default.removeItem(at: target)
            do { try FileManager.default.copyItem(at: library, to: target) } catch {
                throw PluginBuildError("plugin '\(manifest.name)': cannot copy \(library.path): \(error.localizedDescription)")
            }
        default:
            throw PluginBuildError("plugin '\(manifest.name)': unknown language '\(manifest.language)'; expected c or swift")
        }
        return target.path
    }

    /// A Swift plugin library SwiftPM already built with this toolchain (beside the running
    /// executable or test bundle) that is newer than the plugin's sources. Using it avoids a
    /// nested `swift build`, which would wait forever on the build directory's lock while the
    /// `swift test` or `swift build` that launched this process holds it.
    func prebuiltProduct(named name: String, sources: URL) -> URL? {
        for directory in productDirectories {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: candidate.path), !isStale(target: candidate, sources: sources) { return candidate }
        }
        return nil
    }

    /// Whether `target` is missing or older than any file in `sources` (or the ABI header).
    public func isStale(target: URL, sources: URL) -> Bool {
        guard let built = modificationDate(target) else { return true }
        let header = root.appendingPathComponent("Sources/StewardABI/include/steward_abi.h")
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

    func run(_ tool: String, _ arguments: [String]) throws(PluginBuildError) {
        let (status, errors) = launch(tool, arguments, captureOutput: false)
        guard status == 0 else {
            throw PluginBuildError("building a plugin failed: \(tool) \(arguments.joined(separator: " ")) exited with \(status)\(errors.isEmpty ? "" : ": " + errors)")
        }
    }

    func capture(_ tool: String, _ arguments: [String]) throws(PluginBuildError) -> String {
        let (status, output) = launch(tool, arguments, captureOutput: true)
        guard status == 0 else { throw PluginBuildError("\(tool) \(arguments.joined(separator: " ")) failed with \(status)") }
        return output
    }

    /// Runs a tool; returns its exit status and either its standard output (`captureOutput`)
    /// or its standard error.
    private func launch(_ tool: String, _ arguments: [String], captureOutput: Bool) -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        process.currentDirectoryURL = root
        let pipe = Pipe()
        if captureOutput { process.standardOutput = pipe } else {
            process.standardOutput = FileHandle.standardError
            process.standardError = pipe
        }
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
