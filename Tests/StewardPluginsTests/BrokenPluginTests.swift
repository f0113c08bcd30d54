import StewardABI
import StewardJSON
import StewardPlugins
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the library of one case is made.
enum BrokenLibrary: Sendable {
    /// A path where no file exists.
    case missingFile
    /// A text file named `.so`.
    case textFile
    /// `broken_plugin.c` built with `-D<define>`.
    case broken(define: String)
    /// `step_faults.c`, which loads but whose steps answer badly.
    case stepFaults
}

/// What the host must do with a broken plugin.
enum Expected: Sendable {
    /// Refuse to load it with exactly this reason (for `.notASharedLibrary` only the case is
    /// compared: the detail is dlerror's), after running its init `initCalls` times (nil: the
    /// library has no init to count).
    case refused(PluginLoadError.Reason, initCalls: Int?)
    /// Load it, then fail a call of `step` with this kind.
    case stepFails(step: String, kind: StepCallError.Kind)
}

/// One broken plugin, the typed error the host must answer with, and text its message must contain.
struct BrokenPluginCase: Sendable, CustomTestStringConvertible {
    let label: String
    let library: BrokenLibrary
    let expected: Expected
    let fragment: String

    var testDescription: String { label }

    static let sizeOfStep = MemoryLayout<stw_step>.size
    /// The 1.0 size of `stw_plugin` (1.2 appended fields after `get_extension`).
    static let sizeOfPlugin = MemoryLayout<stw_plugin>.offset(of: \stw_plugin.get_extension)! + MemoryLayout<UnsafeRawPointer?>.size
    static let stepWithoutInvoke = MemoryLayout<stw_step>.offset(of: \stw_step.invoke)!
    static let pluginWithoutGetExtension = MemoryLayout<stw_plugin>.offset(of: \stw_plugin.get_extension)!

    static func refused(_ label: String, _ library: BrokenLibrary, _ reason: PluginLoadError.Reason, initCalls: Int? = 0, _ fragment: String) -> Self {
        BrokenPluginCase(label: label, library: library, expected: .refused(reason, initCalls: initCalls), fragment: fragment)
    }

    static func stepFails(_ step: String, _ kind: StepCallError.Kind, _ fragment: String) -> Self {
        BrokenPluginCase(label: "step \(step)", library: .stepFaults, expected: .stepFails(step: "faults.\(step)", kind: kind), fragment: fragment)
    }

    static let all: [BrokenPluginCase] = [
        // Refused at load time, in the order the host checks.
        refused("missing file", .missingFile, .fileNotFound, initCalls: nil, "no such file"),
        refused("text file named .so", .textFile, .notASharedLibrary(detail: ""), initCalls: nil, "not a loadable shared library ("),
        refused(
            "entry not exported", .broken(define: "BREAK_NO_EXPORT"), .missingEntrySymbol(symbol: "stw_plugin_entry"),
            "missing entry symbol 'stw_plugin_entry'"),
        refused(
            "entry returns STW_ERR_INCOMPATIBLE", .broken(define: "BREAK_ENTRY_INCOMPATIBLE"), .entryFailed(status: 5),
            "stw_plugin_entry refused the host with status STW_ERR_INCOMPATIBLE"),
        refused(
            "entry returns OK with a NULL descriptor", .broken(define: "BREAK_ENTRY_NULL"), .nullDescriptor,
            "stw_plugin_entry returned STW_OK but left the descriptor NULL"),
        refused(
            "descriptor built for ABI 2", .broken(define: "BREAK_ABI_MAJOR"), .abiMajorMismatch(structName: "stw_plugin", plugin: 2, host: 1),
            "ABI major mismatch in stw_plugin: plugin was built for ABI 2.x, host speaks 1.x"),
        refused(
            "descriptor struct_size too small", .broken(define: "BREAK_PLUGIN_SIZE"),
            .structTooSmall(structName: "stw_plugin", size: pluginWithoutGetExtension, minimum: sizeOfPlugin),
            "stw_plugin.struct_size is \(pluginWithoutGetExtension) bytes, below the \(sizeOfPlugin) bytes ABI 1.0 requires"),
        refused(
            "NULL plugin name", .broken(define: "BREAK_NULL_NAME"), .invalidDescriptor(field: "stw_plugin.name", reason: "is NULL"),
            "invalid descriptor field 'stw_plugin.name': is NULL"),
        refused(
            "invalid plugin name", .broken(define: "BREAK_BAD_NAME"),
            .invalidDescriptor(field: "stw_plugin.name", reason: "'Broken Plugin' is not 1-64 characters of [a-z0-9_-]"),
            "'Broken Plugin' is not 1-64 characters of [a-z0-9_-]"),
        refused(
            "NULL step array", .broken(define: "BREAK_NULL_STEPS"),
            .invalidDescriptor(field: "stw_plugin.steps", reason: "is NULL but step_count is 2"), "is NULL but step_count is 2"),
        refused(
            "NULL step pointer", .broken(define: "BREAK_NULL_STEP_POINTER"),
            .invalidDescriptor(field: "stw_plugin.steps[1]", reason: "is NULL"), "'stw_plugin.steps[1]': is NULL"),
        refused(
            "step struct_size too small", .broken(define: "BREAK_STEP_SIZE"),
            .structTooSmall(structName: "stw_step", size: stepWithoutInvoke, minimum: sizeOfStep),
            "stw_step.struct_size is \(stepWithoutInvoke) bytes, below the \(sizeOfStep) bytes"),
        refused(
            "NULL step invoke", .broken(define: "BREAK_NULL_INVOKE"), .invalidDescriptor(field: "step 'second'.invoke", reason: "is NULL"),
            "'second'.invoke': is NULL"),
        refused(
            "NULL step version", .broken(define: "BREAK_NULL_STEP_VERSION"),
            .invalidDescriptor(field: "stw_plugin.steps[1].version", reason: "is NULL or empty"), "'stw_plugin.steps[1].version': is NULL"),
        refused(
            "duplicate step name in one plugin", .broken(define: "BREAK_DUPLICATE_STEP"),
            .invalidDescriptor(field: "stw_plugin.steps[1].name", reason: "'first' is already the name of stw_plugin.steps[0]"),
            "'first' is already the name of stw_plugin.steps[0]"),
        refused(
            "init returns an error", .broken(define: "BREAK_INIT_FAILS"), .initFailed(status: 3), initCalls: 1,
            "the plugin's init failed with status STW_ERR_PERMANENT"),

        // Loaded, then a step answers badly.
        stepFails("invalid_utf8", .invalidOutput, "output is not valid UTF-8"),
        stepFails("invalid_json", .invalidOutput, "output is not valid JSON: "),
        stepFails("null_output", .invalidOutput, "returned STW_OK with a NULL output"),
        stepFails("invalid_input", .invalidInput, "faults: field 'x' must be a number"),
        stepFails("transient", .transient, "faults: upstream timed out after 30s"),
        stepFails("permanent", .permanent, "faults: record 42 does not exist"),
        stepFails("internal", .internal, "faults: invariant broken in scorer"),
        stepFails("unknown_status", .internal, "unknown status 42: faults: status from a future header"),
        stepFails("incompatible_status", .internal, "STW_ERR_INCOMPATIBLE is not a step status: faults: entry-only status from a step"),
        stepFails("silent_failure", .transient, "no message"),
        stepFails("failure_with_output", .permanent, "faults: failed after writing output"),
    ]
}

