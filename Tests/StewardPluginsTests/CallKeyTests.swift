import Foundation
import StewardABI
import StewardJSON
import StewardPlugins
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ABI 1.1's `call_key`: the host passes it to steps and adapters, the same for every attempt of
/// one logical call, and a plugin that checks `struct_size` sees it absent in a 1.0 host's struct.
@Suite("The call key (ABI 1.1)")
struct CallKeyTests {
    /// `call_key_plugin.c` built against `header`, loaded in a registry of its own.
    static func registry(against header: ABIHeader) async throws -> PluginRegistry {
        try PluginRegistry(loading: [try await FixtureBuilder.plugin("call_key_plugin.c", against: header)])
    }

    @Test(arguments: [ABIHeader.current, .frozen11])
    func stepGetsOneCallKeyForEveryAttempt(_ header: ABIHeader) async throws {
        let registry = try await Self.registry(against: header)
        #expect(registry.plugins.first?.abiMinor == header.minor)
        var answers: [JSONValue] = []
        for attempt in 1...3 {
            answers.append(try registry.call(
                "keys.echo", input: [:], config: [:], idempotencyKey: "inst-7/charge/\(attempt)", attempt: attempt,
                callKey: "inst-7/charge/2"))
        }
        #expect(answers.map { $0["call_key"] } == Array(repeating: "inst-7/charge/2", count: 3))
        #expect(answers.map { $0["idempotency_key"] } == ["inst-7/charge/1", "inst-7/charge/2", "inst-7/charge/3"])
        #expect(answers.map { $0["attempt"] } == [1, 2, 3])
        #expect(answers.allSatisfy { $0["terminated"] == true })
    }

    @Test func adapterGetsOneCallKeyForEveryAttempt() async throws {
        let registry = try await Self.registry(against: .current)
        var answers: [JSONValue] = []
        for attempt in 1...3 {
            answers.append(try registry.callAdapter(
                id: "keys-echo", version: "1.0.0", task: .generate, input: ["text": "hi"],
                idempotencyKey: "inst-8/draft/\(attempt)", attempt: attempt, callKey: "inst-8/draft/1"
            ).output)
        }
        #expect(answers.map { $0["call_key"] } == Array(repeating: "inst-8/draft/1", count: 3))
        #expect(answers.map { $0["idempotency_key"] } == ["inst-8/draft/1", "inst-8/draft/2", "inst-8/draft/3"])
        #expect(answers.allSatisfy { $0["terminated"] == true })
    }

    /// Callers that pass no call key (every one written before 1.1) still give plugins a key
    /// shared by the attempts: the idempotency key without its trailing `/<attempt>`.
    @Test(arguments: [
        ("inst-1/send/1", 1, "inst-1/send"),
        ("inst-1/send/3", 3, "inst-1/send"),
        ("inst-1/send/12", 12, "inst-1/send"),
        // Not "/<attempt>" at the end: the key is passed whole.
        ("inst-1/send/1", 2, "inst-1/send/1"),
        ("inst-1/send/01", 1, "inst-1/send/01"),
        ("inst-1/send", 1, "inst-1/send"),
        ("k", 1, "k"),
        ("1", 1, "1"),
        ("", 1, ""),
        ("/1", 1, ""),
    ])
    func missingCallKeyIsDerivedFromTheIdempotencyKey(key: String, attempt: Int, expected: String) async throws {
        let registry = try await Self.registry(against: .current)
        let step = try registry.call("keys.echo", input: [:], config: [:], idempotencyKey: key, attempt: attempt)
        #expect(step["call_key"] == .string(expected))
        #expect(step["idempotency_key"] == .string(key))
        let adapter = try registry.callAdapter(
            id: "keys-echo", version: "1.0.0", task: .generate, input: [:], idempotencyKey: key, attempt: attempt)
        #expect(adapter.output["call_key"] == .string(expected))
    }

