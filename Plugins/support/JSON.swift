import Foundation

/// JSON through Foundation, which the host process already has loaded.
enum JSON {
    static func decodeObject(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> [String: Any]? {
        guard let pointer else { return nil }
        let data = Data(bytes: pointer, count: length)
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    static func encode(_ object: [String: Any]) -> String {
        // No .sortedKeys: the host parses the output into its own (unordered) value and writes
        // keys sorted itself; sorting here cost a tenth of all CPU in the triage benchmark.
        guard let data = try? JSONSerialization.data(withJSONObject: object) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
