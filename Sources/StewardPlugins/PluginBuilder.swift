import Foundation
import StewardJSON
import Yams

/// What went wrong reading a plugin manifest or building a plugin.
public struct PluginBuildError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A readable explanation naming the manifest or the command.
    public let description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// A plugin folder's `steward-plugin.yaml`: the one reader of it (the CLI, the tests, the
/// knowledge-base evaluation, the benchmarks and `steward plugins validate` all go through it).
public struct PluginManifest: Sendable, Hashable {
    /// The plugin's name (`support`, `kb`): the name its descriptor must carry.
    public let name: String
    /// The plugin's version: the version its descriptor must carry.
    public let version: String
    /// `c`, `swift` or `rust`.
    public let language: String
    /// The file name of the built library (`libsteward-kb.so`).
    public let library: String
    /// C sources, relative to the plugin folder.
    public let sources: [String]?
    /// For Swift plugins: the SwiftPM dynamic-library product. For Rust plugins: the Cargo
    /// library's name (`cargo build` makes `lib<product>.so` of the crate's `cdylib`).
    public let product: String?
    /// `plugin` (the default: exports stw_plugin_entry) or `library` (plain C functions for ffi states).
    public let kind: String?
    /// Extra system libraries to link (`m` for -lm).
    public let link: [String]?
    /// The steps' examples, by step name (without the plugin's prefix).
    public let steps: [String: StepExamples]
    /// The adapters' examples, by `id@version`.
    public let adapters: [String: AdapterExamples]

    /// What a manifest shows of one step: calls that must succeed, and inputs it must refuse.
    public struct StepExamples: Sendable, Hashable {
        /// Typical calls: each must return `STW_OK` with a JSON output holding `expect` (when given).
        public var examples: [Example]
        /// Inputs the step must refuse with `STW_ERR_INVALID_INPUT`.
        public var invalid: [JSONValue]
    }

    /// What a manifest shows of one adapter: typical calls per task.
    public struct AdapterExamples: Sendable, Hashable {
        /// Typical calls.
        public var examples: [Example]
    }

    /// One example call.
    public struct Example: Sendable, Hashable {
        /// The input.
        public var input: JSONValue
        /// The step's config (steps) or the call parameters (adapters); `{}` when absent.
        public var config: JSONValue
        /// For adapters: the task (`classify`, ...).
        public var task: String?
        /// For adapters: the prompt text.
        public var prompt: String
        /// Members the output must have with these values (a subset match; nil: any output).
        public var expect: JSONValue?
    }

    /// Whether the library holds plain C functions for `ffi` states rather than a plugin.
    public var isForeignLibrary: Bool { kind == "library" }

    static let keys = ["name", "version", "language", "library", "sources", "product", "kind", "link", "steps", "adapters"]

    /// Reads `steward-plugin.yaml` in `folder`.
    /// - Throws: `PluginBuildError` naming the file when it cannot be read, or listing every
    ///   problem as `file:line:column: error: ...`.
    public static func read(folder: URL) throws(PluginBuildError) -> PluginManifest {
        let url = folder.appendingPathComponent("steward-plugin.yaml")
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch { throw PluginBuildError("\(url.path): cannot read the plugin manifest: \(error.localizedDescription)") }
        return try parse(text, file: url.path)
    }

    /// Parses a manifest's text.
    /// - Throws: `PluginBuildError` listing every problem with its location.
    public static func parse(_ text: String, file: String) throws(PluginBuildError) -> PluginManifest {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw PluginBuildError("\(file):1:1: error: the plugin manifest is empty") }
            root = node
        } catch let error as PluginBuildError {
            throw error
        } catch {
            throw PluginBuildError("\(file): error: the plugin manifest is not YAML: \(error)")
        }
        var reader = ManifestReader(file: file)
        let manifest = reader.manifest(root)
        guard reader.problems.isEmpty, let manifest else { throw PluginBuildError(reader.problems.joined(separator: "\n")) }
        return manifest
    }
}

/// Reads a manifest's YAML nodes, collecting every problem with its location.
struct ManifestReader {
    let file: String
    var problems: [String] = []

    mutating func error(_ node: Node?, _ message: String) {
        let mark = node?.mark
        problems.append("\(file):\(mark?.line ?? 1):\(mark?.column ?? 1): error: \(message)")
    }

