import Foundation
import Hummingbird
import StewardCore
import StewardEngine
import StewardJSON
import StewardReview
import StewardTemplates

/// The operator console: instances with filters, counts and paging; one instance with its
/// state diagram, timeline and pinned versions, and its retry and cancel buttons; templates
/// with the versions in use; plugins with their health; failed instances grouped by error.
/// Operators only (403 for other roles, the sign-in form when signed out); server-rendered,
/// no JavaScript; every form carries the session's CSRF token.
extension StewardServer {
    /// Instances on one page of the list.
    static let consolePageSize = 50
    /// Failed instances the failed view groups (the newest).
    static let consoleFailedLimit = 500

    func addConsolePages(to router: Router<StewardRequestContext>) {
        router.get("/console") { _, _ in Self.redirect("/console/instances") }
        router.get("/console/instances") { request, _ in try await consoleInstancesPage(request) }
        router.get("/console/instances/{id}") { request, context in
            try await consoleInstancePage(request, id: context.parameters.require("id"))
        }
        router.post("/console/instances/{id}/retry") { request, context in
            try await consoleRetryForm(request, id: context.parameters.require("id"))
        }
        router.post("/console/instances/{id}/cancel") { request, context in
            try await consoleCancelForm(request, id: context.parameters.require("id"))
        }
        router.get("/console/templates") { request, _ in try await consoleTemplatesPage(request) }
        router.get("/console/plugins") { request, _ in try await consolePluginsPage(request) }
        router.get("/console/failed") { request, _ in try await consoleFailedPage(request) }
    }

    /// The signed-in operator (nil: signed out, the caller redirects to the sign-in form).
    /// - Throws: `APIError.forbidden` (the 403 page) for a reviewer who is not an operator.
    func consoleOperator(_ request: Request) async throws -> (WebSession, Reviewer)? {
        guard let (session, reviewer) = try await signedIn(request) else { return nil }
        guard reviewer.role == "operator" else {
            throw APIError.forbidden("the operator console is for operators; \(reviewer.name) (\(reviewer.id)) has role '\(reviewer.role)'")
        }
        return (session, reviewer)
    }

    /// The page chrome plus what every console page shows: which console page is open.
    func consoleChrome(_ title: String, tab: String, session: WebSession, reviewer: Reviewer) -> [String: Any] {
        var values = chrome(title, session: session, reviewer: reviewer)
        values["isOperator"] = true
        values["tabs"] = [
            ("instances", "Instances"), ("failed", "Failed"), ("templates", "Templates"), ("plugins", "Plugins"),
        ].map { key, name -> [String: Any] in ["href": "/console/\(key)", "name": name, "current": key == tab] }
        return values
    }

    // MARK: Instances

    func consoleInstancesPage(_ request: Request) async throws -> Response {
        guard let (session, reviewer) = try await consoleOperator(request) else { return Self.redirect("/review/sign-in") }
        let parameters = request.uri.queryParameters
        let raw = Dictionary(Self.instanceFilterNames.map { ($0, parameters[Substring($0)].map(String.init) ?? "") }, uniquingKeysWith: { a, _ in a })
        var values = consoleChrome("Instances", tab: "instances", session: session, reviewer: reviewer)
        values["filter"] = raw
        values["statuses"] = Self.statusOptions(selected: raw["status"] ?? "")
        values["templateOptions"] = templateOptions(selected: raw["template"] ?? "")
        var query: InstanceQuery
        do {
            query = try instanceFilters { raw[$0] }
        } catch let error as APIError {
            values["error"] = error.message
            return page("console-instances", values, status: error.status)
        }
        let page = max(1, parameters["page"].flatMap { Int(String($0)) } ?? 1)
        // Counts per status for the filters without the status, so every status stays in sight.
        var unfiltered = query
        unfiltered.status = nil
        let counts = try await store.instanceCounts(unfiltered)
        var perStatus: [InstanceStatus: Int] = [:]
        for count in counts { perStatus[count.status, default: 0] += count.count }
        let all = perStatus.values.reduce(0, +)
        let matching = query.status.map { perStatus[$0] ?? 0 } ?? all
        values["counts"] = Self.allStatuses.map { status -> [String: Any] in
            [
                "status": status.rawValue, "count": perStatus[status] ?? 0, "current": query.status == status,
                "href": Self.consoleLink("/console/instances", raw.merging(["status": status.rawValue]) { $1 }),
            ]
        }
        values["allCount"] = all
        values["allHref"] = Self.consoleLink("/console/instances", raw.merging(["status": ""]) { $1 })
        values["allCurrent"] = query.status == nil
        values["matching"] = matching
        query.limit = Self.consolePageSize
        query.offset = (page - 1) * Self.consolePageSize
        let rows = try await store.instances(query)
        let now = self.now
        values["rows"] = rows.map { row -> [String: Any] in
            [
                "id": row.id, "template": row.template, "version": row.version, "customer": row.customer ?? "none", "status": row.status.rawValue,
                "state": row.current, "createdISO": isoTime(row.createdAt), "created": readableTime(row.createdAt),
                "age": ageText(now - row.createdAt), "updatedISO": isoTime(row.updatedAt), "updated": readableTime(row.updatedAt),
            ]
        }
        values["hasRows"] = !rows.isEmpty
        let pages = max(1, (matching + Self.consolePageSize - 1) / Self.consolePageSize)
        values["pageNumber"] = page
        values["pages"] = pages
        values["first"] = rows.isEmpty ? 0 : query.offset + 1
        values["last"] = query.offset + rows.count
        if page > 1 { values["previous"] = Self.consoleLink("/console/instances", raw.merging(["page": String(page - 1)]) { $1 }) }
        if page < pages { values["next"] = Self.consoleLink("/console/instances", raw.merging(["page": String(page + 1)]) { $1 }) }
        return self.page("console-instances", values)
    }

