import Foundation
import StewardABI
import StewardJSON
import StewardPlugins
import Testing

/// ABI 1.0 is frozen: a plugin built against the header as released loads in this host, and
/// the current header still lays out every 1.0 field and constant the same way.
@Suite("ABI 1.0 stays loadable forever")
struct ABIFreezeTests {
    static func compatRegistry(_ mode: LoadMode) async throws -> (PluginRegistry, LoadedPlugin) {
        let path = try await FixtureBuilder.plugin("compat_plugin.c", against: .frozen10)
        let plugin = try mode.load(path)
        var registry = PluginRegistry()
        try registry.register(plugin)
        return (registry, plugin)
    }

    @Test(arguments: LoadMode.allCases)
    func pluginBuiltAgainstTheFrozenHeaderLoads(_ mode: LoadMode) async throws {
        let (_, plugin) = try await Self.compatRegistry(mode)
        #expect(plugin.name == "compat")
        #expect(plugin.version == "1.0.0")
        #expect(plugin.abiMajor == 1 && plugin.abiMinor == 0)
        #expect(plugin.description == "Built against the frozen ABI 1.0 header")
        #expect(plugin.steps.map(\.fullName) == ["compat.echo", "compat.call_info", "compat.allocate"])
        #expect(plugin.steps.map(\.isThreadSafe) == [true, true, false])
        #expect(plugin.steps.map(\.isPure) == [true, false, false])
        let adapter = try #require(plugin.adapters.count == 1 ? plugin.adapters.first : nil)
        #expect(adapter.id == "compat-classifier")
        #expect(adapter.version == "1.0.0")
        #expect(adapter.description == "Always answers 'compat'")
        #expect(adapter.threadSafe)
        #expect(adapter.taskMask == 1 << UInt32(STW_TASK_CLASSIFY))
    }

    @Test(arguments: LoadMode.allCases)
    func itsStepsRun(_ mode: LoadMode) async throws {
        let (registry, _) = try await Self.compatRegistry(mode)
        let input: JSONValue = ["ticket": ["id": 7, "text": "Ünïcode ✓", "tags": ["a", "b"], "score": 0.25, "none": nil]]
        #expect(try registry.call("compat.echo", input: input, config: [:], idempotencyKey: "i/echo/1", attempt: 1) == input)
        #expect(try registry.call("compat.allocate", input: [:], config: [:], idempotencyKey: "i/alloc/1", attempt: 1) == ["alloc": 42])
    }

    /// What the host passes a 1.0 plugin: key, attempt, config, init state, host table.
    @Test(arguments: LoadMode.allCases)
    func itReceivesWhatTheHostPromised(_ mode: LoadMode) async throws {
        let (registry, _) = try await Self.compatRegistry(mode)
        let info = try registry.call(
            "compat.call_info", input: [:], config: ["threshold": 0.5, "queue": "billing"], idempotencyKey: "inst-9/triage/3", attempt: 3)
        let expected: JSONValue = [
            "key": "inst-9/triage/3", "key_terminated": true, "attempt": 3, "config": ["threshold": 0.5, "queue": "billing"],
            "state_ok": true, "same_host": true, "host": "steward",
            "host_abi": [.integer(Int64(PluginLoader.hostABI.major)), .integer(Int64(PluginLoader.hostABI.minor))],
            "missing_extension_is_null": true, "call_struct_size": .integer(Int64(MemoryLayout<stw_step_call>.size)),
        ]
        #expect(info == expected)
    }

    @Test func frozenAndCurrentHeadersAgreeOnEvery10FieldAndConstant() async throws {
        let frozen = try await FixtureBuilder.runProgram("abi_layout.c", against: .frozen10)
        let current = try await FixtureBuilder.runProgram("abi_layout.c", against: .current)
        let frozenLines = frozen.split(separator: "\n")
        let currentLines = current.split(separator: "\n")
        #expect(frozenLines.count == currentLines.count)
        for (old, new) in zip(frozenLines, currentLines) {
            #expect(old == new)
        }
        // The program covers the whole 1.0 surface: 71 fields, 3 sizes, 19 constants.
        #expect(frozenLines.count == 93)
        #expect(frozenLines.contains("stw_plugin.get_extension offset=72 size=8"))
    }

