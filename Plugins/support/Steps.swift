import StewardABI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed step, mapped to an ABI status.
struct StepError: Error {
    let status: stw_status
    let message: String

    static func invalid(_ message: String) -> StepError { StepError(status: stw_status(STW_ERR_INVALID_INPUT), message: message) }
}

/// The decoded call.
struct StepContext {
    let input: [String: Any]
    let config: [String: Any]
    let idempotencyKey: String

    init(_ call: stw_step_call) throws(StepError) {
        guard let input = JSON.decodeObject(call.input, call.input_length) else {
            throw .invalid("input must be a JSON object")
        }
        self.input = input
        self.config = JSON.decodeObject(call.config, call.config_length) ?? [:]
        self.idempotencyKey = call.idempotency_key.map { String(cString: $0) } ?? ""
    }

    func string(_ key: String) throws(StepError) -> String {
        guard let value = input[key] as? String else { throw .invalid("input field '\(key)' must be a string") }
        return value
    }
}

enum Steps {
    /// {subject, body, channel?, customer?} -> {text, subject, body, channel, customer, word_count}
    static func normalize(_ context: StepContext) throws(StepError) -> [String: Any] {
        let subject = collapse((context.input["subject"] as? String) ?? "")
        let body = collapse((context.input["body"] as? String) ?? "")
        guard !subject.isEmpty || !body.isEmpty else { throw .invalid("a ticket needs a subject or a body") }
        let text = subject.isEmpty ? body : (body.isEmpty ? subject : subject + ". " + body)
        var output: [String: Any] = [
            "text": text, "subject": subject, "body": body,
            "channel": (context.input["channel"] as? String) ?? "email",
            "word_count": text.split(whereSeparator: { $0 == " " }).count,
        ]
        if let customer = context.input["customer"] as? [String: Any] { output["customer"] = customer }
        return output
    }

    /// {category, routes: {category: {queue, priority}, default: {...}}} -> {queue, priority, category}
    static func route(_ context: StepContext) throws(StepError) -> [String: Any] {
        let category = try context.string("category")
        guard let routes = context.input["routes"] as? [String: Any] else {
            throw .invalid("input field 'routes' must be an object of category -> {queue, priority}")
        }
        guard let route = (routes[category] ?? routes["default"]) as? [String: Any],
            let queue = route["queue"] as? String, let priority = route["priority"] as? String
        else {
            throw .invalid("no route for category '\(category)' and no 'default' route with queue and priority")
        }
        return ["queue": queue, "priority": priority, "category": category]
    }

    /// {category, subject, name?, replies: {category: text, default: text}} -> {subject, body}
    static func draftReply(_ context: StepContext) throws(StepError) -> [String: Any] {
        let category = try context.string("category")
        let subject = (context.input["subject"] as? String) ?? ""
        let replies = (context.input["replies"] as? [String: Any]) ?? [:]
        guard let template = (replies[category] ?? replies["default"]) as? String else {
            throw .invalid("no reply template for category '\(category)' and no 'default'")
        }
        let name = (context.input["name"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "there"
        let body = "Hi \(name),\n\n" + template + "\n\n" + ((context.config["signature"] as? String) ?? "The Support Team")
        return ["subject": subject.isEmpty ? "Your request" : "Re: " + subject, "body": body]
    }

    /// {reply: {subject, body}, to?, channel?} -> {sent: true, message_id, channel}
    static func sendReply(_ context: StepContext) throws(StepError) -> [String: Any] {
        guard let reply = context.input["reply"] as? [String: Any], let body = reply["body"] as? String, !body.isEmpty else {
            throw .invalid("input field 'reply' must be an object with a non-empty 'body'")
        }
        // The message id derives from the idempotency key, so a re-run sends the same message.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in context.idempotencyKey.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return [
            "sent": true, "message_id": "msg-" + String(hash, radix: 16),
            "channel": (context.input["channel"] as? String) ?? "email", "characters": body.count,
        ]
    }

    static func collapse(_ text: String) -> String {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).joined(separator: " ")
    }
}