    static let allStatuses: [InstanceStatus] = [.pending, .running, .waiting, .completed, .rejected, .failed, .cancelled]

    static func statusOptions(selected: String) -> [[String: Any]] {
        allStatuses.map { ["value": $0.rawValue, "selected": $0.rawValue == selected] }
    }

    /// The loaded template names, for the filter's list (a name typed by hand still filters).
    func templateOptions(selected: String) -> [[String: Any]] {
        var names = Array(Set(environment.templates.map { String($0.split(separator: "@").first ?? "") })).sorted()
        if !selected.isEmpty, !names.contains(selected) { names.append(selected) }
        return names.map { ["value": $0, "selected": $0 == selected] }
    }

    /// `path` with the non-empty `fields` as its query, sorted by name so links are stable.
    static func consoleLink(_ path: String, _ fields: [String: String]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = fields.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
        return query.isEmpty ? path : path + "?" + query.joined(separator: "&")
    }

    // MARK: One instance

    func consoleInstancePage(_ request: Request, id: String) async throws -> Response {
        guard let (session, reviewer) = try await consoleOperator(request) else { return Self.redirect("/review/sign-in") }
        var notice: String?
        let query = request.uri.queryParameters
        if query["retried"] != nil { notice = "Retried: the instance runs again from the state it failed at." }
        if query["cancelled"] != nil { notice = "Cancelled." }
        return try await renderConsoleInstance(id, session: session, reviewer: reviewer, notice: notice)
    }

