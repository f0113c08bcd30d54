import StewardPluginKit

enum Steps {
    /// The input as an object; every step takes one.
    static func object(_ call: StepCall) throws(StepFailure) -> [String: JSONValue] {
        guard let input = call.input.objectValue else { throw .invalidInput("input must be a JSON object") }
        return input
    }

    static func string(_ input: [String: JSONValue], _ key: String) throws(StepFailure) -> String {
        guard let value = input[key]?.stringValue else { throw .invalidInput("input field '\(key)' must be a string") }
        return value
    }

    /// {subject, body, channel?, customer?} -> {text, subject, body, channel, customer, word_count}
    static func normalize(_ call: StepCall) throws(StepFailure) -> JSONValue {
        let input = try object(call)
        let subject = collapse(input["subject"]?.stringValue ?? "")
        // A ticket from a channel that sends one `text` (or `message`) field has that as its body.
        let body = collapse(input["body"]?.stringValue ?? input["text"]?.stringValue ?? input["message"]?.stringValue ?? "")
        guard !subject.isEmpty || !body.isEmpty else { throw .invalidInput("a ticket needs a subject or a body") }
        let text = subject.isEmpty ? body : (body.isEmpty ? subject : subject + ". " + body)
        var output: [String: JSONValue] = [
            "text": .string(text), "subject": .string(subject), "body": .string(body),
            "channel": .string(input["channel"]?.stringValue ?? "email"),
            "word_count": .integer(Int64(text.split(whereSeparator: { $0 == " " }).count)),
        ]
        if let customer = input["customer"], customer.objectValue != nil { output["customer"] = customer }
        return .object(output)
    }

    /// {category, routes: {category: {queue, priority}, default: {...}}} -> {queue, priority, category}
    static func route(_ call: StepCall) throws(StepFailure) -> JSONValue {
        let input = try object(call)
        let category = try string(input, "category")
        guard let routes = input["routes"]?.objectValue else {
            throw .invalidInput("input field 'routes' must be an object of category -> {queue, priority}")
        }
        guard let route = (routes[category] ?? routes["default"])?.objectValue,
            let queue = route["queue"]?.stringValue, let priority = route["priority"]?.stringValue
        else {
            throw .invalidInput("no route for category '\(category)' and no 'default' route with queue and priority")
        }
        return ["queue": .string(queue), "priority": .string(priority), "category": .string(category)]
    }

    /// {category, subject, name?, replies: {category: text, default: text}} -> {subject, body}
    static func draftReply(_ call: StepCall) throws(StepFailure) -> JSONValue {
        let input = try object(call)
        let category = try string(input, "category")
        let subject = input["subject"]?.stringValue ?? ""
        let replies = input["replies"]?.objectValue ?? [:]
        guard let template = (replies[category] ?? replies["default"])?.stringValue else {
            throw .invalidInput("no reply template for category '\(category)' and no 'default'")
        }
        let name = input["name"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "there"
        let body = "Hi \(name),\n\n" + template + "\n\n" + (call.config["signature"]?.stringValue ?? "The Support Team")
        return ["subject": .string(subject.isEmpty ? "Your request" : "Re: " + subject), "body": .string(body)]
    }

    /// {reply: {subject, body}, to?, channel?} -> {sent: true, message_id, channel, characters}
    static func sendReply(_ call: StepCall) throws(StepFailure) -> JSONValue {
        let input = try object(call)
        guard let body = input["reply"]?["body"]?.stringValue, !body.isEmpty else {
            throw .invalidInput("input field 'reply' must be an object with a non-empty 'body'")
        }
        // The message id derives from the idempotency key, so a re-run sends the same message.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in call.idempotencyKey.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return [
            "sent": true, "message_id": .string("msg-" + String(hash, radix: 16)),
            "channel": .string(input["channel"]?.stringValue ?? "email"), "characters": .integer(Int64(body.count)),
        ]
    }

    static func collapse(_ text: String) -> String {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).joined(separator: " ")
    }
}
