import Foundation
import StewardForeign
import StewardJSON
import StewardPlugins
import StewardTemplates
import StewardTesting
import Testing

/// Compiles the fixture library once per test run.
enum Fixture {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directory: String = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-ffi-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        compile(URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/types.c").path, into: directory + "/libtypes.so")
        compile(packageRoot.appendingPathComponent("Plugins/churn-score/churn.c").path, into: directory + "/libchurn.so")
        return directory
    }()

    static func compile(_ source: String, into output: String) {
        // posix_spawn (ChildProcess), not Foundation's Process: see ChildProcess.
        let ending = try! ChildProcess.run("cc", ["-std=c11", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", source, "-o", output, "-lm"])
        precondition(ending.status == 0, "cc failed for \(source)")
    }

    static func function(_ signature: String, library: String = "types") throws -> ForeignFunction {
        let parsed = try ForeignSignature(parsing: signature)
        return try ForeignFunction(path: "\(directory)/lib\(library).so", signature: parsed, stepName: "ffi:\(library):\(parsed)")
    }
}

@Suite struct ForeignFunctionTests {
    @Test(arguments: [
        ("int8_t neg8(int8_t)", [JSONValue.integer(5)], JSONValue.integer(-5)),
        ("int16_t add16(int16_t, int16_t)", [.integer(300), .integer(-1000)], .integer(-700)),
        ("int32_t mul32(int32_t a, int32_t b)", [.integer(-7), .integer(6)], .integer(-42)),
        ("int64_t big(int64_t)", [.integer(4_000_000_000_000)], .integer(8_000_000_000_000)),
        ("uint8_t inc8(uint8_t)", [.integer(255)], .integer(0)),
        ("uint16_t inc16(uint16_t)", [.integer(65_534)], .integer(65_535)),
        ("uint32_t inc32(uint32_t)", [.integer(4_294_967_294)], .integer(4_294_967_295)),
        ("uint64_t inc64(uint64_t)", [.integer(41)], .integer(42)),
        ("float halff(float)", [.double(3)], .double(1.5)),
        ("double mix(double, float, int64_t, bool)", [.double(0.5), .double(0.25), .integer(2), .bool(true)], .double(1002.75)),
        ("bool is_even(int32_t)", [.integer(10)], .bool(true)),
        ("bool is_even(int32_t)", [.integer(7)], .bool(false)),
        ("int32_t length(const char *text)", [.string("héllo")], .integer(6)),
        ("const char *greeting(bool formal)", [.bool(true)], .string("Good day")),
        ("const char* greeting(bool)", [.bool(false)], .string("hi")),
        ("const char *nothing(void)", [], .null),
        ("void bump(void)", [], .null),
    ])
    func callsEveryType(signature: String, arguments: [JSONValue], expected: JSONValue) throws {
        let function = try Fixture.function(signature)
        #expect(try function.call(.array(arguments)) == expected)
    }

    @Test func churnRiskOrdersAccountsSensibly() throws {
        let risk = try Fixture.function(
            "double churn_risk(double tenure_months, double monthly_charges, int32_t contract_months, bool fiber, bool tech_support)",
            library: "churn")
        let newFiberMonthly = try risk.call([2, 89.5, 0, true, false]).doubleValue!
        let loyalTwoYear = try risk.call([60, 40.0, 24, false, true]).doubleValue!
        #expect(newFiberMonthly > 0.5 && newFiberMonthly < 1)
        #expect(loyalTwoYear < 0.05 && loyalTwoYear > 0)
        let band = try Fixture.function("const char *risk_band(double)", library: "churn")
        #expect(try band.call([.double(newFiberMonthly)]) == "high")
        #expect(try band.call([.double(loyalTwoYear)]) == "low")
    }

    @Test(arguments: [
        ("int32_t mul32(int32_t, int32_t)", [JSONValue.string("7"), .integer(1)], "argument 1 of mul32 must be an integer"),
        ("int32_t mul32(int32_t, int32_t)", [.integer(1), .double(1.5)], "argument 2 of mul32 must be an integer"),
        ("int8_t neg8(int8_t)", [.integer(200)], "must be an integer in -128...127"),
        ("uint8_t inc8(uint8_t)", [.integer(-1)], "must be an integer in 0...255"),
        ("bool is_even(int32_t)", [.null], "argument 1 of is_even must be an integer"),
        ("const char *greeting(bool)", [.integer(1)], "must be a boolean"),
        ("int32_t length(const char *)", [.integer(3)], "must be a string"),
        ("int32_t length(const char *)", [.string("a\u{0}b")], "without NUL"),
        ("int32_t mul32(int32_t, int32_t)", [.integer(1)], "takes 2 argument(s)"),
    ])
    func refusesMismatchedArguments(signature: String, arguments: [JSONValue], fragment: String) throws {
        let function = try Fixture.function(signature)
        do {
            _ = try function.call(.array(arguments))
            Issue.record("expected \(fragment)")
        } catch {
            #expect(error.kind == .invalidInput)
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test func missingSymbolAndLibraryAreLoadErrors() throws {
        #expect(throws: ForeignLoadError.self) { try Fixture.function("double no_such_function(double)") }
        do {
            _ = try Fixture.function("double no_such_function(double)")
        } catch let error as ForeignLoadError {
            #expect(error.description.contains("does not export 'no_such_function'"))
        }
        let parsed = try ForeignSignature(parsing: "double f(double)")
        do {
            _ = try ForeignFunction(path: Fixture.directory + "/libmissing.so", signature: parsed, stepName: "x")
            Issue.record("loading a missing library must fail")
        } catch {
            #expect(error.description.contains("cannot load library"))
        }
    }
}

@Suite struct ForeignSignatureTests {
    @Test(arguments: [
        ("double churn_risk(double, double, int64_t)", "double churn_risk(double, double, int64_t)"),
        ("const char *band(double risk)", "const char * band(double)"),
        ("void f(void)", "void f()"),
        ("int g(long a, unsigned b, char *c)", "int32_t g(int64_t, uint32_t, const char *)"),
    ])
    func parses(text: String, normalised: String) throws {
        #expect(try ForeignSignature(parsing: text).description == normalised)
    }

    @Test(arguments: [
        ("double churn_risk(double, complex, int64_t)", "unsupported C type 'complex'"),
        ("double churn_risk double", "expected 'RETURN NAME(ARG, ...)'"),
        ("struct point f(double)", "unsupported C type 'struct point'"),
        ("double f(void, double)", "'void' is not an argument type"),
        ("double (double)", "a function name before"),
    ])
    func refuses(text: String, fragment: String) {
        do {
            _ = try ForeignSignature(parsing: text)
            Issue.record("expected an error for \(text)")
        } catch {
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }
}

@Suite struct ForeignValidationTests {
    static let template = """
        template: ffi-check
        version: 1.0.0
        vertical: testing
        aop: {domain: d, inputs: [i], outputs: [o], human_touchpoints: [h], failure_modes: [f], escalation_target: e, may: [m], may_not: [n]}
        plugins: []
        states:
          score:
            kind: ffi
            library: types
            signature: SIGNATURE
            args: ARGS
            next: done
          done: {kind: end}
        """

    func diagnostics(signature: String, args: String) -> [TemplateDiagnostic] {
        let text = Self.template.replacingOccurrences(of: "SIGNATURE", with: signature).replacingOccurrences(of: "ARGS", with: args)
        do {
            let template = try TemplateParser.parse(text, file: "ffi.yaml")
            let foreign = ForeignLibraries(templates: [template], searchPath: [Fixture.directory])
            _ = try Plan(validating: template, catalog: StepCatalog(steps: [], foreignProblems: foreign.problems))
            return []
        } catch {
            return error.diagnostics
        }
    }

    @Test func aValidFFIStateValidates() {
        #expect(diagnostics(signature: "int32_t mul32(int32_t, int32_t)", args: "[input.a, 3]").isEmpty)
    }

    @Test func aBadSignatureIsLocatedInsideTheSignature() {
        let found = diagnostics(signature: "double f(double, complex)", args: "[1, 2]")
        #expect(found.count == 1)
        #expect(found.first?.location.line == 10)
        #expect(found.first?.location.column == 33)
        #expect(found.first?.message.contains("unsupported C type 'complex'") == true)
    }

    @Test func aMissingSymbolIsAValidationError() {
        let found = diagnostics(signature: "double no_such(double)", args: "[1.0]")
        #expect(found.map(\.message).contains { $0.contains("does not export 'no_such'") })
        #expect(found.first?.location.line == 10)
    }

    @Test func aMissingLibraryIsAValidationError() {
        let text = Self.template.replacingOccurrences(of: "SIGNATURE", with: "double f(double)").replacingOccurrences(of: "ARGS", with: "[1.0]")
            .replacingOccurrences(of: "library: types", with: "library: nowhere")
        let template = try! TemplateParser.parse(text, file: "ffi.yaml")
        let foreign = ForeignLibraries(templates: [template], searchPath: [Fixture.directory])
        #expect(throws: TemplateErrors.self) {
            try Plan(validating: template, catalog: StepCatalog(steps: [], foreignProblems: foreign.problems))
        }
        #expect(foreign.problems["nowhere"]?["f"]?.contains("library 'nowhere' not found") == true)
    }

    @Test func wrongArityAndLiteralTypesAreValidationErrors() {
        let arity = diagnostics(signature: "int32_t mul32(int32_t, int32_t)", args: "[1]")
        #expect(arity.map(\.message).contains { $0.contains("takes 2 argument(s) but 'args' of state 'score' gives 1") })
        let literal = diagnostics(signature: "int32_t mul32(int32_t, int32_t)", args: "[1, \"x\"]")
        #expect(literal.map(\.message).contains { $0.contains("argument 2 of mul32 is int32_t, but '\"x\"' is a string") }, "\(literal)")
    }
}