    /// The instance page; after a refused retry or cancel, with the refusal shown.
    func renderConsoleInstance(
        _ id: String, session: WebSession, reviewer: Reviewer, notice: String? = nil, error: String? = nil, reasonText: String? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        // The snapshot plus the events committed after it, as the API shows it.
        guard let state = try await engine.currentState(id: id) else { throw APIError.notFound("no instance '\(id)'") }
        let history = try await store.history(of: id)
        var values = consoleChrome("Instance \(id)", tab: "instances", session: session, reviewer: reviewer)
        if let notice { values["notice"] = notice }
        if let error { values["error"] = error }
        if let reasonText { values["reasonText"] = reasonText }
        values["id"] = state.id
        values["template"] = state.template
        values["version"] = state.templateVersion
        values["customer"] = state.customer ?? "none"
        values["status"] = state.status.rawValue
        values["current"] = state.current
        values["attempt"] = state.attempt
        values["events"] = state.sequence
        if let started = state.startedAt {
            values["startedISO"] = isoTime(started)
            values["started"] = readableTime(started)
        }
        if let failure = state.failure {
            values["failure"] = ["state": failure.state, "kind": failure.kind.rawValue, "message": failure.message]
        }
        values["canRetry"] = state.status == .failed
        values["canCancel"] = !state.status.isFinal
        values["templateHref"] = Self.consoleLink("/console/instances", ["template": state.template, "version": state.templateVersion])

        // The diagram of the plan it is pinned to, with the path its journal took.
        let events = history.filter { $0.sequence != nil }.compactMap { try? Event(name: $0.kind, payload: $0.payload) }
        do {
            let (plan, config) = try await engine.planAndConfig(for: state)
            let startedHash = events.first.flatMap { event -> String? in
                if case .started(_, _, _, _, let hash, _) = event { return hash }
                return nil
            }
            let original = startedHash.flatMap { engine.plans.plan(hash: $0) } ?? plan
            let startedConfig: JSONValue
            if case .started(_, _, _, let hash?, _, _)? = events.first, let stored = try await store.config(hash: hash) {
                startedConfig = stored
            } else {
                startedConfig = config
            }
            let path = PathTaken.moves(of: events, instance: state, started: (original, startedConfig), moved: (plan, config))
            values["diagram"] = StateDiagram.layout(plan).view(current: state.current, status: state.status, path: path)
            values["pathText"] = Self.pathText(path)
            values["configJSON"] = config.prettyJSONString
        } catch let error as EngineError {
            values["diagramError"] = "The state diagram cannot be drawn: \(error.description)"
        }

        // Pinned versions: the template text, the config, the model bindings, the binaries that served it.
        values["templateHash"] = state.templateHash ?? "not pinned by content (built in memory)"
        values["configHash"] = state.configHash ?? "the template's config (no customer overlay pinned)"
        values["bindings"] = state.bindings.sorted { $0.key < $1.key }.map { ["role": $0.key, "adapter": $0.value] }
        values["hasBindings"] = !state.bindings.isEmpty
        let plugins = environment.pluginReport?() ?? []
        var binaries: [(state: String, sha: String)] = []
        for entry in history {
            guard let sha = entry.payload["binary"]?.stringValue, let at = entry.payload["state"]?.stringValue else { continue }
            if !binaries.contains(where: { $0.state == at && $0.sha == sha }) { binaries.append((at, sha)) }
        }
        values["binaries"] = binaries.map { binary -> [String: Any] in
            let plugin = plugins.first { $0["sha256"]?.stringValue == binary.sha }
            return [
                "state": binary.state, "sha": binary.sha,
                "plugin": plugin.map { "\($0["name"]?.stringValue ?? "?") \($0["version"]?.stringValue ?? "")" } ?? "not loaded now",
            ]
        }
        values["hasBinaries"] = !binaries.isEmpty

        values["timeline"] = history.map { entry -> [String: Any] in
            var item: [String: Any] = [
                "seq": entry.sequence.map(String.init) ?? "audit", "kind": entry.kind, "actor": entry.actor, "atISO": isoTime(entry.at),
                "at": readableTime(entry.at), "payload": entry.payload.prettyJSONString,
            ]
            let detail = historyDetail(entry)
            if !detail.isEmpty { item["detail"] = detail }
            return item
        }
        return page("console-instance", values, status: status)
    }

    /// The path as text for the page (the diagram's highlight in words): `intake → check_content → ...`.
    static func pathText(_ moves: [Move]) -> String {
        var names: [String] = []
        for move in moves {
            if let from = move.from, names.last != from { names.append(from) }
            if names.last != move.to { names.append(move.to) }
        }
        return names.joined(separator: " → ")
    }

    /// The retry button: `csrf`. Redirects to the instance page, which shows it running again.
    func consoleRetryForm(_ request: Request, id: String) async throws -> Response {
        let fields = try await form(request)
        guard let (session, reviewer) = try await consoleOperator(request) else { return Self.redirect("/review/sign-in") }
        try checkCSRF(fields, session: session)
        do {
            _ = try await retry(instance: id, by: reviewer)
        } catch let error as APIError where error.status == .conflict {
            return try await renderConsoleInstance(id, session: session, reviewer: reviewer, error: error.message, status: .conflict)
        }
        return Self.redirect("/console/instances/\(Self.pathSegment(id))?retried=1")
    }

