import StewardJSON
import Testing

/// The hand-written validator agrees with the standard library on every byte sequence tried.
@Suite struct UTF8ValidationTests {
    @Test(arguments: [
        [0x41, 0x42], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
        [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80],
        [0x80], [0xBF], [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xFF], [0xFE], [0xE2, 0x28, 0xA1], [0xC3, 0x28],
    ] as [[UInt8]])
    func agreesWithTheStandardLibrary(bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            #expect(UTF8Validation.isValid(buffer) == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
        }
    }

    @Test func agreesOnRandomSequences() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 0...8, using: &generator)).map { _ in
                // Bias towards the interesting range.
                Bool.random(using: &generator) ? UInt8.random(in: 0x80...0xFF, using: &generator) : UInt8.random(in: 0...0xFF, using: &generator)
            }
            bytes.withUnsafeBytes { buffer in
                #expect(UTF8Validation.isValid(buffer) == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
            }
        }
    }
}
