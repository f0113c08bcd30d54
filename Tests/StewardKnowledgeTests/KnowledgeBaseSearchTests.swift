import Foundation
import StewardJSON
import StewardKnowledge
import StewardPlugins
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The checkout and the plugin, built once per test process.
enum KB {
    /// The package root (holds `Package.swift`).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// `data/stackfaq/articles.json`.
    static let articles = packageRoot.appendingPathComponent("data/stackfaq/articles.json").path
    /// `data/stackfaq/queries-dev.jsonl`.
    static let devQueries = packageRoot.appendingPathComponent("data/stackfaq/queries-dev.jsonl")

    /// One temporary directory per test process for the plugin and the test files; removed at exit.
    static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("steward-kb-tests-\(UUID().uuidString)")
        atexit { try? FileManager.default.removeItem(at: KB.scratch) }
        return url
    }()

    /// Plugins/kb compiled from its manifest into the scratch directory.
    static let library: Result<String, KnowledgeBaseError> = Result {
        () throws(KnowledgeBaseError) -> String in
        try KnowledgeBasePlugin.build(packageRoot: packageRoot, into: scratch.appendingPathComponent("plugin"))
    }

    /// A registry holding only the kb plugin, loaded through the real host.
    static func registry() throws -> PluginRegistry {
        try PluginRegistry(loading: [library.get()])
    }

    /// Calls kb.search with the checkout's articles unless `config` says otherwise.
    static func search(_ input: JSONValue, config: JSONValue = ["articles": .string(articles)]) throws -> JSONValue {
        try registry().call("kb.search", input: input, config: config, idempotencyKey: "test/search/1", attempt: 1)
    }

    /// The ids of the results.
    static func ids(_ output: JSONValue) -> [String] {
        (output["results"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
    }

    /// Writes `text` to a fresh temporary file and returns its path.
    static func temporaryFile(_ text: String, name: String = "articles.json") throws -> String {
        let directory = scratch.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }
}

@Suite("kb.search ranking on StackFAQ")
struct KnowledgeBaseRankingTests {
    @Test("the plugin loads through the host and declares one thread-safe, pure step")
    func loads() throws {
        let registry = try KB.registry()
        let plugin = try #require(registry.plugins.first)
        #expect(plugin.name == "kb")
        #expect(plugin.abiMajor == 1 && plugin.abiMinor == PluginLoader.hostABI.minor)
        #expect(registry.stepNames == ["kb.search"])
        let step = try #require(registry.step("kb.search"))
        #expect(step.isThreadSafe && step.isPure)
    }

    @Test("the right article is in the top 3 for at least 90% of the dev queries")
    func devQueriesTop3() throws {
        let queries = try LabelledQuery.load(from: KB.devQueries)
        #expect(queries.count == 625)
        let metrics = try KnowledgeBaseEvaluator(plugin: KB.library.get(), articles: KB.articles).evaluate(queries)
        #expect(metrics.count == 625)
        #expect(metrics.top3 >= 0.90, "dev \(metrics)")
        #expect(metrics.top1 <= metrics.top3 && metrics.mrr >= metrics.top1)
    }

    @Test("parameters chosen on one half of the dev queries still reach 90% top-3 on the other half")
    func crossValidatedTop3() throws {
        let queries = try LabelledQuery.load(from: KB.devQueries)
        let validation = try KnowledgeBaseEvaluator(plugin: KB.library.get(), articles: KB.articles).crossValidate(queries)
        #expect(validation.folds.count == 2)
        for fold in validation.folds {
            #expect(fold.heldOut.top3 >= 0.90, "tuned on \(fold.tunedOn) with \(fold.chosen): held out \(fold.heldOut)")
        }
        #expect(validation.top3 >= 0.90)
    }

    @Test("RankingParameters.defaults mirrors the plugin's built-in defaults")
    func defaultsMirrorThePlugin() throws {
        let queries = try LabelledQuery.load(from: KB.devQueries).prefix(50)
        let explicitConfig = RankingParameters.defaults.config(articles: KB.articles)
        let builtIn = try queries.map { try KB.search(["query": .string($0.query), "k": 10]) }
        let explicit = try queries.map { try KB.search(["query": .string($0.query), "k": 10], config: explicitConfig) }
        #expect(builtIn == explicit)
    }

    @Test("the parameters matter: without title weighting and with saturating tf, ranking is worse")
    func parametersReachThePlugin() throws {
        let queries = try LabelledQuery.load(from: KB.devQueries)
        let evaluator = try KnowledgeBaseEvaluator(plugin: KB.library.get(), articles: KB.articles)
        let tuned = try evaluator.evaluate(queries)
        let flat = try evaluator.evaluate(queries, parameters: RankingParameters(k1: 1.2, bTitle: 0.75, bBody: 0.75, titleWeight: 1))
        #expect(flat.top3Hits < tuned.top3Hits, "flat \(flat) vs tuned \(tuned)")
    }
}

@Suite("kb.search contract")
struct KnowledgeBaseContractTests {
    @Test("results are the top k, best first, with ids and titles from the articles file")
    func resultShape() throws {
        let text = try String(contentsOfFile: KB.articles, encoding: .utf8)
        let titles = Dictionary(uniqueKeysWithValues: try JSONValue.parse(text).arrayValue!.map {
            ($0["id"]!.stringValue!, $0["title"]!.stringValue!)
        })
        let output = try KB.search(["query": "How do I make strikethrough text on GitHub?", "k": 5])
        let results = try #require(output["results"]?.arrayValue)
        #expect(results.count == 5)
        #expect(KB.ids(output).first == "faq-001")
        #expect(Set(KB.ids(output)).count == 5)
        let scores = results.compactMap { $0["score"]?.doubleValue }
        #expect(scores.count == 5)
        #expect(scores == scores.sorted(by: >))
        #expect(scores.allSatisfy { $0 > 0 })
        for result in results {
            let id = try #require(result["id"]?.stringValue)
            #expect(result["title"]?.stringValue == titles[id])
        }
    }

    @Test("k defaults to 3")
    func defaultK() throws {
        #expect(KB.ids(try KB.search(["query": "delete my facebook account"])).count == 3)
    }

    @Test("a query that matches nothing, or only stop words, returns no results", arguments: [
        "zzyzx qwxpt", "how do I do it", "???",
    ])
    func noMatch(query: String) throws {
        #expect(try KB.search(["query": .string(query), "k": 10]) == ["results": []])
    }

    @Test("stemming lets inflections meet: deleting/deleted/delete rank the same article first", arguments: [
        "deleting my facebook account", "deleted facebook accounts", "delete facebook account",
    ])
    func stemming(query: String) throws {
        #expect(KB.ids(try KB.search(["query": .string(query)])).first == "faq-002")
    }

    @Test("non-ASCII titles and characters that need escaping come back intact")
    func unicodeRoundTrip() throws {
        let path = try KB.temporaryFile("""
            [{"id": "u1", "title": "Caf\\u00e9 \\"menus\\" \\ud83d\\ude00 and\\ttabs", "answers": ["Menus of a café"]},
             {"id": "u2", "title": "Something else", "answers": ["Nothing about it"]}]
            """)
        let output = try KB.search(["query": "café menus"], config: ["articles": .string(path)])
        let first = try #require(output["results"]?.arrayValue?.first)
        #expect(first["id"] == "u1")
        #expect(first["title"]?.stringValue == "Café \"menus\" 😀 and\ttabs")
    }

    /// Inputs the step must refuse with STW_ERR_INVALID_INPUT, and the message it gives.
    static let badInputs: [(JSONValue, String)] = [
        (["k": 3], "input field \"query\" must be a string, found nothing"),
        (["query": 42], "input field \"query\" must be a string, found number"),
        (["query": ""], "input field \"query\" is empty"),
        (["query": "  \n "], "input field \"query\" is empty"),
        (["query": "gmail", "k": 0], "input field \"k\" must be an integer from 1 to 100"),
        (["query": "gmail", "k": 101], "input field \"k\" must be an integer from 1 to 100"),
        (["query": "gmail", "k": 2.5], "input field \"k\" must be an integer from 1 to 100"),
        (["query": "gmail", "k": "3"], "input field \"k\" must be an integer from 1 to 100"),
        (["gmail"], "input must be a JSON object {\"query\": \"...\", \"k\": 3}, found array"),
    ]

    @Test("a bad query input is refused as invalid input", arguments: badInputs)
    func badInput(input: JSONValue, message: String) throws {
        #expect(throws: StepCallError(step: "kb.search", kind: .invalidInput, message: message)) {
            _ = try KB.search(input)
        }
    }

    @Test("input bytes that are not JSON are refused as invalid input")
    func notJSON() throws {
        let step = try #require(try KB.registry().step("kb.search"))
        let input = Array("{\"query\": \"gmail\"".utf8)
        let config = Array("{}".utf8)
        let error = #expect(throws: StepCallError.self) {
            try input.withUnsafeBytes { input in
                try config.withUnsafeBytes { config in
                    _ = try step.callRaw(input: input, config: config, idempotencyKey: "t/search/1", attempt: 1)
                }
            }
        }
        #expect(error?.kind == .invalidInput)
        #expect(error?.message.hasPrefix("input is not valid JSON: invalid JSON at byte 17") == true)
    }

    /// Configs the step must refuse with STW_ERR_INVALID_INPUT, and the message it gives.
    static let badConfigs: [(JSONValue, String)] = [
        (["articles": 42], "config \"articles\" must be a non-empty path string"),
        (["articles": ""], "config \"articles\" must be a non-empty path string"),
        (["k1": -1], "config \"k1\" must be a number from 0.001 to 1000"),
        (["b_body": 1.5], "config \"b_body\" must be a number from 0 to 1"),
        (["title_weight": 0, "body_weight": 0], "config \"title_weight\" and \"body_weight\" cannot both be 0"),
        (["article": "typo.json"], "unknown config key \"article\" (known: articles, k1, b_title, b_body, title_weight, body_weight)"),
    ]

    @Test("a bad step config is refused as invalid input", arguments: badConfigs)
    func badConfig(config: JSONValue, message: String) throws {
        #expect(throws: StepCallError(step: "kb.search", kind: .invalidInput, message: message)) {
            _ = try KB.search(["query": "gmail"], config: config)
        }
    }

    @Test("a missing articles file is a permanent error naming the path")
    func missingFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-\(UUID().uuidString).json").path
        #expect(throws: StepCallError(
            step: "kb.search", kind: .permanent,
            message: "knowledge base articles file '\(path)' (from step config \"articles\"): no such file")
        ) {
            _ = try KB.search(["query": "gmail"], config: ["articles": .string(path)])
        }
    }

    /// Articles files with the wrong content, and the end of the message that says so.
    static let brokenFiles: [(String, String)] = [
        ("[{\"id\": \"a\", \"title\": ", "invalid JSON at byte 22: expected a value"),
        ("{\"articles\": []}", "expected an array of articles, found object"),
        ("[]", "the array of articles is empty"),
        ("[{\"id\": \"a\"}]", "article 0 (a): \"title\" must be a string"),
        ("[{\"title\": \"t\"}]", "article 0: \"id\" must be a non-empty string"),
        ("[{\"id\": \"a\", \"title\": \"t\", \"answers\": \"x\"}]", "article 0 (a): \"answers\" must be an array of strings"),
        ("[{\"id\": \"a\", \"title\": \"t\", \"answers\": [\"ok\", 7]}]", "article 0 (a): answer 1 is a number, expected a string"),
        ("[{\"id\": \"a\", \"title\": \"t\\ud800\\u00\"}]", "invalid JSON at byte 32: bad hex digit in \\u escape"),
    ]

    @Test("a malformed articles file is a permanent error naming the path and the problem", arguments: brokenFiles)
    func brokenFile(content: String, problem: String) throws {
        let path = try KB.temporaryFile(content)
        #expect(throws: StepCallError(
            step: "kb.search", kind: .permanent, message: "knowledge base articles file '\(path)': \(problem)")
        ) {
            _ = try KB.search(["query": "gmail"], config: ["articles": .string(path)])
        }
    }

    @Test("an articles file that is not UTF-8 is refused rather than echoed into outputs")
    func notUTF8() throws {
        let path = try KB.temporaryFile("", name: "latin1.json")
        let url = URL(fileURLWithPath: path)
        try Data(Array("[{\"id\": \"a\", \"title\": \"caf".utf8) + [0xE9] + Array("\"}]".utf8)).write(to: url)
        #expect(throws: StepCallError(
            step: "kb.search", kind: .permanent,
            message: "knowledge base articles file '\(url.path)': invalid JSON at byte 26: invalid UTF-8 in string")
        ) {
            _ = try KB.search(["query": "cafe"], config: ["articles": .string(url.path)])
        }
    }
}

