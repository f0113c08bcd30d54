import Foundation
import StewardTesting
import StewardJSON
import StewardPlugins

/// Paths of the checkout the tests run in, found from this file.
enum Checkout {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let models = root.appendingPathComponent("Plugins/banking-intent/models")
    static let data = root.appendingPathComponent("data/banking77")
    static let abiInclude = root.appendingPathComponent("Sources/StewardABI/include")
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
}

/// A test set-up failure with a message saying what to do.
struct SetupError: Error, CustomStringConvertible {
    let description: String
}

/// The real banking plugin, built by SwiftPM next to the test binary (`swift build` / `swift test`
/// build every product), or the library named by `$STEWARD_BANKING_PLUGIN`.
enum BankingPlugin {
    static let libraryNames = ["libStewardBankingIntentPlugin.so", "libStewardBankingIntentPlugin.dylib"]

    static func path() throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["STEWARD_BANKING_PLUGIN"], !explicit.isEmpty {
            return explicit
        }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        }
        // On macOS the test binary sits inside an .xctest bundle a few levels below the products.
        for _ in 0..<4 {
            for name in libraryNames where FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path) {
                return directory.appendingPathComponent(name).path
            }
            directory = directory.deletingLastPathComponent()
        }
        throw SetupError(description: "libStewardBankingIntentPlugin not found beside the test binary; run `swift build --product StewardBankingIntentPlugin` or set STEWARD_BANKING_PLUGIN")
    }

    static func registry() throws -> PluginRegistry {
        try PluginRegistry(loading: [path()])
    }
}

/// The held-out rows of banking77 the trainer never used: `split.json` names them by row.
struct HeldOut {
    struct Row {
        let text: String
        let label: String
    }

    let rows: [Row]
    let calibrationRows: Set<Int>
    let heldOutRows: Set<Int>

    static func load() throws -> HeldOut {
        let split = try JSONValue.parse(Array(Data(contentsOf: Checkout.models.appendingPathComponent("split.json"))))
        let csv = try String(contentsOf: Checkout.data.appendingPathComponent("train.csv"), encoding: .utf8)
        let records = Array(parseCSV(csv).dropFirst())
        guard let count = split["rows"]?.integerValue, count == records.count,
            let heldOut = split["held_out"]?.arrayValue?.compactMap(\.integerValue),
            let calibration = split["calibration"]?.arrayValue?.compactMap(\.integerValue)
        else {
            throw SetupError(description: "split.json does not describe train.csv (\(records.count) rows)")
        }
        return HeldOut(
            rows: heldOut.map { Row(text: records[Int($0)][0], label: records[Int($0)][1]) },
            calibrationRows: Set(calibration.map { Int($0) }), heldOutRows: Set(heldOut.map { Int($0) }))
    }

    /// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks; CRLF or LF.
    static func parseCSV(_ text: String) -> [[String]] {
        var records: [[String]] = [], record: [String] = [], field = "", quoted = false
        var characters = Array(text.unicodeScalars)[...]
        while let scalar = characters.popFirst() {
            if quoted {
                if scalar == "\"" {
                    if characters.first == "\"" {
                        field.unicodeScalars.append(characters.removeFirst())
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(scalar)
                }
            } else if scalar == "\"" {
                quoted = true
            } else if scalar == "," {
                record.append(field)
                field = ""
            } else if scalar == "\n" || scalar == "\r" {
                if scalar == "\r", characters.first == "\n" { characters.removeFirst() }
                record.append(field)
                field = ""
                records.append(record)
                record = []
            } else {
                field.unicodeScalars.append(scalar)
            }
        }
        if !field.isEmpty || !record.isEmpty {
            record.append(field)
            records.append(record)
        }
        return records
    }
}

/// Compiles the C adapter fixture once per test process, the way `steward plugins build`
/// compiles C plugins.
enum FixturePlugin {
    static let path: Result<String, SetupError> = {
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("steward-adapter-fixture-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let library = output.appendingPathComponent("libadapter-fixture.so").path
        // posix_spawn (ChildProcess), not Foundation's Process: see ChildProcess.
        let ending: ChildProcess.Ending
        do {
            ending = try ChildProcess.run(ProcessInfo.processInfo.environment["CC"] ?? "cc", [
                "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
                "-fvisibility=hidden", "-I", Checkout.abiInclude.path,
                Checkout.fixtures.appendingPathComponent("adapter_fixture.c").path, "-o", library,
            ])
        } catch {
            return .failure(SetupError(description: "cannot run the C compiler: \(error)"))
        }
        guard ending.status == 0 else {
            return .failure(SetupError(description: "compiling adapter_fixture.c failed: \(ending)"))
        }
        return .success(library)
    }()

    static func load() throws -> LoadedPlugin {
        try PluginLoader.load(path: path.get())
    }
}
