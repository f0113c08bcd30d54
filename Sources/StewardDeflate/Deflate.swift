import CZlib
import Synchronization

// Written on zlib directly rather than with compress-nio (the mirrored zlib package): its
// one-shot calls take and return NIO ByteBuffers and set up a fresh deflate state (~256 KiB)
// per call, while the store compresses one small payload per transition and wants to reuse
// a few states across calls.

/// One-shot raw deflate (RFC 1951) of small documents, on reused zlib streams.
///
/// Thread rules: every function may be called from any thread at once; each call borrows a
/// stream from a small pool for its duration (it never blocks on another call's work).
public enum Deflate {
    /// A zlib failure; `code` is zlib's return code.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let code: Int32
        public let operation: String
        public var description: String { "\(operation) failed (zlib \(code))" }
    }

    /// `bytes` deflated at `level` (1 fastest ... 9 smallest). The default, 1, with a small
    /// hash table (which every call clears), suits documents of a few KiB: on the store's
    /// journal payloads and snapshots it comes within 5% of level 6's size at a fraction of
    /// the time.
    public static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = 1) -> [UInt8] {
        let stream = deflaters.borrow(level: level)
        defer { deflaters.giveBack(stream) }
        let bound = Int(deflateBound(stream.pointer, uLong(bytes.count)))
        return [UInt8](unsafeUninitializedCapacity: bound) { output, written in
            stream.pointer.pointee.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointer.pointee.avail_in = uInt(bytes.count)
            stream.pointer.pointee.next_out = output.baseAddress
            stream.pointer.pointee.avail_out = uInt(bound)
            // deflateBound guarantees room for the whole stream, so one Z_FINISH ends it.
            let code = deflate(stream.pointer, Z_FINISH)
            precondition(code == Z_STREAM_END, "deflate with a deflateBound-sized buffer did not finish (zlib \(code))")
            written = bound - Int(stream.pointer.pointee.avail_out)
        }
    }

    /// Inflates a stream made by `compress` whose inflated size is exactly `size` bytes.
    /// - Throws: `Failure` when the bytes are not a complete deflate stream of that size.
    public static func decompress(_ bytes: UnsafeRawBufferPointer, size: Int) throws(Failure) -> [UInt8] {
        let stream = inflaters.borrow(level: 0)
        defer { inflaters.giveBack(stream) }
        var code: Int32 = Z_OK
        let result = [UInt8](unsafeUninitializedCapacity: max(size, 1)) { output, written in
            stream.pointer.pointee.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointer.pointee.avail_in = uInt(bytes.count)
            stream.pointer.pointee.next_out = output.baseAddress
            stream.pointer.pointee.avail_out = uInt(size)
            code = inflate(stream.pointer, Z_FINISH)
            written = size - Int(stream.pointer.pointee.avail_out)
        }
        guard code == Z_STREAM_END, result.count == size, stream.pointer.pointee.avail_in == 0 else {
            throw Failure(code: code == Z_STREAM_END ? Z_DATA_ERROR : code, operation: "inflating \(bytes.count) bytes to \(size)")
        }
        return result
    }

    private static let deflaters = StreamPool(deflating: true)
    private static let inflaters = StreamPool(deflating: false)
}

/// A zlib stream owned by whoever borrowed it from a `StreamPool`.
// @unchecked Sendable: the pointer is used by one borrower at a time (the pool's mutex hands
// it out and takes it back), never shared between threads concurrently.
final class ZStream: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<z_stream>
    let level: Int32
    let deflating: Bool

    init(deflating: Bool, level: Int32) {
        self.deflating = deflating
        self.level = level
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: z_stream())
        // mem_level 5: 4,096 hash heads (8 KiB to clear per call instead of 64 KiB at zlib's default).
        let code = deflating ? stw_deflate_init_raw(pointer, level, 5) : stw_inflate_init_raw(pointer)
        // Only Z_MEM_ERROR (out of memory) or a bad level can fail here.
        precondition(code == Z_OK, "zlib stream init failed (zlib \(code))")
    }

    /// Ready for the next one-shot call.
    func reset() {
        _ = deflating ? deflateReset(pointer) : inflateReset(pointer)
    }

    deinit {
        _ = deflating ? deflateEnd(pointer) : inflateEnd(pointer)
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }
}

/// Streams kept for reuse: at most `limit` idle ones, so memory stays bounded by the number
/// of calls that ran at once (a deflate stream holds ~140 KiB, an inflate one ~40 KiB).
final class StreamPool: Sendable {
    private let idle = Mutex<[ZStream]>([])
    private let deflating: Bool
    private let limit = 8

    init(deflating: Bool) {
        self.deflating = deflating
    }

    func borrow(level: Int32) -> ZStream {
        let reused = idle.withLock { streams -> ZStream? in
            guard let index = streams.lastIndex(where: { $0.level == level }) else { return nil }
            return streams.remove(at: index)
        }
        return reused ?? ZStream(deflating: deflating, level: level)
    }

    func giveBack(_ stream: ZStream) {
        stream.reset()
        idle.withLock { streams in
            if streams.count < limit { streams.append(stream) }
        }
    }
}
