import Yams

extension TemplateParser {
    /// Parses `workflows/plugins.yaml`, the operator's plugin settings: `pins` maps
    /// `name@version` to the SHA-256 (64 hex digits) of the one library allowed to serve that
    /// plugin version, so a different binary under the same version is refused at load.
    /// - Throws: `TemplateErrors` with every problem located.
    public static func parsePluginPins(_ text: String, file: String) throws(TemplateErrors) -> [String: String] {
        var reader = YAMLReader(file: file)
        let root = try compose(text, file: file, expected: "the plugin settings")
        guard let top = reader.entries(of: root, context: "the plugin settings", allowed: ["pins"]) else {
            throw TemplateErrors(reader.diagnostics)
        }
        var pins: [String: String] = [:]
        if let node = top["pins"]?.value {
            if case .mapping(let mapping) = node {
                for (key, value) in mapping {
                    guard let name = reader.string(key, "a pinned plugin"), let hash = reader.string(value, "the SHA-256 of '\(key.string ?? "?")'") else {
                        continue
                    }
                    let parts = name.split(separator: "@")
                    if parts.count != 2 || parts.contains(where: \.isEmpty) {
                        reader.error(key, "expected 'name@version' for a pinned plugin, found '\(name)'")
                    }
                    let lowered = hash.lowercased()
                    if lowered.count != 64 || !lowered.allSatisfy({ $0.isHexDigit }) {
                        reader.error(value, "expected the 64 hex digits of a SHA-256 for '\(name)' (steward plugins inspect prints it), found '\(hash)'")
                    }
                    pins[name] = lowered
                }
            } else {
                reader.error(node, "expected a mapping of 'name@version' to SHA-256 for 'pins', found \(YAMLReader.describe(node))")
            }
        }
        guard reader.diagnostics.isEmpty else { throw TemplateErrors(reader.diagnostics) }
        return pins
    }
}
