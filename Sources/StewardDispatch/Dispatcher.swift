import StewardCore
import StewardForeign
import StewardJSON
import StewardPlugins
import StewardPrompts
import StewardTemplates

/// Dispatches the executor's step invocations by callee: model adapters (rendering the
/// state's prompt first), prepared foreign functions, plugin steps.
///
/// Thread rules: `call` blocks for as long as the plugin or C function runs; the engine calls
/// it on its `BlockingCallPool`, never on the cooperative pool.
public struct Dispatcher: Sendable {
    /// Plugin steps and adapters.
    public let registry: PluginRegistry
    /// Prepared foreign functions.
    public let foreign: ForeignLibraries
    /// Versioned prompts.
    public let prompts: PromptLibrary
    /// The global output size limit, in bytes: no call's output may be larger, whatever its
    /// state's `max_output_bytes` says.
    public let maxOutputBytes: Int

    /// Creates a dispatcher.
    public init(
        registry: PluginRegistry, foreign: ForeignLibraries = ForeignLibraries(templates: [], searchPath: []), prompts: PromptLibrary = PromptLibrary(),
        maxOutputBytes: Int = OutputLimit.defaultBytes
    ) {
        self.registry = registry
        self.foreign = foreign
        self.prompts = prompts
        self.maxOutputBytes = maxOutputBytes
    }

    /// The limit of one call: its state's `max_output_bytes`, never above the global limit.
    func outputLimit(of invocation: StepInvocation) -> Int {
        min(invocation.maxOutputBytes ?? maxOutputBytes, maxOutputBytes)
    }

    /// Calls the step, foreign function or model adapter, mapping the host's errors onto
    /// the runtime's `StepFailure` (kind and message kept).
    public func call(_ invocation: StepInvocation) throws(StepFailure) -> JSONValue {
        do throws(StepCallError) {
            switch invocation.callee {
            case .model(let adapter, _):
                return try callModel(invocation, binding: adapter)
            case .foreign(let key):
                guard let function = foreign.functions[key] else {
                    throw StepCallError(step: invocation.step, kind: .unknownStep, message: "foreign function was not prepared (library or symbol missing)")
                }
                return try function.call(invocation.input, maxOutputBytes: outputLimit(of: invocation))
            case .step(let name):
                return try registry.call(
                    name, input: invocation.input, config: invocation.config, idempotencyKey: invocation.idempotencyKey,
                    attempt: invocation.attempt, callKey: invocation.callKey, maxOutputBytes: outputLimit(of: invocation))
            }
        } catch {
            throw StepFailure(FailureKind(rawValue: error.kind.rawValue), error.message)
        }
    }

    /// Calls the adapter a model state's role was pinned to. The stored output is the
    /// adapter's output object with `confidence`, `adapter` (id@version, which served the
    /// call) and `usage` added, so the instance records exactly which version answered.
    func callModel(_ invocation: StepInvocation, binding bindingText: String) throws(StepCallError) -> JSONValue {
        guard let binding = ModelBinding(bindingText) else {
            throw StepCallError(step: invocation.step, kind: .internal, message: "malformed adapter binding '\(bindingText)'")
        }
        let taskName = invocation.config["task"]?.stringValue ?? ""
        guard let task = StewardPlugins.ModelTask.allCases.first(where: { $0.description == taskName }) else {
            throw StepCallError(step: invocation.step, kind: .internal, message: "unknown model task '\(taskName)'")
        }
        var prompt = ""
        if let promptID = invocation.config["prompt"]?.stringValue {
            do {
                prompt = try prompts.render(promptID, with: invocation.input)
            } catch {
                throw StepCallError(step: invocation.step, kind: .invalidInput, message: error.description)
            }
        }
        let response = try registry.callAdapter(
            id: binding.id, version: binding.version, task: task, input: invocation.input,
            parameters: invocation.config["parameters"] ?? .emptyObject, prompt: prompt, idempotencyKey: invocation.idempotencyKey,
            attempt: invocation.attempt, callKey: invocation.callKey, maxOutputBytes: outputLimit(of: invocation))
        var output = response.output.objectValue ?? ["value": response.output]
        output["confidence"] = response.confidence.map { .double($0) } ?? .null
        output["adapter"] = .string(binding.description)
        output["usage"] = [
            "latency_us": .integer(Int64(clamping: response.usage.latencyMicroseconds)),
            "input_tokens": .integer(Int64(clamping: response.usage.inputTokens)),
            "output_tokens": .integer(Int64(clamping: response.usage.outputTokens)),
        ]
        return .object(output)
    }
}