    mutating func mapping(_ node: Node, _ what: String, allowed: [String]) -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            error(node, "expected a mapping for \(what)")
            return nil
        }
        var entries: [(String, Node, Node)] = []
        for (key, value) in mapping {
            guard let name = key.string else {
                error(key, "expected a text key in \(what)")
                continue
            }
            if !allowed.isEmpty, !allowed.contains(name) {
                let suggestion = ManifestNames.closest(name, allowed).map { " (did you mean '\($0)'?)" } ?? ""
                error(key, "unknown key '\(name)' in \(what)\(suggestion); expected one of: \(allowed.joined(separator: ", "))")
                continue
            }
            entries.append((name, key, value))
        }
        return entries
    }

    mutating func string(_ node: Node?, _ what: String) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            error(node, "expected text for \(what)")
            return nil
        }
        return scalar.string
    }

    mutating func strings(_ node: Node?, _ what: String) -> [String]? {
        guard let node else { return nil }
        guard case .sequence(let items) = node else {
            error(node, "expected a list of text for \(what)")
            return nil
        }
        return items.compactMap { string($0, "an item of \(what)") }
    }

    /// A YAML node as JSON (plain scalars typed as YAML types them; quoted ones stay text).
    func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain { return .string(scalar.string) }
            if node.null != nil { return .null }
            if let flag = node.bool { return .bool(flag) }
            if let integer = node.int { return .integer(Int64(integer)) }
            if let double = node.float, double.isFinite { return .double(double) }
            return .string(scalar.string)
        case .sequence(let items): return .array(items.map { json($0) })
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (key, value) in mapping { members[key.string ?? ""] = json(value) }
            return .object(members)
        default: return .null
        }
    }

    mutating func manifest(_ root: Node) -> PluginManifest? {
        guard let entries = mapping(root, "the plugin manifest", allowed: PluginManifest.keys) else { return nil }
        var values: [String: Node] = [:]
        for entry in entries { values[entry.key] = entry.value }
        func required(_ key: String) -> Node? {
            if values[key] == nil { error(root, "missing '\(key)' in the plugin manifest") }
            return values[key]
        }
        let name = string(required("name"), "'name'")
        let version = string(required("version"), "'version'")
        let language = string(required("language"), "'language'")
        let library = string(required("library"), "'library'")
        let sources = strings(values["sources"], "'sources'")
        let product = string(values["product"], "'product'")
        let kind = string(values["kind"], "'kind'")
        let link = strings(values["link"], "'link'")
        if let name, name.isEmpty || !name.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-" }) {
            error(values["name"], "expected a plugin name of lower-case letters, digits, '_' and '-', found '\(name)'")
        }
        if let version, version.split(separator: ".").count != 3 || !version.split(separator: ".").allSatisfy({ Int($0) != nil }) {
            error(values["version"], "expected a version like 1.2.0 for 'version', found '\(version)'")
        }
        if let language, !["c", "swift", "rust"].contains(language) {
            error(values["language"], "unknown language '\(language)'; expected c, swift or rust")
        }
        if language == "c", sources == nil { error(root, "a C plugin needs 'sources' (its .c files)") }
        if language == "swift", product == nil { error(root, "a Swift plugin needs 'product' (its SwiftPM dynamic-library product)") }
        if language == "rust", product == nil { error(root, "a Rust plugin needs 'product' (its Cargo library name: the build makes lib<product>.so)") }
        if let kind, !["plugin", "library"].contains(kind) { error(values["kind"], "unknown kind '\(kind)'; expected plugin or library") }
        var steps: [String: PluginManifest.StepExamples] = [:]
        if let node = values["steps"], let entries = mapping(node, "'steps'", allowed: []) {
            for entry in entries {
                let what = "step '\(entry.key)'"
                guard let body = mapping(entry.value, what, allowed: ["examples", "invalid"]) else { continue }
                var examples: [PluginManifest.Example] = []
                var invalid: [JSONValue] = []
                for (key, _, value) in body {
                    if key == "examples" { examples = self.examples(value, of: what, adapter: false) }
                    if key == "invalid" {
                        if case .sequence(let items) = value { invalid = items.map { json($0) } } else { error(value, "expected a list of inputs for 'invalid' of \(what)") }
                    }
                }
                steps[entry.key] = PluginManifest.StepExamples(examples: examples, invalid: invalid)
            }
        }
        var adapters: [String: PluginManifest.AdapterExamples] = [:]
        if let node = values["adapters"], let entries = mapping(node, "'adapters'", allowed: []) {
            for entry in entries {
                let what = "adapter '\(entry.key)'"
                if entry.key.split(separator: "@").count != 2 { error(entry.keyNode, "expected 'id@version' for an adapter of the manifest, found '\(entry.key)'") }
                guard let body = mapping(entry.value, what, allowed: ["examples"]) else { continue }
                let examples = body.first { $0.key == "examples" }.map { self.examples($0.value, of: what, adapter: true) } ?? []
                adapters[entry.key] = PluginManifest.AdapterExamples(examples: examples)
            }
        }
        if kind == "library", !steps.isEmpty || !adapters.isEmpty { error(values["steps"] ?? values["adapters"], "a plain C library (kind: library) has no steps or adapters") }
        guard let name, let version, let language, let library else { return nil }
        return PluginManifest(
            name: name, version: version, language: language, library: library, sources: sources, product: product, kind: kind, link: link,
            steps: steps, adapters: adapters)
    }

    mutating func examples(_ node: Node, of what: String, adapter: Bool) -> [PluginManifest.Example] {
        guard case .sequence(let items) = node else {
            error(node, "expected a list of examples for 'examples' of \(what)")
            return []
        }
        let allowed = adapter ? ["task", "input", "parameters", "prompt", "expect"] : ["input", "config", "expect"]
        return items.compactMap { item -> PluginManifest.Example? in
            guard let entries = mapping(item, "an example of \(what)", allowed: allowed) else { return nil }
            var values: [String: Node] = [:]
            for entry in entries { values[entry.key] = entry.value }
            guard let input = values["input"] else {
                error(item, "an example of \(what) needs 'input'")
                return nil
            }
            var task: String?
            if adapter {
                task = string(values["task"], "'task' of an example of \(what)")
                if task == nil, values["task"] == nil { error(item, "an example of \(what) needs 'task' (classify, extract, generate or score)") }
                if let named = task, !["classify", "extract", "generate", "score"].contains(named) {
                    error(values["task"], "unknown task '\(named)'; expected classify, extract, generate or score")
                }
            }
            let expect = values["expect"].map { json($0) }
            if let expect, expect.objectValue == nil { error(values["expect"], "expected a mapping of output members for 'expect' of an example of \(what)") }
            return PluginManifest.Example(
                input: json(input), config: (values[adapter ? "parameters" : "config"]).map { json($0) } ?? .emptyObject, task: task,
                prompt: values["prompt"].flatMap { string($0, "'prompt'") } ?? "", expect: expect)
        }
    }
}

