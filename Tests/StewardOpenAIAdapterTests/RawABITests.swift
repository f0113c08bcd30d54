import Foundation
import StewardABI
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Calls the adapter function straight through the C ABI with bytes the engine would never
/// send (the engine always passes valid JSON), to check the plugin's own input checks.
@Suite struct RawABITests {
    /// A minimal host table: malloc/free, no logging, no extensions.
    // nonisolated(unsafe): written once on first use, then only read (the ABI's [static] host table).
    nonisolated(unsafe) static let host: UnsafePointer<stw_host> = {
        let table = UnsafeMutablePointer<stw_host>.allocate(capacity: 1)
        table.initialize(to: stw_host(
            header: stw_struct_header(struct_size: UInt32(MemoryLayout<stw_host>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR), abi_minor: UInt16(STW_ABI_VERSION_MINOR)),
            context: nil, host_name: UnsafePointer(strdup("raw-test")), host_version: UnsafePointer(strdup("0")),
            log: { _, _, _, _ in }, alloc: { _, size in malloc(size) }, free: { _, block in free(block) },
            get_extension: { _, _ in nil }))
        return UnsafePointer(table)
    }()

    static func adapter() throws -> stw_adapter {
        let path = try OpenAIPlugin.path()
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE), let symbol = dlsym(handle, STW_PLUGIN_ENTRY_SYMBOL) else {
            throw SetupError(description: "cannot open \(path) or find its entry")
        }
        let entry = unsafeBitCast(symbol, to: stw_plugin_entry_fn.self)
        var plugin: UnsafePointer<stw_plugin>?
        guard entry(host, &plugin) == STW_OK, let plugin, plugin.pointee.adapter_count == 1, let adapter = plugin.pointee.adapters[0] else {
            throw SetupError(description: "the plugin's entry did not describe one adapter")
        }
        return adapter.pointee
    }

    /// Calls the adapter with raw input and parameters; returns the status and the message.
    static func call(task: Int32, input: String, parameters: String) throws -> (stw_status, String) {
        let adapter = try adapter()
        var response = stw_model_response()
        response.confidence = -1
        let status = input.withCString { inputPointer in
            parameters.withCString { parametersPointer in
                "raw/1/1".withCString { keyPointer in
                    var request = stw_model_request()
                    request.header = stw_struct_header(
                        struct_size: UInt32(MemoryLayout<stw_model_request>.size), abi_major: UInt16(STW_ABI_VERSION_MAJOR),
                        abi_minor: UInt16(STW_ABI_VERSION_MINOR))
                    request.host = host
                    request.idempotency_key = keyPointer
                    request.idempotency_key_length = 7
                    request.attempt = 1
                    request.task = task
                    request.prompt = nil
                    request.prompt_length = 0
                    request.input = inputPointer
                    request.input_length = strlen(inputPointer)
                    request.parameters = parametersPointer
                    request.parameters_length = strlen(parametersPointer)
                    return adapter.invoke!(&request, &response)
                }
            }
        }
        defer {
            free(response.output)
            free(response.error_message)
        }
        let message = response.error_message.map {
            String(decoding: UnsafeRawBufferPointer(start: $0, count: response.error_message_length), as: UTF8.self)
        } ?? ""
        return (status, message)
    }

    @Test(arguments: [
        (#"{"text": "where is my card"#, #"{"base_url": "http://127.0.0.1:1/v1", "model": "m"}"#, "the input is not a JSON document"),
        ("not json at all", #"{"base_url": "http://127.0.0.1:1/v1", "model": "m"}"#, "the input is not a JSON document"),
        (#"{"text": "where is my card"}"#, #"["base_url"]"#, "the parameters are not a JSON object"),
        (#"{"text": "where is my card"}"#, "{base_url:", "the parameters are not a JSON object"),
    ])
    func invalidJSONIsInvalidInput(input: String, parameters: String, message: String) throws {
        let (status, text) = try Self.call(task: STW_TASK_GENERATE, input: input, parameters: parameters)
        #expect(status == STW_ERR_INVALID_INPUT)
        #expect(text == message)
    }

    @Test func unknownTaskIsInvalidInput() throws {
        let (status, text) = try Self.call(task: 9, input: #"{"text": "x"}"#, parameters: "{}")
        #expect(status == STW_ERR_INVALID_INPUT)
        #expect(text.contains("unknown task 9"))
    }
}
