import Foundation
import GRDB
import StewardDeflate

/// A JSON document as the store keeps it in a `journal.payload` or `instances.state` column:
/// as TEXT when it is short or does not compress, else as a BLOB of one format byte (`1`: raw
/// deflate), the inflated length (4 bytes, little-endian) and the deflate stream.
///
/// Rows written before compression existed are TEXT and read as they are, so old databases
/// need no migration. The hash chain covers the document's text, never the stored bytes, so
/// compression changes no hash and `audit verify` checks the inflated text.
enum StoredText: Sendable, DatabaseValueConvertible {
    case text(String)
    case deflated(Data)

    /// Snapshots at rest shorter than this stay TEXT (deflate gains little on them). A
    /// waiting or finished instance's snapshot stays for hours or for good, and it repeats its
    /// step outputs (`data` and `output`), so it deflates to about a third; the first snapshot
    /// of an instance that is still running stays TEXT (it is replaced within milliseconds).
    static let snapshotThreshold = 160
    /// Journal payloads shorter than this stay TEXT: one is written per transition, deflate
    /// has a fixed cost of ~12 µs per call (building its Huffman trees), and a payload of a
    /// few hundred bytes shrinks by only a third. Large step outputs are deflated.
    static let payloadThreshold = 1_024
    static let deflateFormat: UInt8 = 1

    /// Encodes `text` for storage: deflated when it is at least `threshold` bytes long and
    /// that saves at least an eighth.
    init(_ text: String, threshold: Int) {
        var text = text
        let utf8Count = text.utf8.count
        guard utf8Count >= threshold else {
            self = .text(text)
            return
        }
        let compressed = text.withUTF8 { Deflate.compress(UnsafeRawBufferPointer($0)) }
        guard compressed.count + 5 <= utf8Count - utf8Count / 8 else {
            self = .text(text)
            return
        }
        var blob = Data(capacity: compressed.count + 5)
        blob.append(Self.deflateFormat)
        withUnsafeBytes(of: UInt32(utf8Count).littleEndian) { blob.append(contentsOf: $0) }
        blob.append(contentsOf: compressed)
        self = .deflated(blob)
    }

    var databaseValue: DatabaseValue {
        switch self {
        case .text(let text): text.databaseValue
        case .deflated(let blob): blob.databaseValue
        }
    }

    static func fromDatabaseValue(_ dbValue: DatabaseValue) -> StoredText? {
        switch dbValue.storage {
        case .string(let text): .text(text)
        case .blob(let blob): .deflated(blob)
        default: nil
        }
    }

    /// The document's text.
    /// - Throws: `StoredTextError` when a BLOB has an unknown format or does not inflate.
    func decoded() throws -> String {
        switch self {
        case .text(let text): return text
        case .deflated(let blob):
            guard blob.count >= 5, blob[blob.startIndex] == Self.deflateFormat else {
                throw StoredTextError(message: "a stored document has an unknown format (\(blob.first.map(String.init) ?? "empty"))")
            }
            let size = blob.withUnsafeBytes { bytes in
                Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 1, as: UInt32.self)))
            }
            do {
                let bytes = try blob.withUnsafeBytes { raw in
                    try Deflate.decompress(UnsafeRawBufferPointer(rebasing: raw[5...]), size: size)
                }
                return String(decoding: bytes, as: UTF8.self)
            } catch {
                throw StoredTextError(message: "a stored document does not inflate: \(error)")
            }
        }
    }

    /// The text of a row's column, whichever way it is stored.
    static func text(_ row: Row, _ column: String) throws -> String {
        guard let stored = row[column] as StoredText? else {
            throw StoredTextError(message: "column \(column) holds neither text nor a stored document")
        }
        return try stored.decoded()
    }
}

/// A stored document could not be read back.
struct StoredTextError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
