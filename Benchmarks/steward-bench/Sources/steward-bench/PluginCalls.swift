import CFFI
import StewardABI
import StewardJSON
import StewardPlugins

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Cost of one step call, by the path it takes, for a no-op step and a ~300-byte echo step.
///
/// Every path does the same payload work as the C step (allocate the output with malloc, copy
/// it, free it), so the difference to `swift_direct` is the dispatch overhead:
/// - `swift_direct`: a non-inlined Swift function (the baseline);
/// - `c_function_pointer`: the plugin's `stw_step_fn` called directly, as an ffi binding would;
/// - `libffi`: the same pointer called through `ffi_call` with a prepared `ffi_cif`;
/// - `steward_abi`: `PluginStep.callRaw`, the host's real dispatch (call struct, key copy,
///   lock-free thread-safe path, UTF-8 check, copy of the output into a Swift array);
/// - `steward_registry`: `PluginRegistry.call`, what the engine calls: adds the name lookup,
///   serialising the input and config `JSONValue`s and parsing the output.
struct PluginCallBenchmark {
    let library: String
    let iterations: Int
    let repeats: Int

    /// A ticket-shaped JSON object of about 300 bytes.
    static let payload300: JSONValue = [
        "subject": "My card was stolen",
        "body": "Someone stole my wallet on the train this morning and my card was in it. Please block it right away, and send a new one to my home address.",
        "channel": "chat",
        "customer": ["name": "Jonas", "id": "cus-1002", "segment": "retail"],
        "received_at": "2025-03-14T08:21:07Z",
    ]

    func run() throws -> JSONValue {
        let registry = try PluginRegistry(loading: [library])
        guard let noop = registry.step("bench.noop"), let echo = registry.step("bench.echo") else {
            throw BenchError("\(library) does not provide bench.noop and bench.echo")
        }
        let direct = try DirectPlugin(path: library)
        var cases: [String: JSONValue] = [:]
        for (label, step, stepName, input) in [
            ("noop", noop, "bench.noop", JSONValue.emptyObject), ("json_300b", echo, "bench.echo", Self.payload300),
        ] {
            let inputBytes = input.jsonBytes
            guard let function = direct.steps[stepName] else { throw BenchError("\(stepName) not found by dlsym") }
            let echoes = stepName == "bench.echo"
            var loops: [(String, (Int) -> Void)] = []
            // The JSON path is ~50x slower per call; it gets a twentieth of the iterations.
            loops.append(("swift_direct", { count in direct.swiftLoop(input: inputBytes, echoes: echoes, count: count) }))
            loops.append(("c_function_pointer", { count in direct.callLoop(function, input: inputBytes, count: count) }))
            loops.append(("libffi", { count in direct.ffiLoop(function, input: inputBytes, count: count) }))
            loops.append(("steward_abi", { count in
                inputBytes.withUnsafeBytes { inputBuffer in
                    "{}".utf8CString.withUnsafeBytes { config in
                        let configBuffer = UnsafeRawBufferPointer(rebasing: config.dropLast())
                        for _ in 0..<count {
                            blackHole(try? step.callRaw(input: inputBuffer, config: configBuffer, idempotencyKey: "bench/step/1", attempt: 1))
                        }
                    }
                }
            }))
            loops.append(("steward_registry", { count in
                for _ in 0..<max(count / 20, 1) {
                    blackHole(try? registry.call(stepName, input: input, config: .emptyObject, idempotencyKey: "bench/step/1", attempt: 1))
                }
            }))
            let paths = measure(loops)
            // Each path must actually work: check one real call's output.
            let output = try registry.call(stepName, input: input, config: .emptyObject, idempotencyKey: "k", attempt: 1)
            guard output == (echoes ? input : .emptyObject) else { throw BenchError("\(stepName) returned \(output.jsonString)") }
            let baseline = paths["swift_direct"]!
            var overhead: [String: JSONValue] = [:]
            for (path, ns) in paths where path != "swift_direct" { overhead[path] = .number(ns - baseline, places: 1) }
            cases[label] = [
                "input_bytes": .int(inputBytes.count),
                "ns_per_call": .object(paths.mapValues { .number($0, places: 1) }),
                "overhead_ns_vs_swift_direct": .object(overhead),
            ]
        }
        return ["iterations": .int(iterations), "repeats": .int(repeats), "cases": .object(cases)]
    }

    /// ns per call of each loop: the fastest of `repeats` timed rounds of `iterations` calls,
    /// after a warm-up. The loops take turns within each round so that interference from other
    /// processes on this shared machine hits them alike; it only ever adds time, hence the minimum.
    func measure(_ loops: [(String, (Int) -> Void)]) -> [String: Double] {
        for (_, loop) in loops { loop(iterations / 10) }
        var best: [String: Double] = [:]
        for _ in 0..<repeats {
            for (name, loop) in loops {
                let start = nowNanoseconds()
                loop(iterations)
                let calls = name == "steward_registry" ? max(iterations / 20, 1) : iterations
                let ns = Double(nowNanoseconds() - start) / Double(calls)
                best[name] = min(best[name] ?? .infinity, ns)
            }
        }
        return best
    }
}

/// The baseline: the bench steps written in Swift and called directly (statically dispatched,
/// not inlined), with the same call struct and the same host allocation as the C steps.
@inline(never)
func swiftStep(_ call: UnsafePointer<stw_step_call>, _ result: UnsafeMutablePointer<stw_step_result>, echoes: Bool) -> stw_status {
    let host = call.pointee.host!
    let source = echoes ? UnsafeRawPointer(call.pointee.input) : UnsafeRawPointer(Noop.output)
    let length = echoes ? call.pointee.input_length : 2
    guard let output = host.pointee.alloc(host.pointee.context, length) else { return stw_status(STW_ERR_INTERNAL) }
    if let source { memcpy(output, source, length) }
    result.pointee.output = output.assumingMemoryBound(to: CChar.self)
    result.pointee.output_length = length
    return stw_status(STW_OK)
}