    /// The host reads plugin structs through Swift's import of the current header; it must see
    /// the same offsets the C compiler gives plugins.
    @Test func swiftSeesTheSameLayoutAsC() async throws {
        let layout = try await FixtureBuilder.runProgram("abi_layout.c", against: .current)
        var offsets: [String: Int] = [:]
        for line in layout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 3, parts[1].hasPrefix("offset="), let offset = Int(parts[1].dropFirst("offset=".count)) {
                offsets[String(parts[0])] = offset
            }
        }
        let swift: [String: Int?] = [
            "stw_plugin.name": MemoryLayout<stw_plugin>.offset(of: \.name),
            "stw_plugin.init": MemoryLayout<stw_plugin>.offset(of: \.`init`),
            "stw_plugin.step_count": MemoryLayout<stw_plugin>.offset(of: \.step_count),
            "stw_plugin.steps": MemoryLayout<stw_plugin>.offset(of: \.steps),
            "stw_plugin.adapters": MemoryLayout<stw_plugin>.offset(of: \.adapters),
            "stw_plugin.get_extension": MemoryLayout<stw_plugin>.offset(of: \.get_extension),
            "stw_step.flags": MemoryLayout<stw_step>.offset(of: \.flags),
            "stw_step.invoke": MemoryLayout<stw_step>.offset(of: \.invoke),
            "stw_adapter.task_mask": MemoryLayout<stw_adapter>.offset(of: \.task_mask),
            "stw_adapter.invoke": MemoryLayout<stw_adapter>.offset(of: \.invoke),
            "stw_step_call.attempt": MemoryLayout<stw_step_call>.offset(of: \.attempt),
            "stw_step_call.config_length": MemoryLayout<stw_step_call>.offset(of: \.config_length),
            "stw_step_result.error_message_length": MemoryLayout<stw_step_result>.offset(of: \.error_message_length),
            "stw_host.get_extension": MemoryLayout<stw_host>.offset(of: \.get_extension),
            "stw_model_response.error_message_length": MemoryLayout<stw_model_response>.offset(of: \.error_message_length),
        ]
        for (field, offset) in swift {
            #expect(offsets[field] == offset, "\(field)")
        }
    }

    /// ABI 1.1 appended `call_key` where the 1.0 struct ended (its last field's end, as the
    /// frozen header lays it out), so a 1.0 `struct_size` stops exactly before it.
    @Test func callKeyStartsWhereThe10StructsEnded() async throws {
        let layout = try await FixtureBuilder.runProgram("abi_layout.c", against: .frozen10)
        func end(of field: String) -> Int? {
            guard let line = layout.split(separator: "\n").first(where: { $0.hasPrefix(field + " ") }) else { return nil }
            let numbers = line.split(separator: " ").dropFirst().compactMap { Int($0.split(separator: "=").last ?? "") }
            return numbers.count == 2 ? numbers[0] + numbers[1] : nil
        }
        #expect(end(of: "stw_step_call.config_length") == MemoryLayout<stw_step_call>.offset(of: \.call_key))
        #expect(end(of: "stw_model_request.input_length") == MemoryLayout<stw_model_request>.offset(of: \.call_key))
        #expect(MemoryLayout<stw_step_call>.offset(of: \.call_key_length) == MemoryLayout<stw_step_call>.offset(of: \.call_key)! + 8)
        #expect(MemoryLayout<stw_model_request>.offset(of: \.deadline_ns) == MemoryLayout<stw_model_request>.offset(of: \.call_key_length)! + 8)
    }

    /// ABI 1.2 appended the deadline and cancel flag to both call structs, and deinit and
    /// get_extension_with_state to the plugin descriptor, exactly where the frozen 1.1 structs
    /// end, so a 1.1 `struct_size` stops before them and every 1.1 offset is unchanged.
    @Test func theFieldsOf12StartWhereThe11StructsEnded() async throws {
        let output = try await FixtureBuilder.runProgram("abi_sizes.c", against: .frozen11)
        var sizes: [String: Int] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let size = Int(parts[1]) { sizes[String(parts[0])] = size }
        }
        #expect(sizes["stw_step_call"] == MemoryLayout<stw_step_call>.offset(of: \.deadline_ns))
        #expect(sizes["stw_model_request"] == MemoryLayout<stw_model_request>.offset(of: \.deadline_ns))
        #expect(sizes["stw_plugin"] == MemoryLayout<stw_plugin>.offset(of: \.`deinit`))
        #expect(MemoryLayout<stw_step_call>.offset(of: \.cancel_flag) == MemoryLayout<stw_step_call>.offset(of: \.deadline_ns)! + 8)
        #expect(MemoryLayout<stw_step_call>.size == MemoryLayout<stw_step_call>.offset(of: \.cancel_flag)! + 8)
        #expect(MemoryLayout<stw_model_request>.size == MemoryLayout<stw_model_request>.offset(of: \.cancel_flag)! + 8)
        #expect(MemoryLayout<stw_plugin>.size == MemoryLayout<stw_plugin>.offset(of: \.get_extension_with_state)! + 8)
    }
}

/// A C or C++ dialect to compile the header as.
struct HeaderDialect: Sendable, CustomTestStringConvertible {
    let compiler: String
    let arguments: [String]
    let header: ABIHeader

    var testDescription: String { "\(arguments.first!) against \(header)" }

    static let all: [HeaderDialect] = ABIHeader.allCases.flatMap { header in
        [
            HeaderDialect(compiler: "cc", arguments: ["-std=c99"], header: header),
            HeaderDialect(compiler: "cc", arguments: ["-std=c11"], header: header),
            HeaderDialect(compiler: "c++", arguments: ["-std=c++17", "-x", "c++"], header: header),
        ]
    }
}

@Suite("The ABI header compiles cleanly")
struct HeaderHygieneTests {
    @Test(arguments: HeaderDialect.all)
    func compilesWithoutWarnings(_ dialect: HeaderDialect) async throws {
        let source = FixtureBuilder.fixtures.appendingPathComponent("header_hygiene.c").path
        _ = try await FixtureBuilder.run(
            dialect.compiler,
            dialect.arguments + ["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "-I", dialect.header.directory.path, source])
    }

    /// Each frozen copy is the released header plus its "frozen forever" banner, nothing else.
    @Test(arguments: [ABIHeader.frozen10, .frozen11])
    func frozenCopyStartsWithItsBanner(_ header: ABIHeader) throws {
        let frozen = try String(contentsOf: header.directory.appendingPathComponent("steward_abi.h"), encoding: .utf8)
        #expect(frozen.hasPrefix("/*\n * FROZEN FOREVER: this is steward_abi.h exactly as ABI 1.\(header.minor) was released."))
        #expect(frozen.contains("#define STW_ABI_VERSION_MAJOR 1\n"))
        #expect(frozen.contains("#define STW_ABI_VERSION_MINOR \(header.minor)\n"))
    }
}
