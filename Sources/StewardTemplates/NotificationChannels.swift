import StewardJSON
import Yams

/// Where notifications are delivered (`workflows/notifications.yaml`): webhook channels (signed
/// with an HMAC key read from the environment) and e-mail channels (SMTP), each for some
/// recipients and customers.
public struct NotificationChannels: Sendable, Hashable {
    /// The channels, in file order.
    public var channels: [NotificationChannel]
    /// The file.
    public var file: String

    /// Creates a configuration.
    public init(channels: [NotificationChannel], file: String) {
        self.channels = channels
        self.file = file
    }
}

/// Where an e-mail channel's messages go: an SMTP server (plain, no authentication) and the addresses.
public struct EmailTarget: Sendable, Hashable {
    /// The SMTP server's host.
    public var host: String
    /// Its port (default 25).
    public var port: Int
    /// The envelope and header sender.
    public var from: String
    /// The addresses each message goes to.
    public var to: [String]

    /// Creates a target.
    public init(host: String, port: Int, from: String, to: [String]) {
        self.host = host
        self.port = port
        self.from = from
        self.to = to
    }
}

/// One delivery channel.
public struct NotificationChannel: Sendable, Hashable {
    /// What a channel delivers to.
    public enum Target: Sendable, Hashable {
        /// JSON POSTs to `url`, signed with the HMAC-SHA256 key in the environment variable
        /// `secretEnvironment` (the key never sits in a file).
        case webhook(url: String, secretEnvironment: String)
        /// Messages over SMTP.
        case email(EmailTarget)
    }

    /// Its name (unique; the delivery log names it).
    public var name: String
    /// Where it delivers.
    public var target: Target
    /// The recipients it carries (nil: every recipient).
    public var recipients: [String]?
    /// The customers whose notifications it carries (nil: every customer, and notifications of no customer).
    public var customers: [String]?
    /// Attempts before a delivery is dead-lettered.
    public var maxAttempts: Int
    /// The wait before the second attempt, in milliseconds; it doubles each attempt (with
    /// jitter), up to `maxBackoff`.
    public var backoff: Int64
    /// The longest wait between attempts, in milliseconds.
    public var maxBackoff: Int64
    /// Where it is written.
    public var location: SourceLocation

    /// Whether the channel carries a notification for `recipient` about an instance of `customer`.
    public func carries(recipient: String, customer: String?) -> Bool {
        (recipients.map { $0.contains(recipient) } ?? true) && (customers.map { customer.map($0.contains) ?? false } ?? true)
    }
}

extension TemplateParser {
    static let channelKeys = ["name", "webhook", "secret_env", "email", "recipients", "customers", "max_attempts", "backoff", "max_backoff"]

    /// Parses `notifications.yaml`, reporting every problem with its location.
    /// - Throws: `TemplateErrors` listing every problem.
    public static func parseNotificationChannels(_ text: String, file: String) throws(TemplateErrors) -> NotificationChannels {
        var reader = YAMLReader(file: file)
        let root = try compose(text, file: file, expected: "a notification channel list")
        guard let top = reader.entries(of: root, context: "the notification channels", allowed: ["channels"]) else {
            throw TemplateErrors(reader.diagnostics)
        }
        var channels: [NotificationChannel] = []
        if let listNode = reader.required(top, "channels", in: root, context: "the notification channels") {
            if case .sequence(let items) = listNode {
                for item in items {
                    guard let entries = reader.entries(of: item, context: "a channel", allowed: channelKeys) else { continue }
                    let name = reader.string(reader.required(entries, "name", in: item, context: "a channel"), "'name' of a channel")
                    let context = "channel '\(name ?? "?")'"
                    var target: NotificationChannel.Target?
                    if entries["webhook"] != nil, entries["email"] != nil {
                        reader.error(item, "\(context) has both 'webhook' and 'email'; expected one of them")
                    } else if entries["webhook"] == nil, entries["email"] == nil {
                        reader.error(item, "\(context) delivers nowhere; expected 'webhook' (a URL) or 'email' (an SMTP server and addresses)")
                    }
                    if let urlNode = entries["webhook"]?.value, let url = reader.string(urlNode, "'webhook' of \(context)") {
                        if !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                            reader.error(urlNode, "'webhook' of \(context) must be an http:// or https:// URL, found '\(url)'")
                        }
                        let secret = reader.string(reader.required(entries, "secret_env", in: item, context: context), "'secret_env' of \(context)")
                        if let secret { target = .webhook(url: url, secretEnvironment: secret) }
                    }
                    if let emailNode = entries["email"]?.value,
                        let email = reader.entries(of: emailNode, context: "'email' of \(context)", allowed: ["host", "port", "from", "to"])
                    {
                        if let entry = entries["secret_env"] { reader.error(entry.key, "'secret_env' applies to webhook channels (\(context))") }
                        let host = reader.string(reader.required(email, "host", in: emailNode, context: "'email' of \(context)"), "'email.host' of \(context)")
                        let port = reader.integer(email["port"]?.value, "'email.port' of \(context)", range: 1...65_535) ?? 25
                        let from = reader.string(reader.required(email, "from", in: emailNode, context: "'email' of \(context)"), "'email.from' of \(context)")
                        let to = email["to"].flatMap { reader.stringList($0.value, "'email.to' of \(context)") } ?? []
                        if email["to"] == nil { reader.error(emailNode, "missing 'to' in 'email' of \(context); expected the addresses messages go to") }
                        for address in to + [from].compactMap({ $0 }) where !address.contains("@") || address.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "<" || $0 == ">" }) {
                            reader.error(emailNode, "'\(address)' in 'email' of \(context) is not an e-mail address")
                        }
                        if let host, let from, !to.isEmpty { target = .email(EmailTarget(host: host, port: port, from: from, to: to)) }
                    }
                    let recipients = entries["recipients"].flatMap { reader.stringList($0.value, "'recipients' of \(context)") }
                    let customers = entries["customers"].flatMap { reader.stringList($0.value, "'customers' of \(context)") }
                    let attempts = reader.integer(entries["max_attempts"]?.value, "'max_attempts' of \(context)", range: 1...100) ?? 8
                    func duration(_ key: String, _ fallback: Int64) -> Int64 {
                        guard let node = entries[key]?.value, let text = reader.string(node, "'\(key)' of \(context)") else { return fallback }
                        guard let parsed = parseDurationMilliseconds(text), parsed > 0 else {
                            reader.error(node, "expected a duration like 30s, 5m or 1h for '\(key)' of \(context), found '\(text)'")
                            return fallback
                        }
                        return parsed
                    }
                    let backoff = duration("backoff", 1_000)
                    let maxBackoff = duration("max_backoff", 3_600_000)
                    if let name, channels.contains(where: { $0.name == name }) {
                        reader.error(entries["name"]?.value, "duplicate channel name '\(name)'; expected each name once")
                        continue
                    }
                    guard let name, let target else { continue }
                    channels.append(NotificationChannel(
                        name: name, target: target, recipients: recipients, customers: customers, maxAttempts: attempts,
                        backoff: backoff, maxBackoff: max(maxBackoff, backoff), location: reader.location(of: item)))
                }
            } else {
                reader.error(listNode, "expected a list of channels for 'channels', found \(YAMLReader.describe(listNode))")
            }
        }
        guard reader.diagnostics.isEmpty else { throw TemplateErrors(reader.diagnostics) }
        return NotificationChannels(channels: channels, file: file)
    }
}