/// The no-op step's output, "{}", in static memory like the C string literal.
enum Noop {
    // nonisolated(unsafe): written once by the initialiser, only read afterwards.
    nonisolated(unsafe) static let output: UnsafePointer<CChar> = UnsafePointer(strdup("{}")!)
}

/// The bench plugin opened with dlopen and called without the Steward host in between.
struct DirectPlugin {
    /// `plugin.step` -> the C function.
    var steps: [String: stw_step_fn] = [:]
    /// A host table of our own: alloc/free are malloc/free, like the engine's.
    let host: UnsafeMutablePointer<stw_host>

    init(path: String) throws {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else { throw BenchError("dlopen \(path) failed") }
        guard let symbol = dlsym(handle, STW_PLUGIN_ENTRY_SYMBOL) else { throw BenchError("no entry symbol in \(path)") }
        let entry = unsafeBitCast(symbol, to: stw_plugin_entry_fn.self)
        host = UnsafeMutablePointer<stw_host>.allocate(capacity: 1)
        var table = stw_host()
        table.header = stw_struct_header(
            struct_size: UInt32(MemoryLayout<stw_host>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
            abi_minor: UInt16(STW_ABI_VERSION_MINOR))
        table.alloc = { _, size in malloc(size) }
        table.free = { _, block in free(block) }
        host.initialize(to: table)
        var descriptor: UnsafePointer<stw_plugin>?
        guard entry(host, &descriptor) == STW_OK, let plugin = descriptor?.pointee else { throw BenchError("entry failed") }
        let name = String(cString: plugin.name)
        for index in 0..<plugin.step_count {
            guard let step = plugin.steps[index]?.pointee, let invoke = step.invoke else { continue }
            steps["\(name).\(String(cString: step.name))"] = invoke
        }
    }

    func withCall<R>(input: [UInt8], _ body: (UnsafeMutablePointer<stw_step_call>) -> R) -> R {
        input.withUnsafeBufferPointer { bytes in
            "bench/step/1".withCString { key in
                var call = stw_step_call()
                call.header = stw_struct_header(
                    struct_size: UInt32(MemoryLayout<stw_step_call>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
                    abi_minor: UInt16(STW_ABI_VERSION_MINOR))
                call.host = UnsafePointer(host)
                call.idempotency_key = key
                call.idempotency_key_length = strlen(key)
                call.attempt = 1
                call.input = bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
                call.input_length = bytes.count
                call.config = nil
                call.config_length = 0
                return body(&call)
            }
        }
    }

    /// Calls the Swift version of the step directly `count` times.
    func swiftLoop(input: [UInt8], echoes: Bool, count: Int) {
        withCall(input: input) { call in
            var result = stw_step_result()
            for _ in 0..<count {
                let status = swiftStep(call, &result, echoes: echoes)
                blackHole(status)
                free(result.output)
            }
        }
    }

    /// Calls the step's C function pointer `count` times, freeing each output as the host would.
    func callLoop(_ function: stw_step_fn, input: [UInt8], count: Int) {
        withCall(input: input) { call in
            var result = stw_step_result()
            for _ in 0..<count {
                let status = function(call, &result)
                blackHole(status)
                free(result.output)
            }
        }
    }

    /// Calls the same function through libffi's `ffi_call`.
    func ffiLoop(_ function: stw_step_fn, input: [UInt8], count: Int) {
        withCall(input: input) { call in
            var result = stw_step_result()
            withUnsafeMutablePointer(to: &result) { resultPointer in
                var cif = ffi_cif()
                let pointerType = FFITypes.pointer
                let types = UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>.allocate(capacity: 2)
                defer { types.deallocate() }
                types[0] = pointerType
                types[1] = pointerType
                guard ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, FFITypes.sint32, types) == FFI_OK else { return }
                var callArgument: UnsafeMutableRawPointer? = UnsafeMutableRawPointer(call)
                var resultArgument: UnsafeMutableRawPointer? = UnsafeMutableRawPointer(resultPointer)
                let code = unsafeBitCast(function, to: (@convention(c) () -> Void).self)
                withUnsafeMutablePointer(to: &callArgument) { first in
                    withUnsafeMutablePointer(to: &resultArgument) { second in
                        let values = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 2)
                        defer { values.deallocate() }
                        values[0] = UnsafeMutableRawPointer(first)
                        values[1] = UnsafeMutableRawPointer(second)
                        var status: ffi_arg = 0
                        for _ in 0..<count {
                            ffi_call(&cif, code, &status, values)
                            blackHole(status)
                            free(resultPointer.pointee.output)
                        }
                    }
                }
            }
        }
    }
}

/// libffi's built-in type descriptors, looked up by symbol: they are mutable C globals, which
/// Swift 6 will not let us reference directly from concurrent code.
enum FFITypes {
    static var pointer: UnsafeMutablePointer<ffi_type> { lookup("ffi_type_pointer") }
    static var sint32: UnsafeMutablePointer<ffi_type> { lookup("ffi_type_sint32") }

    static func lookup(_ name: String) -> UnsafeMutablePointer<ffi_type> {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { fatalError("libffi has no \(name)") }
        return symbol.assumingMemoryBound(to: ffi_type.self)
    }
}
