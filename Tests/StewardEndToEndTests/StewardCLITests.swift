import Foundation
import StewardJSON
import StewardTesting
import Testing

/// Drives the real `steward` executable as a user would, from the package root.
///
/// The tests share the checkout's `.steward/plugins`, so they run one at a time; the shipped
/// plugins are built once, by `steward plugins build`, before the first test that needs them.
@Suite("steward CLI end to end", .serialized)
struct StewardCLITests {
    /// What one run of the executable did.
    struct Run: CustomStringConvertible {
        let status: Int32
        let stdout: String
        let stderr: String
        var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
        var stderrLines: [Substring] { stderr.split(separator: "\n") }
    }

    /// The package root: this file is `Tests/StewardEndToEndTests/<file>`.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The build products directory, where SwiftPM put both the test bundle and `steward`.
    static let productsDirectory: URL? = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent(),
            Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("steward").path) }
    }()

    /// `steward(_:in:timeout:)` waited for on a thread of its own, so a long command never
    /// holds one of the few cooperative threads every other test in this process needs.
    static func stewardAsync(_ arguments: [String], in directory: URL = packageRoot, timeout: Double = 300) async throws -> Run {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Run, any Error>) in
            Thread { continuation.resume(with: Result { try steward(arguments, in: directory, timeout: timeout) }) }.start()
        }
    }

    /// Runs `steward arguments...` in `directory` (the package root unless given) and waits for
    /// it (at most `timeout` seconds), without `$STEWARD_PLUGIN_PATH` and `$STEWARD_TOKEN`.
    static func steward(_ arguments: [String], in directory: URL = packageRoot, timeout: Double = 300) throws -> Run {
        let products = try #require(productsDirectory, "no steward executable next to \(CommandLine.arguments[0])")
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "STEWARD_PLUGIN_PATH")
        environment.removeValue(forKey: "STEWARD_TOKEN")
        return try child(products.appendingPathComponent("steward").path, arguments, in: directory, environment: environment, timeout: timeout)
    }

    /// `child(_:_:in:environment:timeout:)` waited for on a thread of its own.
    static func childAsync(_ executable: String, _ arguments: [String], in directory: URL, environment: [String: String]?, timeout: Double = 300)
        async throws -> Run
    {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Run, any Error>) in
            Thread {
                continuation.resume(with: Result { try child(executable, arguments, in: directory, environment: environment, timeout: timeout) })
            }.start()
        }
    }

    /// Runs `executable arguments...` (a path, or a name on PATH) in `directory` with
    /// `environment` (nil: this process's) and waits for it, at most `timeout` seconds (past it,
    /// the child is killed and an issue recorded). Blocks: call it from a thread of its own.
    static func child(_ executable: String, _ arguments: [String], in directory: URL, environment: [String: String]?, timeout: Double) throws -> Run {
        // Files rather than pipes: a chatty child can never block on a full pipe buffer.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("steward-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout")
        let errURL = scratch.appendingPathComponent("stderr")
        // posix_spawn, not Foundation's Process: see ChildProcess.
        let ending = try ChildProcess.run(
            executable, arguments, directory: directory.path, environment: environment, stdout: outURL.path, stderr: errURL.path, timeout: timeout)
        if ending.timedOut {
            Issue.record("\((executable as NSString).lastPathComponent) \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s")
        }
        let read = { (url: URL) in (try? String(contentsOf: url, encoding: .utf8)) ?? "" }
        return Run(status: ending.signal.map { 128 + $0 } ?? ending.status, stdout: read(outURL), stderr: read(errURL))
    }

    /// `steward plugins build`, run once for the whole suite.
    static let pluginBuild: Result<Run, any Error> = Result { try steward(["plugins", "build"], timeout: 900) }

    /// The one plugin build's result, waited for off the cooperative pool.
    static func pluginBuildResult() async throws -> Run {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Run, any Error>) in
            Thread { continuation.resume(with: Result { try pluginBuild.get() }) }.start()
        }
    }

    /// Builds the shipped plugins (once) and fails the calling test when that failed.
    static func requirePlugins() async throws {
        // The one build is waited for on a thread of its own: a test blocked in it would hold
        // one of the few cooperative threads every other test in this process needs.
        let run = try await pluginBuildResult()
        try #require(run.status == 0, "steward plugins build failed: \(run)")
    }

    static let triage = "workflows/support-ticket-triage.yaml"

    /// A database of this test run's own, so fixed instance ids never meet an earlier run's.
    static let database = FileManager.default.temporaryDirectory.appendingPathComponent("steward-e2e-\(UUID().uuidString).db").path

    /// Runs the triage template on an example ticket and returns the final JSON report.
    static func runTicket(_ number: Int) async throws -> (Run, JSONValue) {
        try await requirePlugins()
        let run = try await stewardAsync([
            "run", triage, "--input", "workflows/examples/ticket-\(number).json", "--id", "e2e-\(number)", "--quiet", "--db", database,
        ])
        let report = try JSONValue.parse(run.stdout)
        return (run, report)
    }

    @Test("steward plugins build compiles the C plugin and builds the Swift plugin")
    func pluginsBuild() async throws {
        try await Self.requirePlugins()
        let run = try await Self.pluginBuildResult()
        let plugins = Self.packageRoot.appendingPathComponent(".steward/plugins")
        for library in ["libsteward-keywords.so", "libsteward-support.so"] {
            #expect(run.stdout.contains(plugins.appendingPathComponent(library).path), "\(run)")
            #expect(FileManager.default.fileExists(atPath: plugins.appendingPathComponent(library).path))
        }
    }

    /// `submit` takes a JSONL batch (one instance per line, keyed by a field or the line
    /// number), is idempotent on re-run and summarises this batch only; `run` and `submit` both
    /// take a template by name or by file; a malformed line and an unknown name say where and
    /// what.
    @Test("steward submit --inputs runs a JSONL batch once; run and submit take a name or a file")
    func batchesFromJSONLAndTemplatesByName() async throws {
        try await Self.requirePlugins()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("steward-batch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let database = scratch.appendingPathComponent("b.db").path
        let batch = scratch.appendingPathComponent("tickets.jsonl")
        try """
            {"ref": "t-1", "subject": "Fee on my card payment", "body": "Why was I charged an extra fee for a card payment?", "channel": "email", "customer": {"id": "c1", "name": "Amara"}}

            {"ref": "t-2", "subject": "My card was stolen", "body": "Someone stole my wallet and my card was in it. Block it now.", "channel": "chat", "customer": {"id": "c2", "name": "Jonas"}}
            """.write(to: batch, atomically: true, encoding: .utf8)
        let first = try await Self.stewardAsync([
            "submit", "support-ticket-triage", "--inputs", batch.path, "--key-field", "ref", "--key-prefix", "jl", "--db", database,
        ])
        #expect(first.status == 0 && first.stdout.contains("batch of 2 (support-ticket-triage 1.1.0): 2 new, 0 already submitted; now completed 1, waiting 1"), "\(first)")
        let again = try await Self.stewardAsync([
            "submit", "support-ticket-triage", "--inputs", batch.path, "--key-field", "ref", "--key-prefix", "jl", "--db", database,
        ])
        #expect(again.status == 0 && again.stdout.contains("0 new, 2 already submitted; now completed 1, waiting 1"), "\(again)")
        let shown = try await Self.stewardAsync(["instances", "show", "jl-t-2", "--db", database])
        #expect(shown.status == 0 && shown.stdout.contains("review_reply"), "the line's ref keys its instance: \(shown)")
        // By file, the same way run takes it; the summary counts this batch, not the store.
        let byFile = try await Self.stewardAsync([
            "submit", Self.triage, "--input", "workflows/examples/ticket-1.json", "--count", "3", "--key-prefix", "file", "--db", database,
        ])
        #expect(byFile.status == 0 && byFile.stdout.contains("batch of 3 (support-ticket-triage 1.1.0): 3 new, 0 already submitted; now completed 3"), "\(byFile)")
        let byName = try await Self.stewardAsync(["run", "support-ticket-triage", "--input", "workflows/examples/ticket-1.json", "--quiet", "--db", database])
        #expect(byName.status == 0 && byName.stdout.contains("\"status\": \"completed\""), "\(byName)")

        let bad = scratch.appendingPathComponent("bad.jsonl")
        try "{\"a\": 1}\n{\"a\": 2,,}\n".write(to: bad, atomically: true, encoding: .utf8)
        let malformed = try await Self.stewardAsync(["submit", "support-ticket-triage", "--inputs", bad.path, "--db", database])
        #expect(malformed.status == 1 && malformed.stderr.contains("bad.jsonl:2:9: error: invalid JSON: expected a string key"), "\(malformed)")
        let typo = try await Self.stewardAsync(["submit", "support-tiket-triage", "--input", "workflows/examples/ticket-1.json", "--db", database])
        #expect(typo.status == 1 && typo.stderr.contains("did you mean 'support-ticket-triage'?"), "\(typo)")
        let both = try await Self.stewardAsync(["submit", "support-ticket-triage", "--input", "x.json", "--inputs", "y.jsonl", "--db", database])
        #expect(both.status != 0 && both.stderr.contains("give either --input FILE (with --count) or --inputs FILE.jsonl"), "\(both)")

        // The list commands print documented JSON with --json (tasks as the API shows them).
        _ = try await Self.stewardAsync(["reviewers", "add", "Ana Agent", "--credential", "support-agent", "--db", database])
        let tasks = try JSONValue.parse(try await Self.stewardAsync(["review", "list", "--json", "--db", database]).stdout)
        let task = try #require(tasks["tasks"]?.arrayValue?.first)
        #expect(task["instance"] == "jl-t-2" && task["state"] == "review_reply" && task["credential"] == "support-agent", "\(task)")
        #expect(task["decisions"] == ["approve", "edit", "reject"] && task["opened_at"]?.stringValue?.hasSuffix("Z") == true, "\(task)")
        let reviewers = try JSONValue.parse(try await Self.stewardAsync(["reviewers", "list", "--json", "--db", database]).stdout)
        #expect(reviewers["reviewers"]?.arrayValue?.first?["name"] == "Ana Agent", "\(reviewers)")
        #expect(reviewers["reviewers"]?.arrayValue?.first?["credentials"] == ["support-agent"], "\(reviewers)")
        #expect(reviewers.jsonString.contains("token") == false, "a token never appears")
        let plugins = try JSONValue.parse(try await Self.stewardAsync(["plugins", "list", "--json"]).stdout)
        let pluginNames = Set((plugins["plugins"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
        #expect(pluginNames.isSuperset(of: ["kb", "keywords", "support"]), "\(plugins)")
    }

    /// Long work shows its progress on standard error: a bar redrawn in place on a terminal (a
    /// pseudo-terminal here), plain lines at each tenth otherwise; standard output stays the result.
    @Test("steward submit shows progress: a bar on a terminal, plain lines in a log")
    func progressOnATerminalAndInALog() async throws {
        try await Self.requirePlugins()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("steward-progress-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let plain = try await Self.stewardAsync([
            "submit", "support-ticket-triage", "--input", "workflows/examples/ticket-1.json", "--count", "10", "--key-prefix", "plain",
            "--db", scratch.appendingPathComponent("a.db").path,
        ])
        let lines = plain.stderrLines.filter { $0.hasPrefix("submit: ") }
        #expect(plain.status == 0 && lines.count == 10 && lines.last?.hasPrefix("submit: 10/10 instances (100%), ") == true, "\(plain)")
        #expect(!plain.stdout.contains("submit: "), "the result alone on standard output")

        // Under a pseudo-terminal (Python's pty, as a person's terminal would be).
        let steward = try #require(Self.productsDirectory).appendingPathComponent("steward").path
        let script = scratch.appendingPathComponent("pseudo_terminal.py")  // not tty.py: that would shadow the module pty imports
        try """
            import os, pty, sys
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(sys.argv[1], sys.argv[1:])
            out = b""
            while True:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    break
                if not data:
                    break
                out += data
            os.waitpid(pid, 0)
            sys.stdout.write(out.decode("utf-8", "replace"))
            """.write(to: script, atomically: true, encoding: .utf8)
        let captured = scratch.appendingPathComponent("tty.out").path
        let arguments = [
            script.path, steward, "submit", "support-ticket-triage", "--input", "workflows/examples/ticket-1.json", "--count", "10",
            "--key-prefix", "tty", "--db", scratch.appendingPathComponent("b.db").path,
        ]
        let ending: ChildProcess.Ending = try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    try ChildProcess.run("/usr/bin/env", ["python3"] + arguments, directory: Self.packageRoot.path, stdout: captured, timeout: 300)
                })
            }.start()
        }
        let screen = (try? String(contentsOfFile: captured, encoding: .utf8)) ?? ""
        #expect(ending.status == 0, "\(screen)")
        #expect(screen.contains("\r[##############################] 10/10 instances") && screen.contains("ETA 0s"), "\(screen)")
        #expect(!screen.contains("submit: 10/10"), "no plain lines on a terminal")
        #expect(screen.contains("batch of 10 (support-ticket-triage 1.1.0): 10 new"), "\(screen)")
    }

    /// Generating the scripts validates every command's options (two options of one name fail
    /// it: `notifications deliver` had `--workflows` twice, which also broke its `--help`).
    @Test("steward completion prints a working script for bash, zsh and fish")
    func completionScripts() async throws {
        for shell in ["bash", "zsh", "fish"] {
            let run = try await Self.stewardAsync(["completion", shell])
            #expect(run.status == 0, "\(shell): \(run)")
            for command in ["run", "review", "plugins", "migrate", "events", "completion"] {
                #expect(run.stdout.contains(command), "\(shell) script completes \(command)")
            }
        }
        let bash = try await Self.stewardAsync(["completion", "bash"])
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("steward-completion-\(UUID().uuidString).bash")
        try bash.stdout.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let loaded: ChildProcess.Ending = try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    try ChildProcess.run("/bin/bash", ["-c", "source '\(script.path)' && complete -p steward"])
                })
            }.start()
        }
        #expect(loaded.status == 0, "bash accepts the script and registers a completion for steward")
        let unknown = try await Self.stewardAsync(["completion", "tcsh"])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown shell 'tcsh'; expected bash, zsh or fish"), "\(unknown)")
        let deliver = try await Self.stewardAsync(["notifications", "deliver", "--help"])
        #expect(deliver.status == 0 && deliver.stdout.contains("--workflows"), "\(deliver)")
    }

    @Test("steward validate workflows/ accepts the shipped templates")
    func validateShipped() async throws {
        try await Self.requirePlugins()
        let run = try await Self.stewardAsync(["validate", "workflows/"])
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("ok    workflows/support-ticket-triage.yaml  (support-ticket-triage 1.1.0, 12 states)"), "\(run)")
        #expect(run.stdout.contains("ok    workflows/account-health-review.yaml"), "\(run)")
        #expect(run.stdout.contains("ok    workflows/customers/acme-bank.yaml  (customer acme-bank)"), "\(run)")
        #expect(run.stdout.contains("file(s) valid"))
        // stderr may only say which plugins it built.
        #expect(run.stderrLines.allSatisfy { $0.hasPrefix("steward: building plugin") }, "\(run)")
    }

    @Test("steward validate of a bad template exits 1 with file:line:col: error: lines")
    func validateBad() async throws {
        try await Self.requirePlugins()
        let fixture = "Tests/StewardTemplatesTests/Fixtures/bad/missing-state.yaml"
        let run = try await Self.stewardAsync(["validate", fixture])
        #expect(run.status == 1, "\(run)")
        #expect(run.stdout.isEmpty, "\(run)")
        #expect(run.stderrLines == [
            "\(fixture):22:15: error: transition to unknown state 'faild' (did you mean 'failed'?); expected one of: intake, classify, done, failed",
            "1 problem(s) in 1 file(s)",
        ])

        let ten = try await Self.stewardAsync(["validate", "Tests/StewardTemplatesTests/Fixtures/bad/ten-mistakes.yaml"])
        #expect(ten.status == 1)
        let errorLines = ten.stderrLines.filter { $0.contains(": error: ") }
        #expect(errorLines.count == 10, "\(ten)")
        for line in errorLines {
            #expect(line.wholeMatch(of: /Tests\/StewardTemplatesTests\/Fixtures\/bad\/ten-mistakes\.yaml:\d+:\d+: error: .+/) != nil, "\(line)")
        }
        #expect(ten.stderrLines.last == "10 problem(s) in 1 file(s)")
    }

    @Test("ticket 1 (a card-payment fee question) completes through the trained classifier, with no human review")
    func ticketOne() async throws {
        let (run, report) = try await Self.runTicket(1)
        #expect(run.status == 0, "\(run)")
        #expect(report["status"] == "completed")
        #expect(report["instance"] == "e2e-1")
        #expect(report["state"] == "done")
        #expect(report.value(at: ["output", "classification", "label"]) == "card_payment_fee_charged")
        #expect(report.value(at: ["output", "classification", "adapter"]) == "banking-intent@3.0.0")
        #expect((report.value(at: ["output", "classification", "confidence"])?.doubleValue ?? 0) >= 0.7)
        #expect(report.value(at: ["output", "routing"]) == ["category": "card_payment_fee_charged", "queue": "billing", "priority": "P4"])
        #expect(report.value(at: ["output", "review", "automatic"]) == true)
        #expect(report.value(at: ["output", "delivery", "sent"]) == true)
        #expect(report.value(at: ["output", "reply", "body"])?.stringValue?.hasPrefix("Hi Amara,") == true)
    }

    @Test("ticket 2 (a stolen card) stops at review_reply for a support agent")
    func ticketTwo() async throws {
        let (run, report) = try await Self.runTicket(2)
        #expect(run.status == 0, "\(run)")
        #expect(report["status"] == "waiting")
        #expect(report["state"] == "review_reply")
        #expect(report.value(at: ["waiting_for", "checkpoint"]) == "review_reply")
        #expect(report.value(at: ["waiting_for", "credential"]) == "support-agent")
        #expect(report.value(at: ["waiting_for", "subject", "subject"]) == "Re: My card was stolen")
        #expect(report["output"] == nil)
    }

    @Test("ticket 3 (no content) is discarded and ends rejected")
    func ticketThree() async throws {
        let (run, report) = try await Self.runTicket(3)
        #expect(run.status == 0, "\(run)")
        #expect(report["status"] == "rejected")
        #expect(report["state"] == "discard")
        #expect(report.value(at: ["output", "ticket", "word_count"]) == 1)
        #expect(report.value(at: ["output", "classification"]) == nil)
    }

    @Test("without --quiet, run prints each transition before the report")
    func transitions() async throws {
        try await Self.requirePlugins()
        let run = try await Self.stewardAsync(["run", Self.triage, "--input", "workflows/examples/ticket-1.json", "--db", Self.database])
        #expect(run.status == 0)
        let moves = run.stdout.split(separator: "\n").filter { $0.hasPrefix("transition ") }
        // Each line names the first 8 characters of the instance id.
        let trimmed = moves.map { $0.split(separator: " ", maxSplits: 2).dropFirst(2).joined() }
        #expect(trimmed.first == "(start) -> intake: started")
        #expect(trimmed.last == "respond -> done: step support.send_reply succeeded")
        #expect(moves.count == 10)
    }

    @Test(
        "plugins inspect lists each built plugin's steps and flags",
        arguments: [
            ("libsteward-keywords.so", "keywords", ["  keywords.classify 1.0.0  [thread-safe, pure]"]),
            (
                "libsteward-support.so", "support",
                [
                    "  support.normalize 1.0.0  [thread-safe, pure]", "  support.route 1.0.0  [thread-safe, pure]",
                    "  support.draft_reply 1.0.0  [thread-safe, pure]", "  support.send_reply 1.0.0  [thread-safe]",
                ]
            ),
        ])
    func inspect(library: String, name: String, steps: [String]) async throws {
        try await Self.requirePlugins()
        let path = ".steward/plugins/\(library)"
        let run = try await Self.stewardAsync(["plugins", "inspect", path])
        #expect(run.status == 0, "\(run)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "plugin   \(name) 1.0.0")
        #expect(lines.contains("abi      1.2 (host speaks 1.2)"))
        #expect(lines.contains("steps    \(steps.count)"))
        let stepLines = lines.filter { $0.hasPrefix("  \(name).") }
        #expect(stepLines.count == steps.count)
        for (line, expected) in zip(stepLines, steps) { #expect(line.hasPrefix(expected), "\(line)") }

        let json = try await Self.stewardAsync(["plugins", "inspect", path, "--json"])
        let description = try JSONValue.parse(json.stdout)
        #expect(description["name"] == .string(name))
        #expect(description["abi"] == "1.2")
        let described = description["steps"]?.arrayValue ?? []
        #expect(described.compactMap { $0["name"]?.stringValue } == steps.map { String($0.dropFirst(2).prefix { $0 != " " }) })
        #expect(described.allSatisfy { $0["thread_safe"] == true })
    }

    @Test("a missing input file gives one line on stderr and a non-zero exit")
    func missingInput() async throws {
        try await Self.requirePlugins()
        let run = try await Self.stewardAsync(["run", Self.triage, "--input", "workflows/examples/no-such-ticket.json"])
        #expect(run.status != 0)
        #expect(run.stdout.isEmpty, "\(run)")
        #expect(run.stderrLines.count == 1, "\(run)")
        #expect(run.stderr.contains("no such file: workflows/examples/no-such-ticket.json"))
        // A near miss names the file meant; so does a template path.
        let near = try await Self.stewardAsync(["run", Self.triage, "--input", "workflows/examples/tickt-1.json"])
        #expect(near.status == 1 && near.stderr.contains("no such file: workflows/examples/tickt-1.json (did you mean workflows/examples/ticket-1.json)"), "\(near)")
        let template = try await Self.stewardAsync(["run", "workflows/support-ticket-triag.yaml", "--input", "workflows/examples/ticket-1.json"])
        #expect(template.status == 1 && template.stderr.contains("(did you mean workflows/support-ticket-triage.yaml)"), "\(template)")
    }

    @Test("malformed input JSON is refused with its line and column")
    func malformedInput() async throws {
        try await Self.requirePlugins()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("steward-e2e-\(UUID().uuidString).json")
        try Data("{\"subject\": \"x\",\n  \"body\": \"y\"\n  \"channel\": \"é-mail\"}".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try await Self.stewardAsync(["run", Self.triage, "--input", file.path])
        #expect(run.status == 1)
        #expect(run.stderrLines == ["\(file.path):3:3: invalid JSON: expected ',' or '}'"], "\(run)")
    }

    @Test("--output json is --json, on every command that has --json; --output table is the text")
    func outputChoice() async throws {
        try await Self.requirePlugins()
        let flag = try await Self.stewardAsync(["plugins", "list", "--no-build", "--json"])
        let option = try await Self.stewardAsync(["plugins", "list", "--no-build", "--output", "json"])
        #expect(flag.status == 0 && option.status == 0 && (try? JSONValue.parse(option.stdout)) == (try? JSONValue.parse(flag.stdout)), "\(option)")
        let table = try await Self.stewardAsync(["instances", "list", "--db", Self.database, "--output", "table"])
        #expect(table.status == 0 && (try? JSONValue.parse(table.stdout)) == nil, "\(table)")
        let wrong = try await Self.stewardAsync(["instances", "list", "--db", Self.database, "--output", "xml"])
        #expect(wrong.status != 0 && wrong.stderr.contains("Please provide one of 'table' and 'json'"), "\(wrong)")
    }

    @Test("a reviewer command without a token says where a token comes from")
    func noToken() async throws {
        try await Self.requirePlugins()
        let run = try await Self.stewardAsync(["review", "approve", "1", "--db", Self.database])
        #expect(run.status == 1 && run.stderr.contains("pass --token TOKEN or set STEWARD_TOKEN") && run.stderr.contains("steward reviewers add"), "\(run)")
        let unknown = try await Self.stewardAsync(["review", "list", "--token", "stw_nope", "--db", Self.database])
        #expect(unknown.status == 1 && unknown.stderr.contains("unknown token (from --token)"), "\(unknown)")
    }

    @Test("a port in use is named, with what to do")
    func portInUse() async throws {
        try await Self.requirePlugins()
        let (listener, port) = try #require(Loopback.claim(listening: true), "a port of our own on 127.0.0.1")
        defer { close(listener) }
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("steward-port-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm", ".crashes"] { try? FileManager.default.removeItem(atPath: database + suffix) } }
        let run = try await Self.stewardAsync(["serve", "--port", String(port), "--db", database, "--no-build"], timeout: 240)
        #expect(run.status == 1, "\(run)")
        #expect(run.stderr.contains("port \(port) on 127.0.0.1 is already in use") && run.stderr.contains("--port"), "\(run)")
        #expect(!run.stderr.contains("errno"), "no socket-layer jargon: \(run)")
    }

    @Test("audit keygen, audit head and audit verify --expect anchor the journal; a wiped store fails against the head")
    func auditHead() async throws {
        try await Self.requirePlugins()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("steward-audit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let database = scratch.appendingPathComponent("s.db").path
        let key = scratch.appendingPathComponent("audit.key").path
        let headFile = scratch.appendingPathComponent("head.json").path

        let ticket = try await Self.stewardAsync(["run", Self.triage, "--input", "workflows/examples/ticket-2.json", "--quiet", "--db", database])
        #expect(ticket.status == 0, "\(ticket)")
        #expect(try await Self.stewardAsync(["reviewers", "add", "Ana", "--credential", "support-agent", "--db", database]).status == 0)

        let keygen = try await Self.stewardAsync(["audit", "keygen", "--out", key])
        #expect(keygen.status == 0, "\(keygen)")
        let publicKey = keygen.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(publicKey.count == 64, "\(keygen)")
        let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
        #expect(mode == 0o600, "the private key is readable by its owner only")
        #expect(try await Self.stewardAsync(["audit", "keygen", "--out", key]).status != 0, "an existing key file is never overwritten")

        let head = try await Self.stewardAsync(["audit", "head", "--audit-key", key, "--db", database])
        #expect(head.status == 0, "\(head)")
        let json = try JSONValue.parse(head.stdout)
        #expect(json["format"] == "steward-audit-head/1")
        #expect(json["public_key"] == .string(publicKey))
        #expect((json["journal_last_id"]?.integerValue ?? 0) > 0 && json["reviewers"] == 1 && json["review_tasks"] == 1, "\(head)")
        try head.stdout.write(toFile: headFile, atomically: true, encoding: .utf8)

        let verify = try await Self.stewardAsync(["audit", "verify", "--expect", headFile, "--audit-public-key", publicKey, "--db", database])
        #expect(verify.status == 0, "\(verify)")
        #expect(verify.stdout.contains("against the signed head at journal row") && verify.stdout.contains("intact"), "\(verify)")
        let inline = try await Self.stewardAsync(["audit", "verify", "--expect", json.jsonString, "--audit-public-key", publicKey, "--db", database])
        #expect(inline.status == 0, "the head may be given as its JSON: \(inline)")

        let other = try await Self.stewardAsync(["audit", "keygen", "--out", scratch.appendingPathComponent("other.key").path])
        let stranger = try await Self.stewardAsync([
            "audit", "verify", "--expect", headFile, "--audit-public-key", other.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
            "--db", database,
        ])
        #expect(stranger.status == 1 && stranger.stderr.contains("signature does not verify"), "\(stranger)")

        // The whole store wiped: on its own it is an empty, consistent store; the head says otherwise.
        try FileManager.default.removeItem(atPath: database)
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        let plain = try await Self.stewardAsync(["audit", "verify", "--db", database])
        #expect(plain.status == 0, "\(plain)")
        let wiped = try await Self.stewardAsync(["audit", "verify", "--expect", headFile, "--audit-public-key", publicKey, "--db", database])
        #expect(wiped.status == 1, "\(wiped)")
        #expect(wiped.stderr.contains("the store ends at row 0") && wiped.stdout.contains("1 problem(s)"), "\(wiped)")
    }
}
