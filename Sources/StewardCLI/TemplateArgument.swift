import Foundation
import StewardEngine
import StewardPlugins
import StewardTemplates

/// How `run`, `submit`, `template show` and `eval` take their template: a file (anything that exists as a file, or
/// ends in `.yaml` / `.yml`) is loaded beside the workflows directory and its own text runs;
/// anything else is a template name, resolved to its newest loaded version.
enum TemplateArgument {
    /// Whether `text` names a template file rather than a template.
    static func isFile(_ text: String) -> Bool {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory) { return !isDirectory.boolValue }
        return text.hasSuffix(".yaml") || text.hasSuffix(".yml")
    }

    /// The file to load beside the workflows directory, when `text` is one.
    static func extraTemplate(_ text: String) -> String? { isFile(text) ? text : nil }

    /// The plan of the file `text` names, when it is a file that was loaded.
    static func filePlan(_ text: String, in plans: PlanLibrary) -> Plan? {
        isFile(text) ? plans.all.first(where: { $0.template.file == text }) : nil
    }

    /// The plan `text` names in `context`: the file's own plan, or the newest version of a name.
    /// - Throws: `CLIError` naming the file or the unknown template (with a did-you-mean).
    static func plan(_ text: String, in context: EngineContext, workflows: String) throws -> Plan {
        if isFile(text) {
            guard let plan = filePlan(text, in: context.plans) else { throw CLIError("error: \(text) was not loaded") }
            return plan
        }
        guard let plan = context.plans.plan(template: text, version: nil) else {
            let names = Set(context.plans.all.map(\.name).filter { !$0.contains(":") }).sorted()
            let suggestion = ManifestNames.closest(text, names).map { " (did you mean '\($0)'?)" } ?? ""
            throw CLIError("error: no template '\(text)' in \(workflows) and no such file\(suggestion); templates: \(names.joined(separator: ", "))")
        }
        return plan
    }
}
