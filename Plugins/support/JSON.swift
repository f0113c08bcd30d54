import Foundation

/// JSON through Foundation, which the host process already has loaded.
enum JSON {
    static func decodeObject(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> [String: Any]? {
        guard let pointer else { return nil }
        let data = Data(bytes: pointer, count: length)
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    static func encode(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