/// Did-you-mean for names in manifests and plugin calls.
// Hand-written: the template parser's rule lives in StewardTemplates, which the plugin host must
// not depend on (the host knows nothing of templates).
public enum ManifestNames {
    /// The candidate within two edits of `word` (the nearest), if one is.
    public static func closest(_ word: String, _ candidates: [String]) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var row = Array(0...b.count)
            for (i, x) in a.enumerated() {
                var previous = row[0]
                row[0] = i + 1
                for (j, y) in b.enumerated() {
                    let current = row[j + 1]
                    row[j + 1] = x == y ? previous : min(previous, row[j], row[j + 1]) + 1
                    previous = current
                }
            }
            return row[b.count]
        }
        return candidates.map { ($0, distance(Array(word), Array($0))) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
    }
}

/// Builds the plugins shipped in a source checkout's `Plugins/` from their manifests: C plugins
/// with the system C compiler against the ABI header (libc plus the manifest's `link`
/// libraries), Swift plugins as SwiftPM dynamic-library products, Rust plugins with Cargo
/// (offline: a plugin crate has no dependencies from outside). `build(folders:)` builds plugin
/// folders kept elsewhere the same way.
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

    /// Builds the plugins in `folders` (each holding a `steward-plugin.yaml`), wherever they
    /// are: a plugin team's own folder or an example under `Plugins/examples`. Returns the
    /// built libraries' paths.
    /// - Throws: `PluginBuildError` when a folder has no manifest, a manifest is wrong or a
    ///   compiler fails.
    public func build(folders: [URL], onlyIfStale: Bool) throws(PluginBuildError) -> [String] {
        var built: [String] = []
        for folder in folders {
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("steward-plugin.yaml").path) else {
                throw PluginBuildError("\(folder.path) has no steward-plugin.yaml: a plugin folder declares its plugin there")
            }
            built.append(try build(try PluginManifest.read(folder: folder), folder: folder, onlyIfStale: onlyIfStale))
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
        case "rust":
            guard let product = manifest.product else { throw PluginBuildError("plugin '\(manifest.name)': a Rust plugin needs 'product'") }
            guard let cargo = Self.cargo else {
                throw PluginBuildError(
                    "plugin '\(manifest.name)' is written in Rust and there is no cargo on PATH or in ~/.cargo/bin: install Debian's cargo (scripts/setup.sh does) or rustup")
            }
            // Cargo's own build directory, kept beside the plugins so a rebuild is incremental
            // and the plugin's folder stays as it is in the checkout.
            let targetDirectory = pluginsDirectory.deletingLastPathComponent().appendingPathComponent("cargo-target/\(manifest.name)")
            try run(cargo, [
                "build", "--release", "--offline", "--quiet", "--manifest-path", folder.appendingPathComponent("Cargo.toml").path,
                "--target-dir", targetDirectory.path,
            ])
            let library = targetDirectory.appendingPathComponent("release/lib\(product).so")
            try? FileManager.default.removeItem(at: target)
            do { try FileManager.default.copyItem(at: library, to: target) } catch {
                throw PluginBuildError("plugin '\(manifest.name)': cargo built no \(library.path): \(error.localizedDescription)")
            }
        default:
            throw PluginBuildError("plugin '\(manifest.name)': unknown language '\(manifest.language)'; expected c, swift or rust")
        }
        return target.path
    }

    /// Cargo: `$CARGO`, else the first on `PATH`, else rustup's `~/.cargo/bin/cargo`.
    static var cargo: String? {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["CARGO"], !explicit.isEmpty { return explicit }
        let candidates = (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/cargo" }
            + [FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cargo/bin/cargo").path]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
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
