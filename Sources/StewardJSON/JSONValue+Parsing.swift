/// Why a byte sequence is not a JSON document.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset of the problem in the input.
    public let offset: Int
    /// What was wrong, e.g. "expected ',' or '}'".
    public let reason: String
    /// Where in the document the problem is: the object keys and array indexes (as decimal
    /// text) leading to the value being parsed, outermost first; empty at the top level.
    public let path: [String]

    /// Creates an error at a byte offset, inside the value at `path`.
    public init(offset: Int, reason: String, path: [String] = []) {
        self.offset = offset
        self.reason = reason
        self.path = path
    }

    /// The path as the expression language writes it (`input.items.3.amount`), or nil at the
    /// top level.
    public var pathDescription: String? { path.isEmpty ? nil : path.joined(separator: ".") }

    /// "invalid JSON at byte 12: expected ':'", with " (in input.amount)" after the offset
    /// when the problem is inside an object or array.
    public var description: String {
        "invalid JSON at byte \(offset)\(pathDescription.map { " (in \($0))" } ?? ""): \(reason)"
    }

    /// The same error one level further in: `component` is the key or index holding the value.
    func inside(_ component: String) -> JSONParseError {
        JSONParseError(offset: offset, reason: reason, path: [component] + path)
    }
}

extension JSONValue {
    /// Parses a complete UTF-8 JSON document (RFC 8259). Invalid UTF-8, trailing bytes and
    /// nesting deeper than `maxDepth` are errors, and so is a number that cannot be kept as
    /// written (so that what is stored, evaluated and replayed is the number that was sent):
    /// - an integer (no fraction, no exponent) outside the 64-bit range, unless a `Double`
    ///   holds it exactly (2^64 does; 2^64 + 1 does not);
    /// - any number whose `Double` is infinite (`1e309`), or zero although a digit is not
    ///   (`1e-400`).
    ///
    /// Other decimals are read as the nearest `Double`, as every JSON implementation does.
    /// The error gives the byte offset and the path of the value (`JSONParseError.path`).
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 256) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else {
            throw JSONParseError(offset: parser.index, reason: "unexpected data after the document")
        }
        return value
    }

    /// Parses a complete JSON document from bytes.
    public static func parse(_ bytes: some Collection<UInt8>, maxDepth: Int = 256) throws(JSONParseError) -> JSONValue {
        let array = Array(bytes)
        // withUnsafeBytes only rethrows untyped errors, so carry the typed error out in a Result.
        let result = array.withUnsafeBytes { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parse(buffer, maxDepth: maxDepth) }
        }
        return try result.get()
    }

    /// Parses a complete JSON document from a string.
    public static func parse(_ text: String, maxDepth: Int = 256) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }
}

/// A recursive-descent parser over raw bytes; strings are validated as UTF-8.
private struct JSONParser {
    let bytes: UnsafeRawBufferPointer
    let maxDepth: Int
    var index = 0

