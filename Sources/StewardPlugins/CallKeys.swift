/// A key as C sees it: NUL-terminated, with its length in bytes (the NUL excluded). Valid only
/// inside the `CallKeys.with` call that made it.
struct CKey {
    let pointer: UnsafePointer<CChar>
    let length: Int
}

/// The two keys every step and model call carries (`idempotency_key` and, since ABI 1.1,
/// `call_key`), made NUL-terminated on the stack for the duration of one call.
enum CallKeys {
    /// Calls `body` with both keys as C strings. Without an explicit `callKey`, the call key is
    /// `idempotencyKey` without its trailing `/<attempt>` (the whole key when it does not end
    /// that way), so every attempt of one call shares it. Both keys are copied once, into one
    /// stack buffer (this runs on every plugin call).
    static func with<R>(idempotencyKey: String, callKey: String?, attempt: Int, _ body: (CKey, CKey) -> R) -> R {
        let keyLength = idempotencyKey.utf8.count
        let callLength = callKey?.utf8.count ?? keyLength
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: keyLength + callLength + 2) { buffer in
            copy(idempotencyKey, into: buffer, at: 0)
            buffer[keyLength] = 0
            let derived: Int
            if let callKey {
                copy(callKey, into: buffer, at: keyLength + 1)
                derived = callLength
            } else {
                derived = derivedLength(UnsafeBufferPointer(rebasing: buffer[0..<keyLength]), attempt: attempt)
                UnsafeMutableRawPointer(buffer.baseAddress! + keyLength + 1).copyMemory(from: buffer.baseAddress!, byteCount: derived)
            }
            buffer[keyLength + 1 + derived] = 0
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            return body(CKey(pointer: base, length: keyLength), CKey(pointer: base + keyLength + 1, length: derived))
        }
    }

    /// Copies the UTF-8 bytes of `text` into `buffer` from `offset` (with one memcpy for a
    /// native string).
    private static func copy(_ text: String, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { bytes in
            guard let source = bytes.baseAddress, bytes.count > 0 else { return }
            UnsafeMutableRawPointer(buffer.baseAddress! + offset).copyMemory(from: source, byteCount: bytes.count)
        }
        if copied == nil {
            for (index, byte) in text.utf8.enumerated() { buffer[offset + index] = byte }
        }
    }

    /// The length of `key` without a trailing `/<attempt>` written in decimal, or its whole
    /// length when it has none.
    static func derivedLength(_ key: UnsafeBufferPointer<UInt8>, attempt: Int) -> Int {
        var index = key.count
        var value = 0
        var scale = 1
        while index > 0, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(key[index - 1]), scale <= 1_000_000_000_000 {
            value += Int(key[index - 1] - UInt8(ascii: "0")) * scale
            scale *= 10
            index -= 1
        }
        let digits = key.count - index
        // "/0"-style leading zeros never come from a decimal attempt number, so they are not one.
        guard digits > 0, index > 0, key[index - 1] == UInt8(ascii: "/"), value == attempt,
            digits == 1 || key[index] != UInt8(ascii: "0")
        else { return key.count }
        return index - 1
    }
}