/// The environment the step reads is the one of the process it runs in: these tests run the
/// plugin in a host process (`isolation: process`) with the variable set or removed there, so
/// this process's environment never changes under other tests (setenv is not safe while other
/// threads read the environment, and every test that starts a process reads it).
@Suite("kb.search articles location")
struct KnowledgeBaseLocationTests {
    /// The kb plugin in a host process whose environment has `changes` applied.
    static func isolatedSearch(_ input: JSONValue, environment changes: [String: String?]) throws -> JSONValue {
        guard let host = IsolationEnvironment.locateHost() else { throw KnowledgeBaseError("steward-plugin-host is built with the tests") }
        var settings = IsolationSettings(mode: .process, hosts: 1, channels: 1)
        settings.environment = changes
        let plugin = try PluginLoader.load(path: KB.library.get(), isolation: settings, environment: IsolationEnvironment(hostExecutable: host, stateDirectory: nil))
        defer { plugin.isolated?.stop() }
        var registry = PluginRegistry()
        try registry.register(plugin)
        return try registry.call("kb.search", input: input, config: [:], idempotencyKey: "test/search/1", attempt: 1)
    }

    @Test("without a config path the step reads $STEWARD_KB_ARTICLES")
    func environment() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("absent-\(UUID().uuidString).json").path
        #expect(throws: StepCallError(
            step: "kb.search", kind: .permanent,
            message: "knowledge base articles file '\(missing)' (from $STEWARD_KB_ARTICLES): no such file")
        ) {
            _ = try Self.isolatedSearch(["query": "gmail"], environment: ["STEWARD_KB_ARTICLES": missing])
        }
        let found = try Self.isolatedSearch(["query": "strikethrough on github"], environment: ["STEWARD_KB_ARTICLES": KB.articles])
        #expect(KB.ids(found).first == "faq-001")
    }

    @Test("with neither, it names the default path relative to the current directory")
    func defaultPath() throws {
        let here = FileManager.default.currentDirectoryPath
        let expected = FileManager.default.fileExists(atPath: here + "/data/stackfaq/articles.json")
        let unset: [String: String?] = ["STEWARD_KB_ARTICLES": nil]
        if expected {
            // Run from the checkout (as `swift test` does): the default resolves.
            #expect(KB.ids(try Self.isolatedSearch(["query": "strikethrough on github"], environment: unset)).first == "faq-001")
        } else {
            #expect(throws: StepCallError(
                step: "kb.search", kind: .permanent,
                message: "knowledge base articles file 'data/stackfaq/articles.json' (the default, relative to the current directory; set step config \"articles\" or $STEWARD_KB_ARTICLES): no such file")
            ) {
                _ = try Self.isolatedSearch(["query": "gmail"], environment: unset)
            }
        }
    }
}

