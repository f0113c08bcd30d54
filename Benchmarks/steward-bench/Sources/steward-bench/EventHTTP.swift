import Foundation
import StewardJSON
import StewardReview
import StewardStoreSQLite

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Event delivery over HTTP (issue 14): a real `steward serve` (release, spawned like an
/// operator starts it) with `n` instances waiting at an event state whose next state is a plugin
/// step; events are POSTed one at a time to `/v1/instances/{id}/events/ping` on one kept-alive
/// connection (Foundation's URLSession), and two latencies are recorded per event: POST →
/// response (the event's transition is committed and the instance is `running` at the step,
/// handed to the driver), and POST → the step's result committed (the instance `completed`,
/// seen by polling GET on the same connection, so it includes up to one GET round trip).
struct EventHTTPBenchmark {
    let steward: String
    let plugins: String
    let scratch: String
    let n: Int

    static let template = """
        template: bench-event-http
        version: 1.0.0
        vertical: benchmarks
        description: Waits for an event, then runs one plugin step.
        aop:
          domain: Benchmarks.
          inputs: [A ticket text.]
          outputs: [The scan.]
          human_touchpoints: [none]
          failure_modes: [none]
          escalation_target: bench
          may: [Wait, scan.]
          may_not: [Anything else.]
        plugins: [keywords]
        start: listen
        states:
          listen:
            kind: event
            event: ping
            payload: {n: integer}
            next: scan
          scan:
            kind: step
            step: keywords.classify
            input: {text: input.text}
            output: scan
            next: done
          done: {kind: end, status: completed}
        """

    func run() async throws -> JSONValue {
        let workflows = URL(fileURLWithPath: scratch).appendingPathComponent("workflows")
        try FileManager.default.createDirectory(at: workflows, withIntermediateDirectories: true)
        try Self.template.write(to: workflows.appendingPathComponent("bench-event-http.yaml"), atomically: true, encoding: .utf8)
        let database = URL(fileURLWithPath: scratch).appendingPathComponent("event-http.db").path
        let token = try await SQLiteStore(path: database).addReviewer(name: "bench", credentials: [], role: "operator", at: 0).token

        let server = Process()
        server.executableURL = URL(fileURLWithPath: steward)
        server.arguments = ["serve", "--port", "0", "--db", database, "--workflows", workflows.path, "--plugins", plugins, "--log-level", "error"]
        server.currentDirectoryURL = URL(fileURLWithPath: scratch)
        let output = Pipe()
        server.standardOutput = output
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        // "steward: serving the API on http://127.0.0.1:PORT/v1 ..."
        var banner = Data()
        while !String(decoding: banner, as: UTF8.self).contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw BenchError("steward serve exited before serving") }
            banner.append(chunk)
        }
        let line = String(decoding: banner, as: UTF8.self)
        guard let range = line.range(of: "http://"), let base = line[range.lowerBound...].split(separator: " ").first.map({ String($0) }) else {
            throw BenchError("unexpected banner: \(line)")
        }
        let client = Client(base: base, token: token)

        var ids: [String] = []
        for index in 0..<n {
            let reply = try await client.send("POST", "/instances", ["template": "bench-event-http", "input": ["text": .string("my card was stolen \(index)")]])
            guard let id = reply["id"]?.stringValue else { throw BenchError("submit answered \(reply.jsonString)") }
            ids.append(id)
        }
        for id in ids {
            while try await client.send("GET", "/instances/\(id)", nil)["status"]?.stringValue != "waiting" { try await Task.sleep(for: .milliseconds(1)) }
        }
        var committed: [Double] = []
        var stepDone: [Double] = []
        for (index, id) in ids.enumerated() {
            let start = nowNanoseconds()
            let reply = try await client.send("POST", "/instances/\(id)/events/ping", ["payload": ["n": .integer(Int64(index))]])
            committed.append(Double(nowNanoseconds() - start) / 1e6)
            guard reply["state"]?.stringValue == "scan" || reply["status"]?.stringValue == "completed" else {
                throw BenchError("event answered \(reply.jsonString)")
            }
            var status = reply["status"]?.stringValue
            while status != "completed" {
                status = try await client.send("GET", "/instances/\(id)", nil)["status"]?.stringValue
                guard status == "running" || status == "completed" else { throw BenchError("\(id) is \(status ?? "?") after its event") }
            }
            stepDone.append(Double(nowNanoseconds() - start) / 1e6)
        }
        committed.sort()
        stepDone.sort()
        return [
            "events": .int(n), "transport": "HTTP/1.1 keep-alive (URLSession) to steward serve on loopback",
            "post_to_committed_ms_p50": .number(percentile(committed, 50)), "post_to_committed_ms_p99": .number(percentile(committed, 99)),
            "post_to_next_step_done_ms_p50": .number(percentile(stepDone, 50)), "post_to_next_step_done_ms_p99": .number(percentile(stepDone, 99)),
        ]
    }

    /// One kept-alive connection to the API (the scale-out benchmark uses it too).
    struct Client: Sendable {
        let base: String
        let token: String
        let session: URLSession = {
            let configuration = URLSessionConfiguration.ephemeral
            configuration.httpMaximumConnectionsPerHost = 1
            return URLSession(configuration: configuration)
        }()

        func send(_ method: String, _ path: String, _ body: JSONValue?) async throws -> JSONValue {
            guard let url = URL(string: base + path) else { throw BenchError("bad URL \(base + path)") }
            var request = URLRequest(url: url)
            request.httpMethod = method
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            if let body {
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                request.httpBody = Data(body.jsonString.utf8)
            }
            let (data, response) = try await session.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            guard (200..<300).contains(status) else { throw BenchError("\(method) \(path): \(status) \(String(decoding: data, as: UTF8.self))") }
            return try JSONValue.parse(String(decoding: data, as: UTF8.self))
        }
    }
}