    /// A 1.0 host's `stw_step_call` ends before `call_key`: a 1.1 plugin that checks
    /// `STW_HAS_FIELD` reads it as absent even when the bytes past the struct hold a pointer.
    @Test func pluginSeesNoCallKeyInAStructFromA10Host() async throws {
        let path = try await FixtureBuilder.plugin("call_key_plugin.c", against: .frozen11)
        let step = try #require(try Self.rawSteps(path).first)
        let output = RawHost.callStep(step, structSize: RawHost.size10, callKey: "must-not-be-read")
        #expect(try JSONValue.parse(output) == ["idempotency_key": "raw/echo/1", "attempt": 1, "call_key": nil])
        // The same bytes with a 1.1 struct_size: the plugin reads the key.
        let full = RawHost.callStep(step, structSize: MemoryLayout<stw_step_call>.size, callKey: "raw/echo")
        #expect(try JSONValue.parse(full)["call_key"] == "raw/echo")
    }

    /// The step functions of a library, through its entry (a host of the test's own).
    static func rawSteps(_ path: String) throws -> [stw_step_fn] {
        let handle = try #require(dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE))
        let symbol = try #require(dlsym(handle, STW_PLUGIN_ENTRY_SYMBOL))
        var descriptor: UnsafePointer<stw_plugin>?
        #expect(unsafeBitCast(symbol, to: stw_plugin_entry_fn.self)(RawHost.table, &descriptor) == STW_OK)
        let plugin = try #require(descriptor).pointee
        return (0..<plugin.step_count).compactMap { plugin.steps[$0]?.pointee.invoke }
    }
}

/// A host table of the test's own (malloc and free, no log), for calling a plugin's functions
/// with structs the real host would never build.
enum RawHost {
    // nonisolated(unsafe): written once on first use, then only read (the ABI's [static] host table).
    nonisolated(unsafe) static let table: UnsafePointer<stw_host> = {
        let table = UnsafeMutablePointer<stw_host>.allocate(capacity: 1)
        var host = stw_host()
        host.header = stw_struct_header(
            struct_size: UInt32(MemoryLayout<stw_host>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR), abi_minor: UInt16(STW_ABI_VERSION_MINOR))
        host.host_name = UnsafePointer(strdup("raw-test"))
        host.host_version = UnsafePointer(strdup("0"))
        host.log = { _, _, _, _ in }
        host.alloc = { _, size in malloc(size) }
        host.free = { _, block in free(block) }
        host.get_extension = { _, _ in nil }
        table.initialize(to: host)
        return UnsafePointer(table)
    }()

    /// `sizeof(stw_step_call)` in ABI 1.0: where 1.1's `call_key` starts.
    static let size10 = MemoryLayout<stw_step_call>.offset(of: \.call_key)!

    /// Calls `step` with `input`, config `{}`, key `raw/echo/1`, attempt 1, the given
    /// `struct_size`, and `call_key` stored in the struct whatever the size says; returns the
    /// output (empty on error).
    static func callStep(_ step: stw_step_fn, input: String = "{}", structSize: Int, callKey: String) -> [UInt8] {
        var result = stw_step_result()
        let before11 = structSize < MemoryLayout<stw_step_call>.size
        let status = (input + "\u{0}{}").withCString { payloads in
            "raw/echo/1".withCString { key in
                callKey.withCString { callKeyPointer in
                    var call = stw_step_call()
                    call.header = stw_struct_header(
                        struct_size: UInt32(structSize), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
                        abi_minor: before11 ? 0 : UInt16(STW_ABI_VERSION_MINOR))
                    call.host = table
                    call.idempotency_key = key
                    call.idempotency_key_length = strlen(key)
                    call.attempt = 1
                    // One buffer: the input, a NUL, then the config "{}".
                    call.input = payloads
                    call.input_length = strlen(payloads)
                    call.config = payloads + strlen(payloads) + 1
                    call.config_length = 2
                    call.call_key = callKeyPointer
                    call.call_key_length = strlen(callKeyPointer)
                    return step(&call, &result)
                }
            }
        }
        defer {
            free(result.output)
            free(result.error_message)
        }
        guard status == STW_OK, let output = result.output else { return [] }
        return Array(UnsafeRawBufferPointer(start: output, count: result.output_length))
    }
}
