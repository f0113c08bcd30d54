import Crypto
import Foundation
import StewardDigest
import StewardEngine
import StewardJSON

/// An audit key, a head or a signature that cannot be used, with a readable reason.
public struct AuditKeyError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, in a sentence.
    public let message: String

    init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// 32 key bytes from text: 64 hex digits or the base64 of 32 bytes (surrounding whitespace
/// ignored). `what` names the key in the error.
func keyBytes(_ text: String, what: String) throws(AuditKeyError) -> [UInt8] {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    if trimmed.count == 64, let bytes = Hex.decode(trimmed) { return bytes }
    if let data = Data(base64Encoded: trimmed), data.count == 32 { return Array(data) }
    throw AuditKeyError("\(what) must be 32 bytes written as 64 hex digits or as base64 (got \(trimmed.count) characters)")
}

/// The key that signs audit heads: an Ed25519 private key kept outside the database (a file or
/// `STEWARD_AUDIT_KEY`), as its raw 32-byte seed.
public struct AuditSigningKey: Sendable {
    /// The seed; swift-crypto's key types are not `Sendable`, so they are made on use.
    let seed: [UInt8]
    var key: Curve25519.Signing.PrivateKey {
        // The seed was checked when this value was made.
        try! Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    }

    /// A new random key.
    public init() { seed = Array(Curve25519.Signing.PrivateKey().rawRepresentation) }

    /// The key whose seed `text` spells (64 hex digits or base64); throws when it is not 32 bytes.
    public init(seed text: String) throws(AuditKeyError) {
        let bytes = try keyBytes(text, what: "the audit signing key")
        do { seed = Array(try Curve25519.Signing.PrivateKey(rawRepresentation: bytes).rawRepresentation) } catch {
            throw AuditKeyError("the audit signing key is not a valid Ed25519 seed: \(error)")
        }
    }

    /// The seed as 64 hex digits (what `steward audit keygen` writes to the key file).
    public var seedHex: String { Hex.encode(seed) }

    /// The public half, which verifies the heads this key signs.
    public var publicKey: AuditPublicKey { AuditPublicKey(bytes: Array(key.publicKey.rawRepresentation)) }

    /// Signs `head` as of `at` (ms since 1970).
    public func sign(_ head: JournalHead, at: Int64) throws -> SignedAuditHead {
        var signed = SignedAuditHead(head: head, at: at, publicKey: publicKey.hex, signature: "")
        signed.signature = Data(try key.signature(for: signed.signedBytes)).base64EncodedString()
        return signed
    }
}

/// The public half of an audit key (configured as `STEWARD_AUDIT_PUBLIC_KEY` or a file).
public struct AuditPublicKey: Sendable, Equatable {
    /// The raw key (32 bytes, checked when this value was made).
    let bytes: [UInt8]

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// The key `text` spells (64 hex digits or base64).
    public init(_ text: String) throws(AuditKeyError) {
        let bytes = try keyBytes(text, what: "the audit public key")
        do { self.bytes = Array(try Curve25519.Signing.PublicKey(rawRepresentation: bytes).rawRepresentation) } catch {
            throw AuditKeyError("the audit public key is not a valid Ed25519 key: \(error)")
        }
    }

    /// The key as 64 hex digits.
    public var hex: String { Hex.encode(bytes) }

    /// Whether `head`'s signature is this key's signature of its fields.
    public func verifies(_ head: SignedAuditHead) -> Bool {
        guard let signature = Data(base64Encoded: head.signature),
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes)
        else { return false }
        return key.isValidSignature(signature, for: head.signedBytes)
    }
}

/// A journal head with the time it was taken, signed: what an operator anchors outside the
/// database (a log service, a ticket) and later passes to `steward audit verify --expect`.
///
/// The signature covers every field but itself and the public key (which is only a hint: a
/// verifier uses the key it is configured with), as the UTF-8 of
/// `steward-audit-head/1\n<last_id>\n<last_hash>\n<rows>\n<reviewers>\n<tasks>\n<at>`.
public struct SignedAuditHead: Sendable, Equatable {
    /// The `format` field of the JSON form.
    public static let format = "steward-audit-head/1"

    /// The journal's end and table sizes.
    public var head: JournalHead
    /// When the head was taken, ms since 1970.
    public var at: Int64
    /// The signer's public key, hex (informational).
    public var publicKey: String
    /// The Ed25519 signature, base64.
    public var signature: String

    /// Creates a head from its parts (not checked; see `AuditPublicKey.verifies`).
    public init(head: JournalHead, at: Int64, publicKey: String, signature: String) {
        (self.head, self.at, self.publicKey, self.signature) = (head, at, publicKey, signature)
    }

    var signedBytes: Data {
        Data("\(Self.format)\n\(head.lastID)\n\(head.lastHash)\n\(head.rows)\n\(head.reviewers)\n\(head.tasks)\n\(at)".utf8)
    }

    /// The JSON form `steward audit head` prints.
    public var json: JSONValue {
        [
            "format": .string(Self.format), "journal_last_id": .integer(head.lastID), "journal_last_hash": .string(head.lastHash),
            "journal_rows": .integer(Int64(head.rows)), "reviewers": .integer(Int64(head.reviewers)),
            "review_tasks": .integer(Int64(head.tasks)), "at": .integer(at),
            "at_utc": .string(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(at) / 1000))),
            "public_key": .string(publicKey), "signature": .string(signature),
        ]
    }

    /// Reads the JSON form; throws naming the first missing or mistyped field.
    public init(json: JSONValue) throws(AuditKeyError) {
        guard json["format"]?.stringValue == Self.format else {
            throw AuditKeyError("not a signed audit head: its format must be \"\(Self.format)\"")
        }
        func integer(_ key: String) throws(AuditKeyError) -> Int64 {
            guard let value = json[key]?.integerValue else { throw AuditKeyError("the audit head has no integer \"\(key)\"") }
            return value
        }
        func string(_ key: String) throws(AuditKeyError) -> String {
            guard let value = json[key]?.stringValue else { throw AuditKeyError("the audit head has no string \"\(key)\"") }
            return value
        }
        head = JournalHead(
            lastID: try integer("journal_last_id"), lastHash: try string("journal_last_hash"), rows: Int(try integer("journal_rows")),
            reviewers: Int(try integer("reviewers")), tasks: Int(try integer("review_tasks")))
        at = try integer("at")
        publicKey = try string("public_key")
        signature = try string("signature")
    }
}
