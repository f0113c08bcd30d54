import StewardPluginKit

/// The chat request: a system message fixing the JSON answer's shape per task, and a user
/// message with the rendered prompt (or, without one, the input).
enum Conversation {
    /// The `/chat/completions` body, in JSON output mode.
    static func body(task: ModelTask, prompt: String, input: JSONValue, settings: Settings) throws(StepFailure) -> String {
        var body: [String: JSONValue] = [
            "model": .string(settings.model),
            "messages": [
                ["role": "system", "content": .string(instructions(task: task, settings: settings))],
                ["role": "user", "content": .string(try userMessage(task: task, prompt: prompt, input: input))],
            ],
            "response_format": ["type": "json_object"],
            "temperature": .double(settings.temperature),
        ]
        if let maxTokens = settings.maxTokens { body["max_tokens"] = .integer(Int64(maxTokens)) }
        return JSONValue.object(body).jsonString
    }

    /// What to answer and in which JSON shape. JSON mode needs the word "JSON" in the messages.
    static func instructions(task: ModelTask, settings: Settings) -> String {
        let confidence = "\"confidence\": a number from 0 to 1, how sure you are"
        switch task {
        case .classify:
            var text = "You classify the user's message. Answer with a JSON object only: {\"label\": the label, \(confidence), \"alternatives\": [{\"label\": ..., \"confidence\": ...}] for the next most likely labels}."
            if let labels = settings.labels {
                text += " The label must be exactly one of: " + labels.joined(separator: ", ") + "."
            }
            return text
        case .extract:
            var text = "You extract information from the user's message. Answer with a JSON object only, one member per field"
            if let fields = settings.fields {
                text += ", with exactly these fields: " + fields.joined(separator: ", ") + "; use null for a field the message does not give"
            }
            return text + "."
        case .generate:
            return "You write text for a customer-support team. Answer with a JSON object only: {\"text\": the text you wrote}, unless the user asks for other fields."
        case .score:
            return "You score the user's message. Answer with a JSON object only: {\"score\": a number, \(confidence)}."
        }
    }

    /// The rendered prompt as is; without one, a default request built from the input.
    static func userMessage(task: ModelTask, prompt: String, input: JSONValue) throws(StepFailure) -> String {
        if prompt.contains(where: { !$0.isWhitespace }) { return prompt }
        var subject: String
        switch input {
        case .string(let text):
            subject = text
        case .object(let members) where members.count == 1 && members["text"]?.stringValue != nil:
            subject = members["text"]!.stringValue!
        case .null, .object([:]), .array([]):
            subject = ""
        default:
            subject = "Input (JSON):\n" + input.jsonString
        }
        guard subject.contains(where: { !$0.isWhitespace }) else {
            throw .invalidInput("nothing to send: the prompt is empty and the input holds no text")
        }
        let verb: String
        switch task {
        case .classify: verb = "Classify this message."
        case .extract: verb = "Extract the fields from this message."
        case .generate: verb = "Write the text this input asks for."
        case .score: verb = "Score this message."
        }
        return verb + "\n\n" + subject
    }
}
