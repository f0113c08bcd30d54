import Foundation
import Hummingbird
import StewardJSON
import StewardReview
import StewardCore
import StewardEngine
import StewardTemplates

extension StewardServer {
    /// `GET /healthz`, `GET /readyz`, `GET /metrics`.
    func addOperationalRoutes(to router: Router<StewardRequestContext>) {
        router.get("/healthz") { _, _ in
            JSONResponse.make(["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            var checks: [String: JSONValue] = [:]
            var ready = true
            do {
                _ = try await store.instance(id: "readyz-probe")
                checks["store"] = "ok"
            } catch {
                checks["store"] = .string("unreachable: \(error)")
                ready = false
            }
            checks["plugins"] = environment.plugins.isEmpty ? "none loaded" : .string("\(environment.plugins.count) loaded")
            checks["templates"] = environment.templates.isEmpty ? "none loaded" : .string("\(environment.templates.count) loaded")
            ready = ready && !environment.plugins.isEmpty && !environment.templates.isEmpty
            return JSONResponse.make(
                ["status": ready ? "ready" : "not_ready", "checks": .object(checks)], status: ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            let text = try await environment.metrics.render(store: store, now: now)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
    }

    /// The JSON API under `/v1`.
    func addAPIRoutes(to router: Router<StewardRequestContext>) {
        router.post("/v1/instances") { request, _ in try await submitInstance(request) }
        router.get("/v1/instances") { request, _ in try await listInstances(request) }
        router.get("/v1/instances/{id}") { request, context in
            try await showInstance(request, id: context.parameters.require("id"))
        }
        router.delete("/v1/instances/{id}") { request, context in
            try await cancelInstance(request, id: context.parameters.require("id"))
        }
        router.post("/v1/instances/{id}/retry") { request, context in
            try await retryInstance(request, id: context.parameters.require("id"))
        }
        router.post("/v1/instances/{id}/events/{name}") { request, context in
            try await sendEvent(request, id: context.parameters.require("id"), name: context.parameters.require("name"))
        }
        router.post("/v1/events/{name}") { request, context in
            try await sendCorrelatedEvent(request, name: context.parameters.require("name"))
        }
        router.get("/v1/tasks") { request, _ in try await listTasks(request) }
        router.get("/v1/tasks/{id}") { request, context in
            try await showTask(request, id: context.parameters.require("id"))
        }
        router.post("/v1/tasks/{id}/decision") { request, context in
            try await decideTask(request, id: context.parameters.require("id"))
        }
        router.post("/v1/tasks/{id}/claim") { request, context in
            try await claimTask(request, id: context.parameters.require("id"))
        }
        router.delete("/v1/tasks/{id}/claim") { request, context in
            try await releaseTask(request, id: context.parameters.require("id"))
        }
        router.get("/v1/notifications") { request, _ in try await listNotifications(request) }
        router.post("/v1/notifications/{id}/retry") { request, context in
            try await retryNotification(request, id: context.parameters.require("id"))
        }
        addEvalRoutes(to: router)
        addMigrationRoutes(to: router)
        addAuditRoutes(to: router)
    }

    // MARK: Authentication

    /// The caller of an API request, from `Authorization: Bearer <token>`.
    func caller(_ request: Request) async throws -> Reviewer {
        guard let token = request.bearerToken else {
            if request.headers[.authorization] != nil {
                throw APIError.unauthenticated("the Authorization header must be 'Bearer <token>'")
            }
            throw APIError.unauthenticated("this endpoint needs 'Authorization: Bearer <token>'")
        }
        guard let reviewer = try await store.reviewer(token: token) else { throw APIError.unauthenticated("unknown token") }
        return reviewer
    }

    /// The caller, who must be an operator.
    func operatorCaller(_ request: Request, to action: String) async throws -> Reviewer {
        let caller = try await caller(request)
        guard caller.role == "operator" else {
            throw APIError.forbidden("only operators may \(action); \(caller.id) has role '\(caller.role)'")
        }
        return caller
    }

    // MARK: Instances

    func submitInstance(_ request: Request) async throws -> Response {
        let submitter = try await operatorCaller(request, to: "submit instances")
        let fields = Fields(object: try await request.jsonObject())
        try fields.rejectUnknown(["template", "version", "customer", "input", "idempotency_key"])
        let template = try fields.string("template")
        let version = try fields.optionalString("version")
        let customer = try fields.optionalString("customer")
        let input = try fields.object("input")
        let key = try idempotencyKey(request, body: fields.optionalString("idempotency_key"))

        if let key, let existing = try await store.instance(clientKey: key) {
            try checkSameSubmission(existing, template: template, key: key)
            return JSONResponse.make(instanceJSON(existing), headers: [.location: "/v1/instances/\(existing.id)"])
        }
        guard engine.plans.plan(template: template, version: version) != nil else {
            throw APIError(
                .unprocessableContent, code: "unknown_template",
                "no template '\(template)'\(version.map { " at version \($0)" } ?? "") is loaded; loaded: \(environment.templates.joined(separator: ", "))",
                field: version == nil ? "template" : "version")
        }
        let id = UUID().uuidString.lowercased()
        let state: InstanceState
        do {
            state = try await engine.submit(
                template: template, version: version, customer: customer, input: input, id: id, clientKey: key, drive: false)
        } catch let error as EngineError {
            throw APIError.engine(error)
        }
        guard state.id == id else {
            // A concurrent request with the same key won; answer with its instance.
            try checkSameSubmission(state, template: template, key: key ?? "")
            return JSONResponse.make(instanceJSON(state), headers: [.location: "/v1/instances/\(state.id)"])
        }
        logger.info("instance submitted", metadata: ["instance": "\(id)", "template": "\(template)", "by": "\(submitter.id)"])
        if state.status == .running { driver.enqueue(state.id) }
        return JSONResponse.make(instanceJSON(state), status: .created, headers: [.location: "/v1/instances/\(state.id)"])
    }

    /// The idempotency key from the `Idempotency-Key` header or the body (they must agree).
    func idempotencyKey(_ request: Request, body: String?) throws -> String? {
        let header = request.headers[HeaderName.idempotencyKey]
        if let header, let body, header != body {
            throw APIError.badField("idempotency_key", "the Idempotency-Key header and the idempotency_key field differ")
        }
        guard let key = header ?? body else { return nil }
        guard !key.isEmpty, key.utf8.count <= 255 else {
            throw APIError.badField("idempotency_key", "an idempotency key must be 1 to 255 bytes")
        }
        return key
    }

    /// A repeated key must name the same template, or the client has mixed up two requests.
    func checkSameSubmission(_ existing: InstanceState, template: String, key: String) throws {
        guard existing.template == template else {
            throw APIError(
                .conflict, code: "idempotency_key_reused",
                "idempotency key '\(key)' was used for instance \(existing.id) of template '\(existing.template)', not '\(template)'",
                field: "idempotency_key")
        }
    }

    func showInstance(_ request: Request, id: String) async throws -> Response {
        _ = try await operatorCaller(request, to: "inspect instances")
        // The snapshot plus the events committed after it: a running instance's snapshot alone is stale.
        guard let state = try await environment.engine.currentState(id: id) else { throw APIError.notFound("no instance '\(id)'") }
        let history = try await store.history(of: id)
        var object = instanceJSON(state).objectValue ?? [:]
        object["history"] = .array(history.map(historyJSON))
        // A drive that failed after the request that started it was answered (the database
        // busy or down): the instance is still running and being retried; say so and why.
        if state.status == .running, let failure = driver.lastFailure(of: id) {
            object["background_error"] = [
                "message": .string(failure.message), "at": .string(isoTime(failure.at)), "attempts": .integer(Int64(failure.attempts)),
                "retry_at": .string(isoTime(failure.retryAt)),
            ]
        }
        return JSONResponse.make(.object(object))
    }

    /// `DELETE /v1/instances/{id}` (operators; `{"reason": ...}` required): the instance ends
    /// `cancelled`, journalled with the caller; 409 when it already ended.
    func cancelInstance(_ request: Request, id: String) async throws -> Response {
        let caller = try await operatorCaller(request, to: "cancel instances")
        let fields = Fields(object: try await request.jsonObject())
        try fields.rejectUnknown(["reason"])
        let reason = try fields.string("reason")
        guard !reason.allSatisfy(\.isWhitespace) else { throw APIError.badField("reason", "a cancellation needs a reason") }
        return JSONResponse.make(instanceJSON(try await cancel(instance: id, reason: reason, by: caller)))
    }

    /// Cancels instance `id` for `reason`, journalled with `caller` (what the API's `DELETE` and
    /// the console's cancel button do).
    /// - Throws: `APIError` from the engine's refusal: 404 no such instance, 409 it already ended.
    func cancel(instance id: String, reason: String, by caller: Reviewer) async throws -> InstanceState {
        do {
            let state = try await engine.cancel(instance: id, reason: reason, by: caller.id)
            logger.info("instance cancelled", metadata: ["instance": "\(id)", "by": "\(caller.id)"])
            return state
        } catch let error as EngineError {
            throw APIError.engine(error)
        }
    }

    /// `POST /v1/instances/{id}/retry` (operators): a failed instance runs the step it failed at
    /// again; 409 when it is not failed or failed where nothing is called.
    func retryInstance(_ request: Request, id: String) async throws -> Response {
        let caller = try await operatorCaller(request, to: "retry instances")
        let fields = Fields(object: try await request.jsonObject())
        try fields.rejectUnknown([])
        return JSONResponse.make(instanceJSON(try await retry(instance: id, by: caller)))
    }

    /// Retries failed instance `id`, journalled with `caller`, and hands it to the background
    /// driver (what the API's retry and the console's retry button do).
    /// - Throws: `APIError` from the engine's refusal: 404 no such instance, 409 not failed or
    ///   failed where nothing is called.
    func retry(instance id: String, by caller: Reviewer) async throws -> InstanceState {
        do {
            let state = try await engine.retry(instance: id, by: caller.id, drive: false)
            logger.info("instance retried", metadata: ["instance": "\(id)", "by": "\(caller.id)"])
            if state.status == .running { driver.enqueue(state.id) }
            return state
        } catch let error as EngineError {
            throw APIError.engine(error)
        }
    }

    /// `POST /v1/instances/{id}/events/{name}` (operators, or holders of the event state's
    /// `credential`): delivers `{payload}` to the instance waiting for the event; a repeated
    /// idempotency key answers with the instance as it is; 409 when it is not waiting for it;
    /// 422 naming the field when the payload breaks the state's contract.
    func sendEvent(_ request: Request, id: String, name: String) async throws -> Response {
        let sender = try await caller(request)
        let fields = Fields(object: try await request.jsonObject())
        try fields.rejectUnknown(["payload", "idempotency_key"])
        let payload = fields.object["payload"] ?? .emptyObject
        let key = try idempotencyKey(request, body: try fields.optionalString("idempotency_key"))
        guard let state = try await engine.currentState(id: id) else { throw APIError.notFound("no instance '\(id)'") }
        // A repeat of a delivery the instance has: the same answer, for the sender who made it.
        if let key, let earlier = try await store.history(of: id).first(where: {
            $0.kind == "event_received" && $0.payload["idempotency_key"]?.stringValue == key
        }) {
            guard sender.role == "operator" || earlier.actor == sender.id else {
                throw APIError.forbidden("idempotency key '\(key)' was used by another sender for \(id)")
            }
            return JSONResponse.make(instanceJSON(state))
        }
        try await authorizeSender(sender, of: name, to: state)
        let delivery = EventDelivery(name: name, payload: payload, idempotencyKey: key, by: sender.id)
        let delivered = try await deliverEvent(delivery, to: id)
        guard delivered.buffered.contains(delivery) else { return JSONResponse.make(instanceJSON(delivered)) }
        // Kept until the instance waits for it (its event state declares `buffer: true`).
        var body = instanceJSON(delivered).objectValue ?? [:]
        body["event_buffered"] = true
        return JSONResponse.make(.object(body), status: .accepted)
    }

    /// `POST /v1/events/{name}` with `{key, payload}`: delivers to every instance waiting for the
    /// event whose correlation key is `key`; 404 when none waits with it.
    func sendCorrelatedEvent(_ request: Request, name: String) async throws -> Response {
        let sender = try await caller(request)
        let fields = Fields(object: try await request.jsonObject())
        try fields.rejectUnknown(["key", "payload", "idempotency_key"])
        let correlation = try fields.string("key")
        let payload = fields.object["payload"] ?? .emptyObject
        let key = try idempotencyKey(request, body: try fields.optionalString("idempotency_key"))
        let ids = try await store.instancesWaiting(forEvent: name, key: correlation)
        guard !ids.isEmpty else { throw APIError.notFound("no instance waits for event '\(name)' with key '\(correlation)'") }
        var reached: [JSONValue] = []
        for id in ids {
            guard let state = try await engine.currentState(id: id) else { continue }
            try await authorizeSender(sender, of: name, to: state)
            let delivery = EventDelivery(name: name, payload: payload, key: correlation, idempotencyKey: key, by: sender.id)
            reached.append(instanceJSON(try await deliverEvent(delivery, to: id)))
        }
        return JSONResponse.make(["instances": .array(reached)])
    }

    /// Operators may send any event; others need the credential the waiting event state names
    /// (or, for an event sent early, the state that keeps it).
    func authorizeSender(_ sender: Reviewer, of name: String, to state: InstanceState) async throws {
        guard sender.role != "operator" else { return }
        let plan = try? await engine.planAndConfig(for: state).0
        let awaited: EventState
        if state.status == .waiting, case .event(let waiting)? = plan?.state(state.current)?.kind, waiting.event == name {
            awaited = waiting
        } else if !state.status.isFinal, let keeping = plan?.bufferingState(for: name) {
            awaited = keeping
        } else {
            throw APIError(.conflict, code: "conflict", "instance \(state.id) is not waiting for event '\(name)' (it is \(state.status.rawValue) at \(state.current))")
        }
        guard let credential = awaited.credential, sender.credentials.contains(credential) else {
            throw APIError.forbidden(
                "sending '\(name)' to \(state.id) needs \(awaited.credential.map { "the credential '\($0)'" } ?? "an operator"); \(sender.id) holds \(sender.credentials.joined(separator: ", "))")
        }
    }

    /// `Engine.deliver` without driving (the driver runs the instance on), errors mapped: a
    /// payload that breaks the contract is 422 with the first field it names.
    func deliverEvent(_ delivery: EventDelivery, to id: String) async throws -> InstanceState {
        do {
            let state = try await engine.deliver(delivery, to: id, drive: false)
            logger.info("event delivered", metadata: ["instance": "\(id)", "event": "\(delivery.name)", "by": "\(delivery.by)"])
            if state.status == .running { driver.enqueue(state.id) }
            return state
        } catch let error as EngineError {
            if !error.isConflict, !error.isNotFound, let range = error.description.range(of: "payload.") {
                let field = error.description[range.lowerBound...].prefix { $0 != ":" }
                throw APIError(.unprocessableContent, code: "invalid_payload", error.description, field: String(field))
            }
            throw APIError.engine(error)
        }
    }

    /// `GET /v1/notifications?limit=` (operators): the newest notifications with each channel's delivery log.
    func listNotifications(_ request: Request) async throws -> Response {
        _ = try await operatorCaller(request, to: "list notifications")
        let query = request.uri.queryParameters
        for (name, _) in query where name != "limit" {
            throw APIError.badField(String(name), "unknown query parameter '\(name)'; expected limit")
        }
        var limit = 100
        if let text = query["limit"].map(String.init) {
            guard let parsed = Int(text), (1...1_000).contains(parsed) else {
                throw APIError.badField("limit", "limit must be an integer from 1 to 1000, found '\(text)'")
            }
            limit = parsed
        }
        var rows: [JSONValue] = []
        for notification in try await store.latestNotifications(limit: limit) {
            var object = notification.json.objectValue ?? [:]
            object["deliveries"] = .array(try await store.deliveries(notification: notification.id, limit: 100).map(\.json))
            rows.append(.object(object))
        }
        return JSONResponse.make(["notifications": .array(rows)])
    }

    /// `POST /v1/notifications/{id}/retry` (operators, `{channel?}`): undelivered deliveries due
    /// now with a fresh attempt budget; 409 when there is none.
    func retryNotification(_ request: Request, id text: String) async throws -> Response {
        _ = try await operatorCaller(request, to: "retry notifications")
        guard let id = Int64(text) else { throw APIError.notFound("no notification '\(text)'") }
        let fields = Fields(object: try await request.jsonObject())
        try fields.rejectUnknown(["channel"])
        let channel = try fields.optionalString("channel")
        guard try await store.notification(id: id) != nil else { throw APIError.notFound("no notification \(id)") }
        let revived = try await store.retryDeliveries(notification: id, channel: channel, now: engine.clock.nowMilliseconds())
        guard !revived.isEmpty else {
            throw APIError(.conflict, code: "conflict", "notification \(id) has no undelivered delivery\(channel.map { " on \($0)" } ?? "")")
        }
        return JSONResponse.make(["deliveries": .array(revived.map(\.json))])
    }

    func listInstances(_ request: Request) async throws -> Response {
        _ = try await operatorCaller(request, to: "list instances")
        let query = request.uri.queryParameters
        let known = Self.instanceFilterNames + ["limit"]
        for (name, _) in query where !known.contains(String(name)) {
            throw APIError.badField(String(name), "unknown query parameter '\(name)'; expected \(known.joined(separator: ", "))")
        }
        var filters = try instanceFilters { query[Substring($0)].map(String.init) }
        if let text = query["limit"].map(String.init) {
            guard let parsed = Int(text), (1...1_000).contains(parsed) else {
                throw APIError.badField("limit", "limit must be an integer from 1 to 1000, found '\(text)'")
            }
            filters.limit = parsed
        }
        let rows = try await store.instances(filters)
        return JSONResponse.make(["instances": .array(rows.map(summaryJSON))])
    }

    /// The query parameters `instanceFilters` reads.
    static let instanceFilterNames = ["status", "template", "version", "customer", "state", "older_than"]

    /// The instance filters of a listing (`GET /v1/instances` and the operator console): `status`,
    /// `template`, `version`, `customer`, `state` and `older_than` (a duration: created at least
    /// that long before now) read through `value`; an absent or empty value is no filter. The
    /// limit is the store's default (100).
    /// - Throws: `APIError.badField` naming the parameter for an unknown status or a malformed duration.
    func instanceFilters(_ value: (String) -> String?) throws -> InstanceQuery {
        func text(_ name: String) -> String? { value(name).flatMap { $0.isEmpty ? nil : $0 } }
        var query = InstanceQuery(template: text("template"), version: text("version"), customer: text("customer"), state: text("state"))
        if let status = text("status") {
            guard let parsed = InstanceStatus(rawValue: status) else {
                throw APIError.badField("status", "unknown status '\(status)'; expected pending, running, waiting, completed, rejected, failed or cancelled")
            }
            query.status = parsed
        }
        if let age = text("older_than") {
            guard let milliseconds = TemplateParser.parseDurationMilliseconds(age) else {
                throw APIError.badField("older_than", "older_than must be a duration like 30m, 2h or 7d, found '\(age)'")
            }
            query.createdBefore = engine.clock.nowMilliseconds() - milliseconds
        }
        return query
    }

    // MARK: Tasks

    func listTasks(_ request: Request) async throws -> Response {
        let reviewer = try await caller(request)
        let query = request.uri.queryParameters
        for (name, _) in query where name != "credential" {
            throw APIError.badField(String(name), "unknown query parameter '\(name)'; expected credential")
        }
        let credential = query["credential"].map(String.init)
        let tasks: [ReviewTask]
        if reviewer.role == "operator" {
            // Operators oversee every queue.
            tasks = try await store.openTasks(credentials: credential.map { [$0] }, limit: 200)
        } else {
            do {
                tasks = try await desk.queue(for: reviewer, credential: credential)
            } catch let error as ReviewError {
                throw APIError.review(error)
            }
        }
        return JSONResponse.make(["tasks": .array(tasks.map(taskJSON))])
    }

    func taskID(_ text: String) throws -> Int64 {
        guard let id = Int64(text), id > 0 else { throw APIError.notFound("no review task '\(text)'") }
        return id
    }

    func showTask(_ request: Request, id text: String) async throws -> Response {
        let reviewer = try await caller(request)
        let id = try taskID(text)
        let context: ReviewContext
        do {
            context = try await desk.context(task: id, for: reviewer)
        } catch let error as ReviewError {
            throw APIError.review(error)
        }
        var body = contextJSON(context).objectValue ?? [:]
        // Who holds the task now, so API clients see a claim as the page does.
        body["claim"] = .null
        if let claim = try await desk.holdingClaims(tasks: [id])[id] {
            body["claim"] = claimJSON(claim, name: try await desk.reviewerName(claim.reviewer))
        }
        return JSONResponse.make(.object(body))
    }

    /// Claims a task for the caller (or renews their claim): 200 with the claim; 409 when
    /// someone else's claim holds or the task is decided.
    func claimTask(_ request: Request, id text: String) async throws -> Response {
        let reviewer = try await caller(request)
        let id = try taskID(text)
        do {
            let claim = try await desk.claim(task: id, by: reviewer)
            return JSONResponse.make(claimJSON(claim, name: reviewer.name))
        } catch let error as ReviewError {
            throw APIError.review(error)
        }
    }

    /// Releases the caller's claim: 204 whether or not a claim was held; 403 when someone
    /// else's claim holds.
    func releaseTask(_ request: Request, id text: String) async throws -> Response {
        let reviewer = try await caller(request)
        let id = try taskID(text)
        do {
            try await desk.release(task: id, by: reviewer)
        } catch let error as ReviewError {
            throw APIError.review(error)
        }
        return Response(status: .noContent)
    }

    func decideTask(_ request: Request, id text: String) async throws -> Response {
        let reviewer = try await caller(request)
        let id = try taskID(text)
        let fields = Fields(object: try await request.jsonObject())
        try fields.rejectUnknown(["decision", "output", "reason"])
        let decisionText = try fields.string("decision")
        guard let decision = Decision(rawValue: decisionText) else {
            throw APIError.badField("decision", "decision must be approve, edit or reject, found '\(decisionText)'")
        }
        let output = fields.object["output"].flatMap { $0.isNull ? nil : $0 }
        if output != nil, decision != .edit {
            throw APIError.badField("output", "'output' goes only with decision 'edit'")
        }
        let reason = try fields.optionalString("reason")
        let (task, state) = try await decide(task: id, by: reviewer, decision: decision, output: output, reason: reason)
        return JSONResponse.make(["task": taskJSON(task), "instance": instanceJSON(state)])
    }

    /// Applies a decision through the review desk (which checks the credential and audits a
    /// refusal), records the checkpoint metrics and hands the instance to the driver.
    func decide(task id: Int64, by reviewer: Reviewer, decision: Decision, output: JSONValue?, reason: String?) async throws -> (ReviewTask, InstanceState) {
        let state: InstanceState
        do {
            state = try await desk.decide(task: id, by: reviewer, decision: decision, output: output, reason: reason, drive: false)
        } catch let error as ReviewError {
            throw APIError.review(error)
        }
        guard let task = try await store.task(id: id) else { throw APIError.notFound("no review task \(id)") }
        environment.metrics.checkpointDecided(
            credential: task.credential, openedAt: task.openedAt, dueAt: task.dueAt, decidedAt: task.decidedAt ?? now)
        logger.info("task decided", metadata: ["task": "\(id)", "decision": "\(decision.rawValue)", "by": "\(reviewer.id)"])
        if state.status == .running { driver.enqueue(state.id) }
        return (task, state)
    }
}

// MARK: JSON shapes (documented in Docs/openapi.yaml)

/// ISO-8601 UTC text for a millisecond timestamp.
public func isoTime(_ milliseconds: Int64) -> String { Timestamps.rfc3339(milliseconds) }

func instanceJSON(_ state: InstanceState) -> JSONValue {
    var object = state.jsonValue.objectValue ?? [:]
    object["state"] = object.removeValue(forKey: "current")
    // One time format in the API: RFC 3339 (the snapshot keeps ms since 1970).
    if let started = state.startedAt { object["started_at"] = .string(isoTime(started)) }
    // A failed instance says why at the top, as `steward run` and `instances show` do.
    if let failure = state.failure { object["error"] = failure.jsonValue }
    return .object(object)
}

func summaryJSON(_ row: InstanceSummary) -> JSONValue {
    var object: [String: JSONValue] = [
        "id": .string(row.id), "template": .string(row.template), "version": .string(row.version),
        "status": .string(row.status.rawValue), "state": .string(row.current), "sequence": .integer(Int64(row.sequence)),
        "created_at": .string(isoTime(row.createdAt)), "updated_at": .string(isoTime(row.updatedAt)),
    ]
    if let customer = row.customer { object["customer"] = .string(customer) }
    return .object(object)
}

func historyJSON(_ entry: JournalEntry) -> JSONValue {
    [
        "seq": entry.sequence.map { .integer(Int64($0)) } ?? .null, "event": .string(entry.kind),
        "at": .string(isoTime(entry.at)), "actor": .string(entry.actor), "payload": entry.payload,
    ]
}

/// A review task as the API and `steward review list --json` show it (its documented shape:
/// `ReviewTask` in Docs/openapi.yaml).
public func taskJSON(_ task: ReviewTask) -> JSONValue {
    var object: [String: JSONValue] = [
        "id": .integer(task.id), "instance": .string(task.instanceID), "template": .string(task.template),
        "state": .string(task.state), "credential": .string(task.credential), "status": .string(task.status),
        "subject": task.subject, "decisions": .array(task.decisions.map { .string($0.rawValue) }),
        "opened_at": .string(isoTime(task.openedAt)), "due_at": task.dueAt.map { .string(isoTime($0)) } ?? .null,
        "escalation_level": .integer(Int64(task.escalationLevel)),
    ]
    if let customer = task.customer { object["customer"] = .string(customer) }
    if let decidedAt = task.decidedAt { object["decided_at"] = .string(isoTime(decidedAt)) }
    if let decision = task.decision { object["decision"] = .string(decision) }
    if let reviewer = task.reviewer { object["reviewer"] = .string(reviewer) }
    return .object(object)
}

func claimJSON(_ claim: ReviewClaim, name: String) -> JSONValue {
    [
        "task": .integer(claim.task), "reviewer": .string(claim.reviewer), "reviewer_name": .string(name),
        "claimed_at": .string(isoTime(claim.claimedAt)), "until": .string(isoTime(claim.until)),
    ]
}

func aopJSON(_ aop: OperatingProcedure) -> JSONValue {
    [
        "domain": .string(aop.domain), "may": .array(aop.may.map { .string($0) }), "may_not": .array(aop.mayNot.map { .string($0) }),
        "escalation_target": .string(aop.escalationTarget), "failure_modes": .array(aop.failureModes.map { .string($0) }),
    ]
}

func contextJSON(_ context: ReviewContext) -> JSONValue {
    [
        "task": taskJSON(context.task), "input": context.input, "outputs": .object(context.outputs),
        "aop": context.aop.map(aopJSON) ?? .null, "history": .array(context.history.map(historyJSON)),
        "opened_because": context.openedBecause.map { .string($0) } ?? .null,
    ]
}
