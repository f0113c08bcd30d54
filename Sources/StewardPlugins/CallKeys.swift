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
    /// that way), so every attempt of one call shares it.
    static func with<R>(idempotencyKey: String, callKey: String?, attempt: Int, _ body: (CKey, CKey) -> R) -> R {
        var key = idempotencyKey
        return key.withUTF8 { keyBytes in
            terminated(keyBytes) { cKey in
                guard var explicit = callKey else {
                    let prefix = UnsafeBufferPointer(rebasing: keyBytes[..<derivedLength(keyBytes, attempt: attempt)])
                    return terminated(prefix) { body(cKey, $0) }
                }
                return explicit.withUTF8 { callBytes in terminated(callBytes) { body(cKey, $0) } }
            }
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

    /// Copies `bytes` with a NUL after them into stack memory and calls `body` with it.
    private static func terminated<R>(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (CKey) -> R) -> R {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { buffer in
            bytes.withMemoryRebound(to: CChar.self) { source in _ = buffer.initialize(fromContentsOf: source) }
            buffer[bytes.count] = 0
            return body(CKey(pointer: UnsafePointer(buffer.baseAddress!), length: bytes.count))
        }
    }
}
