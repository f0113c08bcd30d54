import Foundation
@testable import StewardForeign
import StewardTemplates
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `ffi` reaches only the configured library directories and, when an operator says so, only
/// allow-listed symbols (issue 17, item 7). Each refusal is a located validation error.
@Suite struct ForeignConfinementTests {
    /// A directory outside every search path holding a copy of the fixture library.
    static let outside: String = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-ffi-outside-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try! FileManager.default.copyItem(atPath: Fixture.directory + "/libtypes.so", toPath: directory + "/libtypes.so")
        return directory
    }()

    /// The file libc's `system` lives in.
    static var libc: String {
        SymbolOwner.file(defining: dlsym(UnsafeMutableRawPointer(bitPattern: 0), "system")!)!
    }

    func diagnostics(
        library: String, signature: String, args: String = "[input.command]", searchPath: [String] = [Fixture.directory],
        allowed: [String: [String]] = [:]
    ) throws -> [TemplateDiagnostic] {
        let text = ForeignValidationTests.template.replacingOccurrences(of: "SIGNATURE", with: signature)
            .replacingOccurrences(of: "ARGS", with: args).replacingOccurrences(of: "library: types", with: "library: '\(library)'")
        let template = try TemplateParser.parse(text, file: "ffi.yaml")
        let foreign = ForeignLibraries(templates: [template], searchPath: searchPath, allowedSymbols: allowed)
        do {
            _ = try Plan(validating: template, catalog: StepCatalog(steps: [], foreignProblems: foreign.problems))
            return []
        } catch {
            return error.diagnostics
        }
    }

    func expectRefused(_ found: [TemplateDiagnostic], _ fragment: String) {
        #expect(found.contains { $0.message.contains(fragment) && $0.location.file == "ffi.yaml" && $0.location.line == 10 }, "\(found)")
    }

    @Test func libcSystemByPathIsRefused() throws {
        expectRefused(try diagnostics(library: Self.libc, signature: "int32_t system(const char *command)"), "outside the ffi library directories")
    }

    @Test func libcByNameIsNotFoundInTheLibraryDirectories() throws {
        expectRefused(try diagnostics(library: "c", signature: "int32_t system(const char *command)"), "library 'c' not found")
    }

    @Test func aDependencysSymbolThroughAnAllowedLibraryIsRefused() throws {
        // dlsym(libtypes, "system") would find libc's: the library must define the symbol itself.
        expectRefused(try diagnostics(library: "types", signature: "int32_t system(const char *command)"), "does not define 'system' itself")
    }

    @Test func aPathEscapingWithDotDotIsRefused() throws {
        let escaping = Fixture.directory + "/../" + (Self.outside as NSString).lastPathComponent + "/libtypes.so"
        #expect(access(escaping, R_OK) == 0)
        expectRefused(try diagnostics(library: escaping, signature: "int8_t neg8(int8_t)", args: "[1]"), "outside the ffi library directories")
    }

    @Test func aSymlinkOutOfTheDirectoryIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-ffi-link-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createSymbolicLink(atPath: directory + "/libevil.so", withDestinationPath: Self.outside + "/libtypes.so")
        expectRefused(
            try diagnostics(library: "evil", signature: "int8_t neg8(int8_t)", args: "[1]", searchPath: [directory]),
            "outside the ffi library directories")
    }

    @Test func anOperatorListedDirectoryIsAllowed() throws {
        #expect(try diagnostics(library: "types", signature: "int8_t neg8(int8_t)", args: "[1]", searchPath: [Self.outside]).isEmpty)
    }

    @Test func onlyAllowListedSymbolsMayBeCalled() throws {
        let allowed = ["types": ["neg8"]]
        #expect(try diagnostics(library: "types", signature: "int8_t neg8(int8_t)", args: "[1]", allowed: allowed).isEmpty)
        expectRefused(
            try diagnostics(library: "types", signature: "int32_t mul32(int32_t, int32_t)", args: "[1, 2]", allowed: allowed),
            "symbol 'mul32' of library 'types' is not allow-listed (allowed: neg8)")
        // The allow-list follows the file, however the template names it.
        expectRefused(
            try diagnostics(library: Fixture.directory + "/libtypes.so", signature: "int32_t mul32(int32_t, int32_t)", args: "[1, 2]", allowed: allowed),
            "is not allow-listed")
    }
}