@Suite("kb.search under concurrency")
struct KnowledgeBaseConcurrencyTests {
    @Test("concurrent first calls on a new file build one index and agree with serial calls")
    func concurrentCalls() async throws {
        // A private copy, so that this test's calls are the first to index it.
        let path = try KB.temporaryFile(try String(contentsOfFile: KB.articles, encoding: .utf8))
        let queries = Array(try LabelledQuery.load(from: KB.devQueries).prefix(64))
        let registry = try KB.registry()
        let config: JSONValue = ["articles": .string(path)]
        let concurrent = try await withThrowingTaskGroup(of: (Int, JSONValue).self) { group in
            for (index, query) in queries.enumerated() {
                group.addTask {
                    (index, try registry.call(
                        "kb.search", input: ["query": .string(query.query), "k": 5], config: config,
                        idempotencyKey: "c\(index)/search/1", attempt: 1))
                }
            }
            var outputs = [JSONValue](repeating: .null, count: queries.count)
            for try await (index, output) in group { outputs[index] = output }
            return outputs
        }
        for (index, query) in queries.enumerated() {
            let serial = try registry.call(
                "kb.search", input: ["query": .string(query.query), "k": 5], config: config,
                idempotencyKey: "s\(index)/search/1", attempt: 1)
            #expect(concurrent[index] == serial, "query \(index): \(query.query)")
        }
    }
}
