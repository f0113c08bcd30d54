#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The frames between the engine and a plugin host process (`steward-plugin-host`), one
/// Unix stream socket per channel, one call in flight per channel.
///
/// Every frame is a little-endian `u32` length (of what follows) and a body. The engine sends
/// requests; the host answers each with exactly one reply on the same channel, and opens
/// channel 0 with a hello (or the reason it could not load the plugin). JSON documents travel
/// as the bytes they are: the engine serialises an input once, the host hands those bytes to
/// the plugin, and the plugin's output bytes come back unchanged.
///
/// Request body: `u8 op`, `u8 task`, `u16 index` (the step's or adapter's position in the
/// hello), `u32 attempt`, `u64 deadline_ns`, `u32 max_output`, `u16 key length`, `u16 call key
/// length` (0xFFFF: none), `u32 config length`, `u32 prompt length`, then the key, call key,
/// config (a step's config, an adapter's parameters), prompt, and the input to the end.
///
/// Reply body: `u8 kind`, then for `output` the output bytes; for `adapterOutput` an `f64`
/// confidence (negative: not reported), three `u64` usage figures, then the output; for
/// `failure` and `limit` a `u8` failure kind and a UTF-8 message; for `hello` and
/// `loadFailure` a JSON document.
enum HostWire {
    /// The largest body either side accepts (a longer length is a malformed frame).
    static let maximumBody = 1 << 30
    /// The fixed part of a request body, before the variable fields.
    static let requestHeaderSize = 1 + 1 + 2 + 4 + 8 + 4 + 2 + 2 + 4 + 4
    /// "No call key" in the call-key length field.
    static let noCallKey: UInt16 = 0xFFFF

    enum Operation: UInt8 {
        case step = 1
        case adapter = 2
        /// Run the plugin's deinit and exit (no reply).
        case shutdown = 9
    }

    enum Reply: UInt8 {
        case output = 0
        case adapterOutput = 1
        case failure = 2
        /// The host's watchdog stopped a call past the plugin's CPU-time limit; it exits next.
        case limit = 3
        case hello = 4
        case loadFailure = 5
    }

    /// The failure kinds as one byte each.
    static func code(_ kind: StepCallError.Kind) -> UInt8 {
        switch kind {
        case .invalidInput: 1
        case .transient: 2
        case .permanent: 3
        case .internal: 4
        case .invalidOutput: 5
        case .unknownStep: 6
        case .unknownAdapter: 7
        }
    }

    static func kind(_ code: UInt8) -> StepCallError.Kind? {
        switch code {
        case 1: .invalidInput
        case 2: .transient
        case 3: .permanent
        case 4: .internal
        case 5: .invalidOutput
        case 6: .unknownStep
        case 7: .unknownAdapter
        default: nil
        }
    }

    /// A request's fixed fields.
    struct Request {
        var operation: Operation
        var task: UInt8 = 0
        var index: UInt16
        var attempt: UInt32
        var deadline: UInt64
        var maxOutput: UInt32
    }

    /// The length prefix and request body up to (not including) the input, for `writev`
    /// with the input as a second buffer.
    static func requestHead(
        _ request: Request, key: String, callKey: String?, config: UnsafeRawBufferPointer, prompt: UnsafeRawBufferPointer, inputCount: Int
    ) -> [UInt8] {
        var key = key
        var callKeyText = callKey ?? ""
        return key.withUTF8 { keyBytes in
            callKeyText.withUTF8 { callKeyBytes in
                let body = requestHeaderSize + keyBytes.count + callKeyBytes.count + config.count + prompt.count + inputCount
                var head: [UInt8] = []
                head.reserveCapacity(4 + body - inputCount)
                append(&head, UInt32(body))
                head.append(request.operation.rawValue)
                head.append(request.task)
                append(&head, request.index)
                append(&head, request.attempt)
                append(&head, request.deadline)
                append(&head, request.maxOutput)
                append(&head, UInt16(keyBytes.count))
                append(&head, callKey == nil ? noCallKey : UInt16(callKeyBytes.count))
                append(&head, UInt32(config.count))
                append(&head, UInt32(prompt.count))
                head.append(contentsOf: keyBytes)
                head.append(contentsOf: callKeyBytes)
                head.append(contentsOf: config)
                head.append(contentsOf: prompt)
                return head
            }
        }
    }

    /// A request as the host reads it: fixed fields and views into the frame's buffer.
    struct ReceivedRequest {
        var request: Request
        var key: String
        var callKey: String?
        var config: UnsafeRawBufferPointer
        var prompt: UnsafeRawBufferPointer
        var input: UnsafeRawBufferPointer
    }

