import Foundation
import StewardTesting
import Testing

/// The Python client in `clients/python`: its unittest suite, run against the real
/// `steward serve` built beside this test bundle, passes; and the package installs with pip.
@Suite("Python client", .serialized)
struct PythonClientTests {
    /// The package: `clients/python` in the package root.
    static let package = StewardCLITests.packageRoot.appendingPathComponent("clients/python")

    /// Debian's python3, which `scripts/setup.sh` provisions (pip, setuptools, wheel), else the
    /// first on PATH.
    static let python3: String = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"

    /// Runs `python3 arguments...` in `directory` with `environment` and waits for it (at most
    /// `timeout` seconds) on a thread of its own, never one of the cooperative pool's.
    static func python(_ arguments: [String], in directory: URL, environment: [String: String], timeout: Double = 300) async throws
        -> StewardCLITests.Run
    {
        try await StewardCLITests.childAsync(Self.python3, arguments, in: directory, environment: environment, timeout: timeout)
    }

    /// This process's environment for a Python child: no bytecode written into the checkout.
    static var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        environment["PIP_NO_INPUT"] = "1"
        return environment
    }

    /// `python3 -m unittest discover -s clients/python/tests -v` from the package root: the
    /// suite starts `steward serve` (the executable beside this bundle, the shipped plugins in
    /// `.steward/plugins`) over a temp database and drives it through the client.
    @Test("the Python client's tests pass against the real steward serve")
    func unittestSuitePasses() async throws {
        try await StewardCLITests.requirePlugins()
        let products = try #require(StewardCLITests.productsDirectory, "no steward executable next to \(CommandLine.arguments[0])")
        var environment = Self.environment
        environment["STEWARD_BIN"] = products.appendingPathComponent("steward").path
        // The plugins requirePlugins built, and every test run: none skipped here.
        environment.removeValue(forKey: "STEWARD_PLUGIN_PATH")
        environment.removeValue(forKey: "STEWARD_CLIENT_TESTS_SKIP")
        let run = try await Self.python(
            ["-m", "unittest", "discover", "-s", "clients/python/tests", "-v"], in: StewardCLITests.packageRoot, environment: environment,
            timeout: 300)
        #expect(run.status == 0, "\(run)")
        // unittest reports on standard error: "Ran N tests in Ts", then "OK".
        #expect(run.stderr.contains("\nOK") && !run.stderr.contains("skipped"), "\(run)")
    }

    /// `pip install --target DIR` of the package (a copy of `clients/python`: pip builds in the
    /// source tree, where setuptools leaves `build/` and `*.egg-info`, and a stale `build/` there
    /// could hide a file the package lacks), then `import steward_client` from DIR alone, with
    /// its `py.typed` marker. The setuptools build backend comes from the package index.
    @Test("the Python client installs with pip")
    func packageInstallsWithPip() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("steward-pip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let pip = try await Self.python(["-m", "pip", "--version"], in: scratch, environment: Self.environment, timeout: 60)
        try #require(pip.status == 0, "python3 -m pip is needed (scripts/setup.sh installs python3-pip): \(pip)")

        let source = scratch.appendingPathComponent("steward-client")
        try FileManager.default.copyItem(at: Self.package, to: source)
        let sourceTree = source.appendingPathComponent("src")
        let built = try FileManager.default.contentsOfDirectory(atPath: sourceTree.path).filter { $0.hasSuffix(".egg-info") }
        for leftover in built {
            try FileManager.default.removeItem(at: sourceTree.appendingPathComponent(leftover))
        }
        try? FileManager.default.removeItem(at: source.appendingPathComponent("build"))

        let target = scratch.appendingPathComponent("target")
        let install = try await Self.python(
            // Offline: the build backend is Debian's setuptools and wheel (scripts/setup.sh), not
            // fetched from a package index a CI machine may not reach.
            ["-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-deps", "--target", target.path, source.path], in: scratch,
            environment: Self.environment, timeout: 300)
        #expect(install.status == 0, "\(install)")

        var environment = Self.environment
        environment["PYTHONPATH"] = target.path
        let check = try await Self.python(
            [
                "-c",
                "import pathlib, steward_client; package = pathlib.Path(steward_client.__file__).parent; "
                    + "assert (package / 'py.typed').is_file(), package; print(package); print(steward_client.StewardClient.__name__)",
            ], in: scratch, environment: environment, timeout: 60)
        #expect(check.status == 0 && check.stdout.contains(target.appendingPathComponent("steward_client").path), "\(check)")
        #expect(check.stdout.contains("StewardClient"), "\(check)")
    }
}