    /// The cancel button: `reason` (required) and `csrf`.
    func consoleCancelForm(_ request: Request, id: String) async throws -> Response {
        let fields = try await form(request)
        guard let (session, reviewer) = try await consoleOperator(request) else { return Self.redirect("/review/sign-in") }
        try checkCSRF(fields, session: session)
        let reason = (fields["reason"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else {
            return try await renderConsoleInstance(
                id, session: session, reviewer: reviewer, error: "Say why the instance is cancelled (it is journalled).", status: .unprocessableContent)
        }
        do {
            _ = try await cancel(instance: id, reason: reason, by: reviewer)
        } catch let error as APIError where error.status == .conflict {
            return try await renderConsoleInstance(id, session: session, reviewer: reviewer, error: error.message, reasonText: reason, status: .conflict)
        }
        return Self.redirect("/console/instances/\(Self.pathSegment(id))?cancelled=1")
    }

    static func pathSegment(_ id: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:@")
        return id.addingPercentEncoding(withAllowedCharacters: allowed) ?? id
    }

    // MARK: Templates and plugins

    func consoleTemplatesPage(_ request: Request) async throws -> Response {
        guard let (session, reviewer) = try await consoleOperator(request) else { return Self.redirect("/review/sign-in") }
        var values = consoleChrome("Templates", tab: "templates", session: session, reviewer: reviewer)
        let counts = try await store.instanceCounts(InstanceQuery())
        let stored = try await store.templates()
        // Every version loaded now, stored (pinned by an instance) or with instances.
        var versions: [String: Set<String>] = [:]
        for entry in environment.templates {
            let parts = entry.split(separator: "@", maxSplits: 1).map(String.init)
            if parts.count == 2 { versions[parts[0], default: []].insert(parts[1]) }
        }
        for snapshot in stored { versions[snapshot.name, default: []].insert(snapshot.version) }
        for count in counts { versions[count.template, default: []].insert(count.version) }
        let loaded = Set(environment.templates)
        values["templates"] = versions.keys.sorted().map { name -> [String: Any] in
            let newest = engine.plans.plan(template: name, version: nil)?.version
            let rows = versions[name, default: []].sorted { PlanLibrary.version($0, isBelow: $1) }.reversed().map { version -> [String: Any] in
                let mine = counts.filter { $0.template == name && $0.version == version }
                let total = mine.reduce(0) { $0 + $1.count }
                let hashes = stored.filter { $0.name == name && $0.version == version }.map { String($0.hash.prefix(12)) }
                return [
                    "version": version, "total": total, "inUse": total > 0,
                    "loaded": loaded.contains("\(name)@\(version)"), "newest": version == newest, "hashes": hashes.joined(separator: ", "),
                    "href": Self.consoleLink("/console/instances", ["template": name, "version": version]),
                    "counts": mine.map { count -> [String: Any] in
                        [
                            "status": count.status.rawValue, "count": count.count,
                            "href": Self.consoleLink("/console/instances", ["template": name, "version": version, "status": count.status.rawValue]),
                        ]
                    },
                ]
            }
            let plan = engine.plans.plan(template: name, version: nil)
            return [
                "name": name, "versions": Array(rows), "description": plan?.template.description ?? "",
                "states": plan?.template.states.count ?? 0, "total": rows.reduce(0) { $0 + ($1["total"] as? Int ?? 0) },
            ]
        }
        values["hasTemplates"] = !versions.isEmpty
        return page("console-templates", values)
    }

    func consolePluginsPage(_ request: Request) async throws -> Response {
        guard let (session, reviewer) = try await consoleOperator(request) else { return Self.redirect("/review/sign-in") }
        var values = consoleChrome("Plugins", tab: "plugins", session: session, reviewer: reviewer)
        guard let report = environment.pluginReport else {
            values["unavailable"] = "This server was started without plugin details; loaded: \(environment.plugins.joined(separator: ", "))."
            return page("console-plugins", values)
        }
        values["plugins"] = report().map(Self.pluginView)
        return page("console-plugins", values)
    }

    /// The values one plugin's row renders from (its `steward plugins list --json` entry).
    static func pluginView(_ plugin: JSONValue) -> [String: Any] {
        let isolation = plugin["isolation"] ?? .emptyObject
        let mode = isolation["mode"]?.stringValue ?? "in-process"
        let quarantine = isolation["quarantine"]?.stringValue
        let here = isolation["this_engine"]
        var hosts: [[String: Any]] = []
        if let here {
            hosts.append(Self.hostView(here, who: "this server"))
        }
        for host in isolation["hosts"]?.arrayValue ?? [] {
            hosts.append(Self.hostView(host, who: "engine process \(host["engine_pid"]?.integerValue ?? 0)"))
        }
        let crashes = hosts.reduce(0) { $0 + ($1["crashes"] as? Int64 ?? 0) }
        let health: String
        if let quarantine {
            health = "QUARANTINED: \(quarantine). Calls fail at once until 'steward plugins unquarantine \(plugin["name"]?.stringValue ?? "")'."
        } else if mode == "process" {
            health = crashes > 0 ? "running, \(crashes) host crash\(crashes == 1 ? "" : "es") so far" : "running, no host crash"
        } else {
            health = "loaded in the engine process (no host to watch)"
        }
        return [
            "name": plugin["name"]?.stringValue ?? "?", "version": plugin["version"]?.stringValue ?? "?", "abi": plugin["abi"]?.stringValue ?? "?",
            "sha256": plugin["sha256"]?.stringValue ?? "?", "path": plugin["path"]?.stringValue ?? "", "mode": mode,
            "quarantined": quarantine != nil, "health": health, "hosts": hosts, "hasHosts": !hosts.isEmpty,
            "steps": (plugin["steps"]?.arrayValue ?? []).map { step -> [String: Any] in
                [
                    "name": step["name"]?.stringValue ?? "?", "version": step["version"]?.stringValue ?? "",
                    "flags": [step["thread_safe"]?.boolValue == true ? "thread-safe" : "serialised", step["pure"]?.boolValue == true ? "pure" : nil]
                        .compactMap { $0 }.joined(separator: ", "),
                ]
            },
            "adapters": (plugin["adapters"]?.arrayValue ?? []).map { adapter -> [String: Any] in
                ["id": adapter["id"]?.stringValue ?? "?", "version": adapter["version"]?.stringValue ?? ""]
            },
        ]
    }

    static func hostView(_ host: JSONValue, who: String) -> [String: Any] {
        let pids = (host["pids"]?.arrayValue ?? []).compactMap(\.integerValue).map(String.init)
        return [
            "who": who, "pids": pids.isEmpty ? "none running" : pids.joined(separator: " "),
            "restarts": host["restarts"]?.integerValue ?? 0, "crashes": host["crashes"]?.integerValue ?? 0,
        ]
    }

    // MARK: Failed instances

    func consoleFailedPage(_ request: Request) async throws -> Response {
        guard let (session, reviewer) = try await consoleOperator(request) else { return Self.redirect("/review/sign-in") }
        var values = consoleChrome("Failed instances", tab: "failed", session: session, reviewer: reviewer)
        let rows = try await store.instances(InstanceQuery(status: .failed, limit: Self.consoleFailedLimit))
        var failed: [FailureGroups.Failed] = []
        for row in rows {
            guard let state = try await engine.currentState(id: row.id), state.status == .failed else { continue }
            let failure = state.failure ?? Failure(state: state.current, kind: .internal, message: "failed without a recorded reason")
            failed.append(FailureGroups.Failed(summary: row, failure: failure))
        }
        let total = try await store.instanceCounts(InstanceQuery(status: .failed)).reduce(0) { $0 + $1.count }
        values["total"] = total
        values["partial"] = total > rows.count
        values["examined"] = rows.count
        let now = self.now
        let groups = FailureGroups.group(failed)
        values["groups"] = groups.map { group -> [String: Any] in
            [
                "key": group.key, "template": group.template, "state": group.state, "kind": group.kind, "message": group.message,
                "count": group.instances.count, "more": max(0, group.instances.count - 10), "hasMore": group.instances.count > 10,
                "listHref": Self.consoleLink("/console/instances", ["template": group.template, "state": group.state, "status": "failed"]),
                "examples": group.instances.prefix(10).map { item -> [String: Any] in
                    [
                        "id": item.summary.id, "version": item.summary.version, "customer": item.summary.customer ?? "none",
                        "failedISO": isoTime(item.summary.updatedAt), "failed": readableTime(item.summary.updatedAt),
                        "age": ageText(now - item.summary.updatedAt), "message": item.failure.message,
                    ]
                },
            ]
        }
        values["hasGroups"] = !groups.isEmpty
        return page("console-failed", values)
    }
}

/// `2026-12-02 04:10:33 UTC`: a timestamp in the server's time zone, to the second.
func readableTime(_ milliseconds: Int64) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone.current
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss zzz"
    return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
}

/// `45s ago`, `12m ago`, `3h 05m ago`, `2d 4h ago`.
func ageText(_ milliseconds: Int64) -> String {
    let seconds = max(0, milliseconds / 1000)
    return seconds < 60 ? "\(seconds)s ago" : "\(minutesText(Int(seconds / 60))) ago"
}
