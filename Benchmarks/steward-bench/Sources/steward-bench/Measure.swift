import StewardJSON

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a benchmark could not produce a figure.
struct BenchError: Error, CustomStringConvertible {
    /// A readable explanation.
    let description: String
    init(_ description: String) { self.description = description }
}

/// The monotonic clock in nanoseconds.
func nowNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// Seconds elapsed since `start` (a `nowNanoseconds()` reading).
func secondsSince(_ start: UInt64) -> Double {
    Double(nowNanoseconds() - start) / 1e9
}

/// Keeps the optimiser from deleting a computation whose result is otherwise unused.
@inline(never) @_optimize(none)
func blackHole<T>(_ value: T) {}

/// Nearest-rank percentile of an ascending array (p in 0...100).
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

/// The median of unsorted values.
func median(_ values: [Double]) -> Double {
    percentile(values.sorted(), 50)
}

/// Reads a `kB` field (`VmHWM`, `VmRSS`) of `/proc/self/status`, in bytes.
func processStatusBytes(_ field: String) -> Int64? {
    guard let file = fopen("/proc/self/status", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard text.hasPrefix(field + ":") else { continue }
        let digits = text.dropFirst(field.count + 1).filter(\.isNumber)
        return Int64(digits).map { $0 * 1024 }
    }
    return nil
}

/// The size of a file in bytes, 0 when it does not exist.
func fileSize(_ path: String) -> Int64 {
    var info = stat()
    guard stat(path, &info) == 0 else { return 0 }
    return Int64(info.st_size)
}

/// Runs `body(i)` for i in 0..<count with at most `concurrency` in flight.
func forEachConcurrently(
    count: Int, concurrency: Int, _ body: @Sendable @escaping (Int) async throws -> Void
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = 0
        while next < min(max(concurrency, 1), count) {
            let index = next
            group.addTask { try await body(index) }
            next += 1
        }
        while try await group.next() != nil {
            if next < count {
                let index = next
                group.addTask { try await body(index) }
                next += 1
            }
        }
    }
}

extension JSONValue {
    /// A JSON number from a Double, rounded to `places` decimals (NaN becomes null).
    static func number(_ value: Double, places: Int = 3) -> JSONValue {
        guard value.isFinite else { return .null }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return .double((value * scale).rounded() / scale)
    }

    /// A JSON integer.
    static func int(_ value: some BinaryInteger) -> JSONValue { .integer(Int64(value)) }
}