/// Reads `fixture_init_calls()` from an already loaded fixture library.
func initCalls(inLibraryAt path: String) throws -> Int {
    let handle = try #require(dlopen(path, RTLD_NOW | RTLD_NOLOAD), "the library should still be loaded")
    let symbol = try #require(dlsym(handle, "fixture_init_calls"))
    typealias Counter = @convention(c) () -> Int32
    return Int(unsafeBitCast(symbol, to: Counter.self)())
}

@Suite("The host refuses every broken plugin with a named, typed error")
struct BrokenPluginTests {
    @Test(arguments: BrokenPluginCase.all, LoadMode.allCases)
    func brokenPlugin(_ broken: BrokenPluginCase, _ mode: LoadMode) async throws {
        let path: String
        switch broken.library {
        case .missingFile: path = FixtureBuilder.outputDirectory.appendingPathComponent("no-such-plugin.so").path
        case .textFile: path = try FixtureBuilder.copy("not_a_library.so.txt", as: "not_a_library.so")
        case .broken(let define): path = try await FixtureBuilder.plugin("broken_plugin.c", defines: [define])
        case .stepFaults: path = try await FixtureBuilder.plugin("step_faults.c")
        }
        switch broken.expected {
        case .refused(let reason, let expectedInitCalls):
            let error = #expect(throws: PluginLoadError.self) { _ = try mode.load(path) }
            let refusal = try #require(error)
            #expect(refusal.path == path)
            if case .notASharedLibrary(let detail) = refusal.reason, case .notASharedLibrary = reason {
                #expect(!detail.isEmpty)
            } else {
                #expect(refusal.reason == reason)
            }
            #expect(refusal.description.hasPrefix("cannot load plugin \(path): "))
            #expect(refusal.description.contains(broken.fragment), "\(refusal.description)")
            // The count lives in the process that loaded the library: only this one can read it.
            if let expectedInitCalls, mode == .inProcess {
                #expect(try initCalls(inLibraryAt: path) == expectedInitCalls, "init runs only after every check passed")
            }
        case .stepFails(let step, let kind):
            let registry = try mode.registry([path])
            let error = #expect(throws: StepCallError.self) {
                _ = try registry.call(step, input: ["x": "not a number"], config: [:], idempotencyKey: "inst/state/1", attempt: 1)
            }
            let failure = try #require(error)
            #expect(failure.step == step)
            #expect(failure.kind == kind)
            #expect(failure.message.contains(broken.fragment), "\(failure.message)")
            #expect(failure.description == "step \(step) failed (\(kind.rawValue)): \(failure.message)")
            #expect(failure.isRetryable == (kind == .transient))
        }
    }
}