    init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    @inline(__always) var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    func fail(_ reason: String) -> JSONParseError { JSONParseError(offset: index, reason: reason) }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard let byte = current else { throw fail("expected a value, found the end") }
        switch byte {
        // `depth` counts the containers around this value; a container here is one more.
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < maxDepth else { throw fail("nesting deeper than \(maxDepth)") }
            return byte == UInt8(ascii: "{") ? try parseObject(depth: depth) : try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("expected a value")
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("expected '\(literal)'") }
        let start = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] {
            throw fail("expected '\(literal)'")
        }
        index += count
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipWhitespace()
            do {
                members[key] = try parseValue(depth: depth + 1)
            } catch {
                throw error.inside(key)
            }
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            default: throw fail("expected ',' or '}'")
            }
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            do {
                elements.append(try parseValue(depth: depth + 1))
            } catch {
                throw error.inside(String(elements.count))
            }
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(elements)
            default: throw fail("expected ',' or ']'")
            }
        }
    }

    mutating func parseString() throws(JSONParseError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                index += 1
                guard let text = UTF8Validation.string(slice) else {
                    throw JSONParseError(offset: start, reason: "string is not valid UTF-8")
                }
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail("control character in string") }
            index += 1
        }
        // Slow path: with escapes.
        var scalars: [UInt8] = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let text = scalars.withUnsafeBytes({ UTF8Validation.string($0) }) else {
                    throw JSONParseError(offset: start, reason: "string is not valid UTF-8")
                }
                return text
            case UInt8(ascii: "\\"):
                // Escape errors point at the backslash that starts the sequence.
                let escapeStart = index
                index += 1
                guard let escape = current else { throw fail("unterminated escape") }
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append(0x22)
                case UInt8(ascii: "\\"): scalars.append(0x5C)
                case UInt8(ascii: "/"): scalars.append(0x2F)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800...0xDBFF).contains(code) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw JSONParseError(offset: escapeStart, reason: "unpaired surrogate") }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw JSONParseError(offset: escapeStart, reason: "unpaired surrogate")
                        }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(code) {
                        throw JSONParseError(offset: escapeStart, reason: "unpaired surrogate")
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw JSONParseError(offset: escapeStart, reason: "invalid escape") }
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw JSONParseError(offset: escapeStart, reason: "invalid escape")
                }
            default:
                if byte < 0x20 { throw fail("control character in string") }
                scalars.append(byte)
                index += 1
            }
        }
        throw fail("unterminated string")
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("bad hex digit in \\u escape")
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        var isInteger = true
        if current == UInt8(ascii: "-") { index += 1 }
        guard let first = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw fail("expected a digit")
        }
        if first == UInt8(ascii: "0") {
            index += 1
        } else {
            skipDigits()
        }
        if current == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard let digit = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else {
                throw fail("expected a digit after '.'")
            }
            skipDigits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard let digit = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else {
                throw fail("expected a digit in the exponent")
            }
            skipDigits()
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isInteger, let value = Int64(text) { return .integer(value) }
        let shown = NumberLimits.abbreviated(text)
        // More digits than the largest finite double has: infinite, whatever they are.
        let digits = text.utf8.count - (text.hasPrefix("-") ? 1 : 0)
        if isInteger, digits > NumberLimits.maximumIntegerDigits {
            throw JSONParseError(offset: start, reason: "integer \(shown) is too large: at most \(NumberLimits.maximumIntegerDigits) digits fit in a 64-bit floating-point number")
        }
        guard let value = Double(text) else { throw JSONParseError(offset: start, reason: "invalid number") }
        guard value.isFinite else {
            throw JSONParseError(offset: start, reason: "number \(shown) is too large for a 64-bit floating-point number (at most ±1.7976931348623157e308)")
        }
        if isInteger {
            guard NumberLimits.decimalDigits(ofIntegral: value) == text else {
                throw JSONParseError(
                    offset: start,
                    reason: "integer \(shown) is outside the 64-bit range and not exactly representable as a floating-point number; send it as a string")
            }
        } else if value == 0, NumberLimits.hasNonZeroDigit(inMantissaOf: text) {
            throw JSONParseError(offset: start, reason: "number \(shown) is too small for a 64-bit floating-point number (it would be read as 0)")
        }
        return .double(value)
    }

    mutating func skipDigits() {
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
    }
}

/// The arithmetic behind the number rules of `JSONValue.parse`.
enum NumberLimits {
    /// Digits of the largest finite double's integer part (1.8e308 has 309).
    static let maximumIntegerDigits = 309

    /// `text` for a message: as it is when short, else its first 24 characters and its length.
    static func abbreviated(_ text: String) -> String {
        text.utf8.count <= 40 ? text : "\(text.prefix(24))… (\(text.utf8.count) characters)"
    }

    /// Whether a digit before the exponent is not `0`.
    static func hasNonZeroDigit(inMantissaOf text: String) -> Bool {
        for byte in text.utf8 {
            if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { return false }
            if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(byte) { return true }
        }
        return false
    }

    /// The exact decimal text of an integral, finite double, with a `-` when negative and no
    /// leading zeros (as JSON writes integers). A double is significand × 2^k, so the digits come
    /// from doubling the significand k times in base 10^9 limbs (k < 1024: a few thousand steps).
    static func decimalDigits(ofIntegral value: Double) -> String {
        precondition(value.isFinite && value.rounded() == value, "an integral double")
        let magnitude = value.magnitude
        guard magnitude >= 0x1p52 else { return (value < 0 ? "-" : "") + String(UInt64(magnitude)) }
        let shift = Int(magnitude.exponent) - Double.significandBitCount
        var limbs: [UInt64] = []
        var significand = magnitude.significandBitPattern | (1 << UInt64(Double.significandBitCount))
        while significand > 0 {
            limbs.append(significand % 1_000_000_000)
            significand /= 1_000_000_000
        }
        for _ in 0..<shift {
            var carry: UInt64 = 0
            for index in limbs.indices {
                let doubled = limbs[index] * 2 + carry
                limbs[index] = doubled % 1_000_000_000
                carry = doubled / 1_000_000_000
            }
            if carry > 0 { limbs.append(carry) }
        }
        var text = value < 0 ? "-" : ""
        text += String(limbs[limbs.count - 1])
        for limb in limbs.dropLast().reversed() {
            let digits = String(limb)
            text += String(repeating: "0", count: 9 - digits.count) + digits
        }
        return text
    }
}
