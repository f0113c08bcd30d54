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
///
/// The safety rule: an `ffi` state may only call into a library that resolves — after every
/// symlink and `..` is resolved (`realpath`) — to a file inside one of the configured library
/// directories, and only to a symbol that library defines itself (not one of its
/// dependencies, such as libc's `system`). When an operator allow-lists symbols for a library,
/// only those symbols may be called. Anything else is a problem reported as a located
/// validation error of the state, and the function is not prepared.
public struct ForeignLibraries: Sendable {
    /// Prepared functions by step name (`ffi:<library>:<signature>`).
    public private(set) var functions: [String: ForeignFunction] = [:]
    /// Problems by library name and symbol, for `StepCatalog.foreignProblems`.
    public private(set) var problems: [String: [String: String]] = [:]

    /// Resolves and prepares every `ffi` state of `templates`.
    /// - Parameters:
    ///   - searchPath: the library directories: a library named `churn` is looked up as
    ///     `libchurn.so`, `churn.so` or `churn` in each; a library written as a path (containing
    ///     `/`) is used as it is. Either way the file must lie inside one of these directories.
    ///   - allowedSymbols: library (a name as templates write it, or a path) → the only symbols
    ///     templates may call in it. A library without an entry allows every symbol it defines.
    public init(templates: [Template], searchPath: [String], allowedSymbols: [String: [String]] = [:]) {
        let directories = searchPath.compactMap(Self.realPath)
        var allowed: [String: Set<String>] = [:]
        for (library, symbols) in allowedSymbols {
            guard let file = Self.resolve(library, searchPath: searchPath).flatMap(Self.realPath) else { continue }
            allowed[file, default: []].formUnion(symbols)
        }
        for template in templates {
            for state in template.allStates {
                guard case .ffi(let foreign) = state.kind, functions[foreign.stepName] == nil else { continue }
                let symbol = foreign.signature.name
                func problem(_ text: String) { problems[foreign.library, default: [:]][symbol] = text }
                guard let path = Self.resolve(foreign.library, searchPath: searchPath), let file = Self.realPath(path) else {
                    problem("library '\(foreign.library)' not found (looked for lib\(foreign.library).so in \(searchPath.joined(separator: ", ")))")
                    continue
                }
                guard directories.contains(where: { Self.isInside(file, directory: $0) }) else {
                    problem(
                        "library '\(foreign.library)' resolves to \(file), outside the ffi library directories "
                            + "(\(searchPath.joined(separator: ", "))); an operator must list its directory to allow it")
                    continue
                }
                if let symbols = allowed[file], !symbols.contains(symbol) {
                    problem(
                        "symbol '\(symbol)' of library '\(foreign.library)' is not allow-listed (allowed: \(symbols.sorted().joined(separator: ", ")))")
                    continue
                }
                do {
                    functions[foreign.stepName] = try ForeignFunction(path: file, signature: foreign.signature, stepName: foreign.stepName)
                } catch {
                    problem(error.description)
                }
            }
        }
    }

    /// The file a library name stands for, or nil (not yet checked against the directories).
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

    /// `path` with every symlink, `.` and `..` resolved, or nil when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Whether the resolved `file` lies inside the resolved `directory` (at any depth).
    static func isInside(_ file: String, directory: String) -> Bool {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return file.hasPrefix(prefix)
    }
}
