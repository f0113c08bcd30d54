import Crypto

/// SHA-256 (FIPS 180-4): the audit hash chain, reviewer tokens, pinned texts and binary
/// identities. Backed by swift-crypto (already built for the review desk's Ed25519 and the
/// webhook HMACs), so a digest allocates nothing but its 32-byte result. Checked against the
/// FIPS test vectors in the tests.
public enum SHA256 {
    /// The 32-byte digest of `message`.
    public static func hash(_ message: some Collection<UInt8>) -> [UInt8] {
        var hasher = Hasher()
        hasher.update(message)
        return hasher.finalize()
    }

    /// The digest as lower-case hex.
    public static func hex(_ message: some Collection<UInt8>) -> String {
        Hex.encode(hash(message))
    }

    /// An incremental digest: feed the pieces of a message in order, then `finalize`, instead
    /// of concatenating them first (the journal's hash chain does this on every row).
    public struct Hasher {
        private var inner = Crypto.SHA256()

        /// A hasher of the empty message.
        public init() {}

        /// Appends `bytes` to the message.
        public mutating func update(_ bytes: some Collection<UInt8>) {
            let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
                inner.update(bufferPointer: UnsafeRawBufferPointer(buffer))
            }
            if done == nil { inner.update(data: Array(bytes)) }
        }

        /// Appends the UTF-8 bytes of `text`.
        public mutating func update(utf8 text: String) {
            var text = text
            text.withUTF8 { inner.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        }

        /// Appends one byte.
        public mutating func update(byte: UInt8) {
            withUnsafeBytes(of: byte) { inner.update(bufferPointer: $0) }
        }

        /// The 32-byte digest of everything appended.
        public func finalize() -> [UInt8] {
            Array(inner.finalize())
        }
    }
}
