import Foundation

/// The on-disk form of an `IntentModel` (`banking-intent-<version>.stwm`), little-endian:
///
///     "STWBIM\0\0"                 8 bytes of magic
///     format version               UInt32 (1)
///     metadata length, metadata    UInt32, JSON of `IntentModel.Metadata` (sorted keys)
///     terms length, terms          UInt32, the vocabulary as UTF-8 joined by "\n"
///     idf                          featureCount x Float32
///     bias                         classCount x Float32
///     weights                      featureCount x classCount x Float16 (IEEE binary16), feature-major
///
/// Weights are centred per feature before they are rounded to 16 bits (see
/// `LinearScorer.centred()`), which halves the file at no measurable cost in accuracy; the
/// trainer measures accuracy on the model as read back from this file.
public enum ModelFile {
    static let magic: [UInt8] = Array("STWBIM".utf8) + [0, 0]
    static let formatVersion: UInt32 = 1

    /// The file name of a version's weights.
    public static func fileName(version: String) -> String { "banking-intent-\(version).stwm" }

    /// Serialises a model (its scorer centred and rounded to 16-bit weights).
    public static func encode(_ model: IntentModel) -> [UInt8] {
        var bytes = magic
        append(formatVersion, to: &bytes)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let metadata = Array((try? encoder.encode(model.metadata)) ?? Data())
        append(UInt32(metadata.count), to: &bytes)
        bytes += metadata
        let terms = Array(model.features.terms.joined(separator: "\n").utf8)
        append(UInt32(terms.count), to: &bytes)
        bytes += terms
        for value in model.features.idf { append(value.bitPattern, to: &bytes) }
        let scorer = model.scorer.centred()
        for value in scorer.bias { append(value.bitPattern, to: &bytes) }
        bytes.reserveCapacity(bytes.count + scorer.weights.count * 2)
        for value in scorer.weights { append(HalfFloat.bits(value), to: &bytes) }
        return bytes
    }

    /// Reads a model from bytes; `source` names the file in errors.
    public static func decode(_ bytes: [UInt8], source: String) throws(BankingIntentError) -> IntentModel {
        var reader = Reader(bytes: bytes, source: source)
        guard Array(try reader.take(magic.count)) == magic else {
            throw BankingIntentError("\(source): not a banking-intent model file (bad magic)")
        }
        let format = try reader.uint32()
        guard format == formatVersion else {
            throw BankingIntentError("\(source): model format \(format), this build reads format \(formatVersion); retrain with banking-intent-train")
        }
        let metadataBytes = try reader.take(Int(try reader.uint32()))
        let metadata: IntentModel.Metadata
        do {
            metadata = try JSONDecoder().decode(IntentModel.Metadata.self, from: Data(metadataBytes))
        } catch {
            throw BankingIntentError("\(source): unreadable metadata: \(error)")
        }
        let termBytes = try reader.take(Int(try reader.uint32()))
        let terms = termBytes.isEmpty ? [] : termBytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        let classCount = metadata.labels.count
        let idf = try (0..<terms.count).map { _ throws(BankingIntentError) in Float(bitPattern: try reader.uint32()) }
        let bias = try (0..<classCount).map { _ throws(BankingIntentError) in Float(bitPattern: try reader.uint32()) }
        let weightBytes = Array(try reader.take(terms.count * classCount * 2))
        var weights = [Float](repeating: 0, count: terms.count * classCount)
        for index in weights.indices {
            weights[index] = HalfFloat.value(UInt16(weightBytes[2 * index]) | UInt16(weightBytes[2 * index + 1]) << 8)
        }
        guard reader.isAtEnd else { throw BankingIntentError("\(source): \(bytes.count - reader.offset) unexpected bytes at the end") }
        do {
            let features = try FeatureSpace(terms: terms, idf: idf, characterNGrams: IntentModel.characterNGrams(metadata))
            let scorer = try LinearScorer(classCount: classCount, featureCount: terms.count, weights: weights, bias: bias)
            return try IntentModel(metadata: metadata, features: features, scorer: scorer)
        } catch {
            throw BankingIntentError("\(source): \(error.description)")
        }
    }

    /// Reads a model file.
    public static func read(path: String) throws(BankingIntentError) -> IntentModel {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BankingIntentError("cannot read \(path)")
        }
        return try decode(Array(data), source: path)
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    private struct Reader {
        let bytes: [UInt8]
        let source: String
        var offset = 0

        var isAtEnd: Bool { offset == bytes.count }

        mutating func take(_ count: Int) throws(BankingIntentError) -> ArraySlice<UInt8> {
            guard count >= 0, bytes.count - offset >= count else {
                throw BankingIntentError("\(source): truncated (wanted \(count) bytes at offset \(offset) of \(bytes.count))")
            }
            defer { offset += count }
            return bytes[offset..<(offset + count)]
        }

        mutating func uint32() throws(BankingIntentError) -> UInt32 {
            let slice = try take(4)
            return slice.reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        }
    }
}

/// IEEE 754 binary16 conversion by hand: `Float16` is missing on some platforms (macOS on Intel).
enum HalfFloat {
    /// Rounds a Float to the nearest binary16 (ties to even) and returns its bits.
    static func bits(_ value: Float) -> UInt16 {
        let x = value.bitPattern
        let sign = UInt16((x >> 16) & 0x8000)
        let exponent = Int((x >> 23) & 0xFF)
        var mantissa = x & 0x7F_FFFF
        if exponent == 0xFF {  // infinity or NaN
            return sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0)
        }
        let halfExponent = exponent - 127 + 15
        if halfExponent >= 0x1F { return sign | 0x7C00 }  // overflow -> infinity
        if halfExponent <= 0 {
            // Subnormal half (or zero): shift the implicit bit in, then round.
            if halfExponent < -10 { return sign }
            mantissa |= 0x80_0000
            let shift = UInt32(14 - halfExponent)
            var half = mantissa >> shift
            let remainder = mantissa & ((1 << shift) - 1)
            let halfway = UInt32(1) << (shift - 1)
            if remainder > halfway || (remainder == halfway && half & 1 == 1) { half += 1 }
            return sign | UInt16(half)
        }
        var half = UInt32(halfExponent) << 10 | (mantissa >> 13)
        let remainder = mantissa & 0x1FFF
        if remainder > 0x1000 || (remainder == 0x1000 && half & 1 == 1) { half += 1 }  // may carry into the exponent, which is right
        return sign | UInt16(truncatingIfNeeded: half)
    }

    /// The Float value of binary16 bits.
    static func value(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0 {
            // Zero or subnormal: mantissa * 2^-24.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }
}
