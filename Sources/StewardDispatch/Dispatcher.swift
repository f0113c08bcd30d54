import StewardForeign
import StewardJSON
import StewardPlugins
import StewardPrompts
import StewardRuntime
import StewardTemplates

/// Dispatches the executor's step invocations by name: `model:<id>@<version>` to model
/// adapters (rendering the state's prompt first), `ffi:...` to prepared foreign functions,
/// everything else to plugin steps.
public struct Dispatcher: StepInvoker {
    /// Plugin steps and adapters.
    public let registry: PluginRegistry
    /// Prepared foreign functions.
    public let foreign: ForeignLibraries
    /// Versioned prompts.
    public let prompts: PromptLibrary

    /// Creates a dispatcher.
    public init(registry: PluginRegistry, foreign: ForeignLibraries = ForeignLibraries(templates: [], searchPath: []), prompts: PromptLibrary = PromptLibrary()) {
        self.registry = registry
        self.foreign = foreign
        self.prompts = prompts
    }

    /// Calls the step, foreign function or model adapter.
    public func invoke(_ invocation: StepInvocation) throws(StepCallError) -> JSONValue {
        if invocation.step.hasPrefix("model:") { return try callModel(invocation) }
        if invocation.step.hasPrefix("ffi:") {
            guard let function = foreign.functions[invocation.step] else {
                throw StepCallError(step: invocation.step, kind: .unknownStep, message: "foreign function was not prepared (library or symbol missing)")
            }
            return try function.call(invocation.input)
        }
        return try registry.invoke(invocation)
    }

    /// Calls the adapter a model state's role was pinned to. The stored output is the
    /// adapter's output object with `confidence`, `adapter` (id@version, which served the
    /// call) and `usage` added, so the instance records exactly which version answered.
    func callModel(_ invocation: StepInvocation) throws(StepCallError) -> JSONValue {
        let bindingText = String(invocation.step.dropFirst("model:".count))
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
            attempt: invocation.attempt)
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