@Suite("Fixtures that must load")
struct LoadableFixtureTests {
    /// Without a defect, the same source loads: each refusal above is due to its one defect.
    @Test func controlBuildOfTheBrokenPluginLoads() async throws {
        let path = try await FixtureBuilder.plugin("broken_plugin.c", defines: ["BREAK_NOTHING"])
        let plugin = try PluginLoader.load(path: path)
        #expect(plugin.name == "broken")
        #expect(plugin.steps.map(\.fullName) == ["broken.first", "broken.second"])
        #expect(try initCalls(inLibraryAt: path) == 1)
        var registry = PluginRegistry()
        try registry.register(plugin)
        let output = try registry.call("broken.second", input: [:], config: [:], idempotencyKey: "i/s/1", attempt: 1)
        #expect(output == ["ok": true])
        // Loading it again returns the same plugin without running init again.
        #expect(try PluginLoader.load(path: path).steps.count == 2)
        #expect(try initCalls(inLibraryAt: path) == 1)
    }

    /// Since ABI 1.2 a host accepts structs built for a newer minor (reading only the fields
    /// it knows), as CLAP hosts do: a plugin team may build against the newest header and run
    /// on engines not yet upgraded. The fixture's defines name the struct that claims it.
    @Test(arguments: ["BREAK_PLUGIN_MINOR", "BREAK_STEP_MINOR"])
    func structsBuiltForANewerMinorLoadAndRun(define: String) async throws {
        let path = try await FixtureBuilder.plugin("broken_plugin.c", defines: [define])
        let plugin = try PluginLoader.load(path: path)
        #expect(plugin.abiMinor == (define == "BREAK_PLUGIN_MINOR" ? PluginLoader.hostABI.minor + 1 : PluginLoader.hostABI.minor))
        var registry = PluginRegistry()
        try registry.register(plugin)
        #expect(try registry.call("broken.second", input: [:], config: [:], idempotencyKey: "i/s/1", attempt: 1) == ["ok": true])
    }
}

@Suite("The registry refuses clashing plugins")
struct PluginRegistryTests {
    @Test func twoLibrariesWithTheSameStep() async throws {
        let first = try await FixtureBuilder.plugin("twin_plugin.c", defines: [#"TWIN_NAME="twin""#, #"TWIN_STEP="hello""#, "COPY=1"])
        let second = try await FixtureBuilder.plugin("twin_plugin.c", defines: [#"TWIN_NAME="twin""#, #"TWIN_STEP="hello""#, "COPY=2"])
        #expect(first != second)
        var registry = PluginRegistry()
        try registry.register(PluginLoader.load(path: first))
        let clash = try PluginLoader.load(path: second)
        #expect(clash.steps.map(\.fullName) == ["twin.hello"])
        #expect(throws: PluginLoadError(path: second, reason: .duplicatePlugin(name: "twin", firstLoadedFrom: first))) {
            try registry.register(clash)
        }
        // The first registration stands and still works.
        #expect(registry.plugins.map(\.path) == [first])
        #expect(try registry.call("twin.hello", input: [:], config: [:], idempotencyKey: "k", attempt: 1) == ["from": "twin.hello"])
    }

    @Test func twoLibrariesWithTheSamePluginName() async throws {
        let first = try await FixtureBuilder.plugin("twin_plugin.c", defines: [#"TWIN_NAME="double""#, #"TWIN_STEP="one""#])
        let second = try await FixtureBuilder.plugin("twin_plugin.c", defines: [#"TWIN_NAME="double""#, #"TWIN_STEP="two""#])
        let error = #expect(throws: PluginLoadError.self) {
            _ = try PluginRegistry(loading: [first, second])
        }
        #expect(error == PluginLoadError(path: second, reason: .duplicatePlugin(name: "double", firstLoadedFrom: first)))
        #expect(error?.description == "cannot load plugin \(second): a plugin named 'double' is already loaded from \(first)")
    }

    @Test func theSameLibraryTwice() async throws {
        let path = try await FixtureBuilder.plugin("twin_plugin.c", defines: [#"TWIN_NAME="once""#])
        #expect(throws: PluginLoadError(path: path, reason: .duplicatePlugin(name: "once", firstLoadedFrom: path))) {
            _ = try PluginRegistry(loading: [path, path])
        }
    }

    @Test func distinctPluginsLoadSideBySide() async throws {
        let first = try await FixtureBuilder.plugin("twin_plugin.c", defines: [#"TWIN_NAME="left""#])
        let second = try await FixtureBuilder.plugin("twin_plugin.c", defines: [#"TWIN_NAME="right""#])
        let registry = try PluginRegistry(loading: [first, second])
        #expect(registry.stepNames == ["left.hello", "right.hello"])
        #expect(try registry.call("right.hello", input: [:], config: [:], idempotencyKey: "k", attempt: 1) == ["from": "right.hello"])
    }

    @Test func unknownStep() throws {
        #expect(throws: StepCallError(step: "nobody.nothing", kind: .unknownStep, message: "no loaded plugin provides this step")) {
            _ = try PluginRegistry().call("nobody.nothing", input: [:], config: [:], idempotencyKey: "k", attempt: 1)
        }
    }
}
