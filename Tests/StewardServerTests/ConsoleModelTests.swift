import StewardCore
import StewardEngine
import StewardJSON
@testable import StewardServer
import StewardTesting
import Testing

/// The console's pure parts: the state diagram's layered layout, the path an instance took
/// from its journal, and the grouping of failures.
@Suite struct ConsoleModelTests {
    typealias Exit = StateDiagram.Exit

    @Test func layersAreBreadthFirstDistancesFromTheStartInDiscoveryOrder() {
        let diagram = StateDiagram.layout(
            start: "a",
            states: [("z", "end"), ("a", "step"), ("b", "choice"), ("c", "step"), ("d", "checkpoint"), ("orphan", "end")],
            exits: [
                Exit(from: "a", to: "b", label: "next"), Exit(from: "b", to: "d", label: "when 1"), Exit(from: "b", to: "c", label: "otherwise"),
                Exit(from: "c", to: "z", label: "next"), Exit(from: "d", to: "z", label: "approve"), Exit(from: "d", to: "z", label: "edit"),
                Exit(from: "d", to: "a", label: "reject"), Exit(from: "c", to: "nowhere", label: "next"),
            ])
        #expect(diagram.nodes.map(\.name) == ["a", "b", "d", "c", "z", "orphan"])
        #expect(diagram.nodes.map(\.layer) == [0, 1, 2, 2, 3, 4], "the unreached state is in a last layer of its own")
        #expect(diagram.nodes.map(\.slot) == [0, 0, 0, 1, 0, 0])
        // Several exits between two states are one edge; an exit to an unknown state is left out.
        #expect(diagram.edges.map { "\($0.from)>\($0.to):\($0.label)" } == ["a>b:next", "b>d:when 1", "b>c:otherwise", "c>z:next", "d>z:approve, edit", "d>a:reject"])
        #expect(diagram.edges.map(\.isBack) == [false, false, false, false, false, true])
        #expect(diagram.edges.last?.path.hasPrefix("M ") == true && diagram.edges.last?.path.contains(" C ") == true, "a loop curves")
        // No two boxes overlap and all fit in the drawing.
        for (index, node) in diagram.nodes.enumerated() {
            #expect(node.x >= 0 && node.y >= 0 && node.x + diagram.nodeWidth <= diagram.width && node.y + StateDiagram.nodeHeight <= diagram.height)
            for other in diagram.nodes[(index + 1)...] {
                let apart = node.x + diagram.nodeWidth <= other.x || other.x + diagram.nodeWidth <= node.x
                    || node.y + StateDiagram.nodeHeight <= other.y || other.y + StateDiagram.nodeHeight <= node.y
                #expect(apart, "\(node.name) and \(other.name) overlap")
            }
        }
        #expect(
            StateDiagram.layout(start: "a", states: [("a", "step"), ("b", "end")], exits: [Exit(from: "a", to: "b", label: "next")])
                == StateDiagram.layout(start: "a", states: [("a", "step"), ("b", "end")], exits: [Exit(from: "a", to: "b", label: "next")]),
            "the same graph lays out the same")
    }

    @Test func aTemplatesExitsAreLabelledByWhatTakesThem() throws {
        let diagram = StateDiagram.layout(try Plans.checkpoint())
        #expect(diagram.nodes.map { "\($0.name)@\($0.layer)" } == ["draft@0", "review@1", "send@2", "rejected@2", "done@3"])
        #expect(diagram.edges.map { "\($0.from)>\($0.to):\($0.label)" } == ["draft>review:next", "review>send:approve, edit", "review>rejected:reject", "send>done:next"])
        let choice = StateDiagram.layout(try Plans.choice())
        #expect(choice.edges.map(\.label) == ["when 1", "when 2", "when 3", "otherwise"])
    }

    @Test func theJournalsPathIsHighlightedWithTheCurrentStateInWordsToo() throws {
        let plan = try Plans.checkpoint()
        let instance = InstanceState(id: "i1", template: plan.name, templateVersion: plan.version, customer: nil)
        let events: [Event] = [
            .started(input: ["urgent": true]), .stepSucceeded(state: "draft", attempt: 1, output: ["text": "Hi", "confidence": 0.5]),
        ]
        let path = PathTaken.moves(of: events, instance: instance, started: (plan, plan.template.config), moved: (plan, plan.template.config))
        #expect(path.map(\.to) == ["draft", "review"])
        #expect(StewardServer.pathText(path) == "draft → review")
        let view = StateDiagram.layout(plan).view(current: "review", status: .waiting, path: path)
        let nodes = try #require(view["nodes"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: nodes.map { ($0["name"] as! String, $0) })
        #expect(byName["review"]?["cls"] as? String == "node current waiting" && byName["review"]?["mark"] as? String == "now: waiting")
        #expect(byName["draft"]?["cls"] as? String == "node visited" && byName["draft"]?["mark"] as? String == "visited")
        #expect(byName["send"]?["cls"] as? String == "node" && byName["send"]?["mark"] as? String == "step")
        let edges = try #require(view["edges"] as? [[String: Any]])
        #expect(edges.filter { $0["taken"] as? Bool == true }.map { "\($0["from"]!)>\($0["to"]!)" } == ["draft>review"])

        // An event that does not apply ends the path there instead of failing the page.
        let broken = events + [.stepSucceeded(state: "nowhere", attempt: 1, output: [:])]
        #expect(PathTaken.moves(of: broken, instance: instance, started: (plan, plan.template.config), moved: (plan, plan.template.config)) == path)
    }

    @Test(arguments: [
        ("HTTP 503 after 1200 ms", "HTTP # after # ms"),
        ("instance 5f0c2a9e-1b7d-4c1e-9a3f-2b8e6d0c7a11 timed out", "instance <id> timed out"),
        ("binary deadbeef0123 differs", "binary <id> differs"),
        ("a ticket needs a subject or a body", "a ticket needs a subject or a body"),
        ("  spaced \n out  ", "spaced out"),
        ("decade of feedback", "decade of feedback"),
    ])
    func messagesAreNormalisedForGrouping(message: String, expected: String) {
        #expect(FailureGroups.normalise(message) == expected)
    }

    @Test func failuresGroupByTemplateStateKindAndMessageLargestFirst() {
        func failed(_ id: String, at updated: Int64, state: String, kind: FailureKind, _ message: String, template: String = "t") -> FailureGroups.Failed {
            FailureGroups.Failed(
                summary: InstanceSummary(id: id, template: template, version: "1", customer: nil, status: .failed, current: state, sequence: 3, createdAt: 1, updatedAt: updated),
                failure: Failure(state: state, kind: kind, message: message))
        }
        let groups = FailureGroups.group([
            failed("a", at: 10, state: "fetch", kind: .transient, "HTTP 503 after 900 ms"),
            failed("b", at: 30, state: "intake", kind: .invalidInput, "empty"),
            failed("c", at: 20, state: "fetch", kind: .transient, "HTTP 503 after 1200 ms"),
            failed("d", at: 40, state: "fetch", kind: .permanent, "HTTP 503 after 1 ms"),
            failed("e", at: 50, state: "fetch", kind: .transient, "HTTP 503 after 7 ms", template: "other"),
        ])
        #expect(groups.map { "\($0.template)/\($0.state)/\($0.kind)" } == ["t/fetch/transient", "other/fetch/transient", "t/fetch/permanent", "t/intake/invalid_input"])
        #expect(groups.first?.message == "HTTP # after # ms" && groups.first?.instances.map(\.summary.id) == ["c", "a"], "newest first within a group")
        #expect(groups.map(\.key) == ["group-1", "group-2", "group-3", "group-4"])
        #expect(FailureGroups.group([]).isEmpty)
    }

    @Test func consoleLinksKeepTheFiltersEncodedAndSorted() {
        #expect(StewardServer.consoleLink("/console/instances", ["status": "failed", "template": "a b", "state": ""]) == "/console/instances?status=failed&template=a%20b")
        #expect(StewardServer.consoleLink("/console/instances", [:]) == "/console/instances")
        #expect(ageText(45_000) == "45s ago" && ageText(12 * 60_000) == "12m ago" && ageText(3 * 3_600_000 + 5 * 60_000) == "3h 05m ago")
    }

    @Test func aPluginsHealthSaysQuarantineAndCountsEveryHostsCrashes() {
        let isolated: JSONValue = [
            "name": "kb", "version": "1.0.0", "abi": "1.2", "sha256": "ab12", "path": "plugins/libsteward-kb.so",
            "steps": [["name": "kb.search", "version": "1.0.0", "thread_safe": true, "pure": true]], "adapters": [],
            "isolation": [
                "mode": "process", "quarantine": .null,
                "this_engine": ["pids": [41, 42], "restarts": 3, "crashes": 2, "quarantine": .null],
                "hosts": [["engine_pid": 7, "pids": [], "restarts": 1, "crashes": 1]],
            ],
        ]
        let view = StewardServer.pluginView(isolated)
        #expect(view["health"] as? String == "running, 3 host crashes so far" && view["quarantined"] as? Bool == false)
        let hosts = view["hosts"] as? [[String: Any]] ?? []
        #expect(hosts.map { "\($0["who"]!): \($0["pids"]!)" } == ["this server: 41 42", "engine process 7: none running"])
        #expect((view["steps"] as? [[String: Any]])?.first?["flags"] as? String == "thread-safe, pure")

        guard case .object(var quarantined) = isolated, case .object(var isolation)? = quarantined["isolation"] else { return }
        isolation["quarantine"] = "3 host failures in 60 s"
        quarantined["isolation"] = .object(isolation)
        let stopped = StewardServer.pluginView(.object(quarantined))
        #expect(stopped["quarantined"] as? Bool == true)
        #expect((stopped["health"] as? String)?.hasPrefix("QUARANTINED: 3 host failures in 60 s.") == true && (stopped["health"] as? String)?.contains("steward plugins unquarantine kb") == true)
        let inProcess = StewardServer.pluginView(["name": "support", "isolation": ["mode": "in-process", "quarantine": .null, "hosts": []]])
        #expect(inProcess["health"] as? String == "loaded in the engine process (no host to watch)" && inProcess["hasHosts"] as? Bool == false)
    }
}
