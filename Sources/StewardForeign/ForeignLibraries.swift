import StewardJSON
import StewardPlugins
import StewardTemplates

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The foreign functions the loaded templates call, prepared once at start-up, plus what
/// went wrong for the ones that could not be prepared (reported at validation time).
public struct ForeignLibraries: Sendable {
    /// Prepared functions by step name (`ffi:<library>:<signature>`).
    public private(set) var functions: [String: ForeignFunction] = [:]
    /// Problems by library name and symbol, for `StepCatalog.foreignProblems`.
    public private(set) var problems: [String: [String: String]] = [:]

    /// Resolves and prepares every `ffi` state of `templates`. `searchPath` lists the
    /// directories where a library named `churn` is looked up as `libchurn.so`; a library
    /// written as a path (containing `/`) is used as it is.
    public init(templates: [Template], searchPath: [String]) {
        for template in templates {
            for state in template.states {
                guard case .ffi(let foreign) = state.kind, functions[foreign.stepName] == nil else { continue }
                guard let path = Self.resolve(foreign.library, searchPath: searchPath) else {
                    problems[foreign.library, default: [:]][foreign.signature.name] =
                        "library '\(foreign.library)' not found (looked for lib\(foreign.library).so in \(searchPath.joined(separator: ", ")))"
                    continue
                }
                do {
                    functions[foreign.stepName] = try ForeignFunction(path: path, signature: foreign.signature, stepName: foreign.stepName)
                } catch {
                    problems[foreign.library, default: [:]][foreign.signature.name] = error.description
                }
            }
        }
    }

    /// The file a library name stands for, or nil.
    public static func resolve(_ library: String, searchPath: [String]) -> String? {
        if library.contains("/") { return access(library, R_OK) == 0 ? library : nil }
        for directory in searchPath {
            for name in ["lib\(library).so", "\(library).so", library] {
                let candidate = directory.hasSuffix("/") ? directory + name : directory + "/" + name
                if access(candidate, R_OK) == 0 { return candidate }
            }
        }
        return nil
    }
}