    /// Parses a request body; nil when it is malformed (lengths past its end, unknown op).
    static func parseRequest(_ body: UnsafeRawBufferPointer) -> ReceivedRequest? {
        guard body.count >= requestHeaderSize, let operation = Operation(rawValue: body[0]) else { return nil }
        let task = body[1]
        let index: UInt16 = load(body, 2)
        let attempt: UInt32 = load(body, 4)
        let deadline: UInt64 = load(body, 8)
        let maxOutput: UInt32 = load(body, 16)
        let keyLength = Int(load(body, 20) as UInt16)
        let callKeyField: UInt16 = load(body, 22)
        let callKeyLength = callKeyField == noCallKey ? 0 : Int(callKeyField)
        let configLength = Int(load(body, 24) as UInt32)
        let promptLength = Int(load(body, 28) as UInt32)
        var offset = requestHeaderSize
        let fixed = keyLength + callKeyLength + configLength + promptLength
        guard fixed <= body.count - offset else { return nil }
        func slice(_ count: Int) -> UnsafeRawBufferPointer {
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: body[offset..<offset + count])
        }
        let key = String(decoding: slice(keyLength), as: UTF8.self)
        let callKeyBytes = slice(callKeyLength)
        let callKey = callKeyField == noCallKey ? nil : String(decoding: callKeyBytes, as: UTF8.self)
        let config = slice(configLength)
        let prompt = slice(promptLength)
        let input = slice(body.count - offset)
        return ReceivedRequest(
            request: Request(operation: operation, task: task, index: index, attempt: attempt, deadline: deadline, maxOutput: maxOutput),
            key: key, callKey: callKey, config: config, prompt: prompt, input: input)
    }

    /// A reply frame: length, kind, then `fields` and `payload`.
    static func reply(_ kind: Reply, fields: [UInt8] = [], payload: UnsafeRawBufferPointer) -> [UInt8] {
        var frame: [UInt8] = []
        frame.reserveCapacity(5 + fields.count + payload.count)
        append(&frame, UInt32(1 + fields.count + payload.count))
        frame.append(kind.rawValue)
        frame.append(contentsOf: fields)
        frame.append(contentsOf: payload)
        return frame
    }

    /// A `failure` or `limit` reply.
    static func failure(_ kind: StepCallError.Kind, _ message: String, reply: Reply = .failure) -> [UInt8] {
        var message = message
        return message.withUTF8 { bytes in HostWire.reply(reply, fields: [code(kind)], payload: UnsafeRawBufferPointer(bytes)) }
    }

    static func append<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    static func load<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

/// Blocking reads and writes of whole frames on a socket.
enum FrameIO {
    /// How a read ended when it did not deliver a frame.
    enum ReadFailure: Error {
        /// The other side closed the socket (it exited, or crashed).
        case closed
        /// The deadline passed first.
        case timedOut
        /// A length past `HostWire.maximumBody`, or zero.
        case malformed(String)
        /// A read error other than the peer going away.
        case failed(Int32)
    }

    /// Writes every buffer in order (`sendmsg` with MSG_NOSIGNAL, so a peer that is gone is
    /// EPIPE rather than a SIGPIPE that would end this process; continuing after short writes).
    /// - Returns: 0, or the errno that stopped it (EPIPE when the peer is gone).
    static func write(_ fd: Int32, _ parts: [UnsafeRawBufferPointer]) -> Int32 {
        var pending = parts.filter { $0.count > 0 }
        while !pending.isEmpty {
            var vectors = pending.prefix(64).map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
            let written = vectors.withUnsafeMutableBufferPointer { buffer -> Int in
                var message = msghdr()
                message.msg_iov = buffer.baseAddress
                message.msg_iovlen = buffer.count
                return sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            var remaining = written
            while remaining > 0, let first = pending.first {
                if remaining >= first.count {
                    remaining -= first.count
                    pending.removeFirst()
                } else {
                    pending[0] = UnsafeRawBufferPointer(rebasing: first[remaining...])
                    remaining = 0
                }
            }
        }
        return 0
    }

    /// Writes one buffer (see `write(_:_:)`).
    static func write(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBytes { write(fd, [$0]) }
    }

    /// Reads exactly `count` bytes into `buffer`, waiting at most until `deadline`
    /// (CLOCK_MONOTONIC nanoseconds; 0: no deadline).
    static func readExactly(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, deadline: UInt64) throws(ReadFailure) {
        var done = 0
        while done < buffer.count {
            if deadline != 0 {
                let now = MonotonicNanoseconds.now()
                guard now < deadline else { throw .timedOut }
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let milliseconds = Int32(clamping: (deadline - now + 999_999) / 1_000_000)
                let ready = poll(&descriptor, 1, milliseconds)
                if ready < 0 {
                    if errno == EINTR { continue }
                    throw .failed(errno)
                }
                if ready == 0 { continue }
            }
            let count = read(fd, buffer.baseAddress! + done, buffer.count - done)
            if count == 0 { throw .closed }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { throw .closed }
                throw .failed(errno)
            }
            done += count
        }
    }

    /// Reads one frame's body (after its length), allocating it.
    static func readFrame(_ fd: Int32, deadline: UInt64) throws(ReadFailure) -> [UInt8] {
        // The pointer closures rethrow untyped errors, so the typed error travels in a Result.
        var prefix: [UInt8] = [0, 0, 0, 0]
        try prefix.withUnsafeMutableBytes { raw in Result { () throws(ReadFailure) in try readExactly(fd, into: raw, deadline: deadline) } }.get()
        let count = Int(prefix.withUnsafeBytes { HostWire.load($0, 0) as UInt32 })
        guard count > 0, count <= HostWire.maximumBody else { throw .malformed("a frame length of \(count) bytes") }
        var body = [UInt8](repeating: 0, count: count)
        try body.withUnsafeMutableBytes { raw in Result { () throws(ReadFailure) in try readExactly(fd, into: raw, deadline: deadline) } }.get()
        return body
    }
}
