import Foundation
import StewardBootstrap
import StewardCore
import StewardEngine
import StewardJSON
import StewardTesting

/// A workspace in a temp directory: templates under `workflows/`, the `slow` fixture plugin
/// compiled with the system C compiler, and a SQLite database, assembled by `EngineAssembly`
/// exactly as `steward` assembles its engine.
struct TestWorkspace {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    let root: URL
    var workflows: URL { root.appendingPathComponent("workflows") }
    var plugins: URL { root.appendingPathComponent("plugins") }
    var database: String { root.appendingPathComponent("steward.db").path }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("steward-bootstrap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: plugins, withIntermediateDirectories: true)
        let source = Self.packageRoot.appendingPathComponent("Tests/StewardBootstrapTests/Fixtures/slow.c").path
        // posix_spawn (ChildProcess), not Foundation's Process: see ChildProcess.
        let compiled = try ChildProcess.run("cc", [
            "-std=c11", "-O2", "-shared", "-fPIC", "-fvisibility=hidden",
            "-I", Self.packageRoot.appendingPathComponent("Sources/StewardABI/include").path, source,
            "-o", plugins.appendingPathComponent("libslow.so").path,
        ])
        guard compiled.status == 0 else { throw BootstrapError("cc failed building the slow fixture plugin") }
    }

    /// Writes a template file (the body under a complete header) and returns its path.
    @discardableResult
    func write(_ body: String, name: String, version: String = "1.0.0", file: String? = nil) throws -> String {
        let path = workflows.appendingPathComponent(file ?? "\(name).yaml").path
        try TestPlans.templateText(body, name: name, version: version).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The engine over this workspace.
    func assemble(pluginThreads: Int = 4, clock: any EngineClock = SystemEngineClock(), metrics: EngineMetrics? = nil) async throws -> EngineAssembly {
        try await EngineAssembly.assemble(EngineOptions(
            workspace: Workspace(root: root), workflows: workflows.path, database: database, pluginDirectories: [plugins.path],
            buildPlugins: false, metrics: metrics, clock: clock, pluginThreads: pluginThreads))
    }

    func remove() { try? FileManager.default.removeItem(at: root) }

    /// One state calling `slow.nap` for `input.ms`, then the end.
    static let napBody = """
        plugins: [slow]
        states:
          nap:
            kind: step
            step: slow.nap
            input: {ms: input.ms, until: input.until}
            output: napped
            next: done
          done: {kind: end}
        """

    /// One state calling `slow.quick`, then the end.
    static let quickBody = """
        plugins: [slow]
        states:
          quick: {kind: step, step: slow.quick, input: input, output: answer, next: done}
          done: {kind: end}
        """
}
