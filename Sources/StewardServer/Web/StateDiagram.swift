import StewardCore
import StewardJSON
import StewardTemplates

/// A template's state graph laid out for drawing as SVG: a pure, deterministic layered layout
/// (no I/O, no randomness), so the same plan always draws the same picture.
///
/// Layers are breadth-first distances from the start state, top to bottom; within a layer,
/// states keep the order in which the search first reached them (exits in the order the
/// template declares them). States the search never reaches (a valid plan has none) go in one
/// last layer in file order. An edge to a later layer is drawn straight down; an edge to the
/// same or an earlier layer (a loop) curves round the right-hand side.
struct StateDiagram: Sendable, Equatable {
    /// One state of the drawing.
    struct Node: Sendable, Equatable {
        /// The state's name.
        var name: String
        /// Its kind as templates write it (`step`, `checkpoint`, ...).
        var kind: String
        /// Its layer (0: the start state).
        var layer: Int
        /// Its position in the layer, from the left.
        var slot: Int
        /// The top-left corner, in SVG user units.
        var x: Int
        var y: Int
    }

    /// One transition of the drawing (several exits between the same two states are one edge).
    struct Edge: Sendable, Equatable {
        var from: String
        var to: String
        /// What takes it (`next`, `on_error`, a decision, `when 1`, `otherwise`), joined by ", ".
        var label: String
        /// Whether it goes to the same or an earlier layer (drawn as a curve on the right).
        var isBack: Bool
        /// The SVG path (`M x y L x y` or a cubic curve), ending at the target's edge.
        var path: String
        /// Where the label is written.
        var labelX: Int
        var labelY: Int
    }

    /// The states, by layer then slot.
    var nodes: [Node]
    /// The transitions, in the order of their source states, then as declared.
    var edges: [Edge]
    /// The drawing's size.
    var width: Int
    var height: Int
    /// Every node's box size.
    var nodeWidth: Int
    static let nodeHeight = 44
    static let layerGap = 40
    static let slotGap = 36
    static let margin = 16

    /// One exit of a state, as the layout takes it.
    struct Exit: Sendable, Equatable {
        var from: String
        var to: String
        var label: String
    }

    /// The layout of `plan`'s states and exits.
    static func layout(_ plan: Plan) -> StateDiagram {
        layout(start: plan.template.start, states: plan.template.states.map { ($0.name, $0.kindName) }, exits: exits(of: plan))
    }

    /// Every exit of `plan`'s states with the label that names what takes it, in declaration order.
    static func exits(of plan: Plan) -> [Exit] {
        plan.template.states.flatMap { state -> [Exit] in
            func exit(_ reference: StateReference?, _ label: String) -> [Exit] {
                reference.map { [Exit(from: state.name, to: $0.name, label: label)] } ?? []
            }
            switch state.kind {
            case .step(let step): return exit(step.next, "next") + exit(step.onError, "on_error")
            case .ffi(let foreign): return exit(foreign.next, "next") + exit(foreign.onError, "on_error")
            case .model(let model): return exit(model.next, "next") + exit(model.onError, "on_error")
            case .choice(let choice):
                return choice.branches.enumerated().flatMap { index, branch in exit(branch.next, "when \(index + 1)") } + exit(choice.otherwise, "otherwise")
            case .checkpoint(let checkpoint):
                return checkpoint.decisions.sorted { $0.key.rawValue < $1.key.rawValue }.flatMap { exit($0.value, $0.key.rawValue) }
            case .end: return []
            case .wait(let wait): return exit(wait.next, "next")
            case .event(let event): return exit(event.next, event.event) + exit(event.onTimeout, "timeout")
            case .map(let fanOut), .parallel(let fanOut): return exit(fanOut.next, "next") + exit(fanOut.onError, "on_error")
            }
        }
    }

    /// Lays out `states` (name and kind, in file order) joined by `exits`, from `start`.
    /// Exits naming a state not in `states` are left out.
    static func layout(start: String, states: [(name: String, kind: String)], exits: [Exit]) -> StateDiagram {
        let kinds = Dictionary(states.map { ($0.name, $0.kind) }, uniquingKeysWith: { first, _ in first })
        let known = exits.filter { kinds[$0.from] != nil && kinds[$0.to] != nil }
        var targets: [String: [String]] = [:]
        for exit in known where !(targets[exit.from] ?? []).contains(exit.to) { targets[exit.from, default: []].append(exit.to) }

        // Breadth-first layers from the start.
        var layerOf: [String: Int] = [:]
        var layers: [[String]] = []
        if kinds[start] != nil {
            layerOf[start] = 0
            var frontier = [start]
            while !frontier.isEmpty {
                layers.append(frontier)
                var next: [String] = []
                for name in frontier {
                    for target in targets[name] ?? [] where layerOf[target] == nil {
                        layerOf[target] = layers.count
                        next.append(target)
                    }
                }
                frontier = next
            }
        }
        let unreached = states.map(\.name).filter { layerOf[$0] == nil }
        var seen = Set<String>()
        let unreachedOnce = unreached.filter { seen.insert($0).inserted }
        if !unreachedOnce.isEmpty {
            for name in unreachedOnce { layerOf[name] = layers.count }
            layers.append(unreachedOnce)
        }

        let longest = states.map(\.name.count).max() ?? 0
        let nodeWidth = max(120, longest * 8 + 24)
        let widest = layers.map(\.count).max() ?? 0
        let loopRoom = known.contains { (layerOf[$0.to] ?? 0) <= (layerOf[$0.from] ?? 0) } ? 90 : 0
        let contentWidth = widest * nodeWidth + max(0, widest - 1) * slotGap
        let width = 2 * margin + contentWidth + loopRoom
        let height = 2 * margin + layers.count * nodeHeight + max(0, layers.count - 1) * layerGap

        var nodes: [Node] = []
        var position: [String: (x: Int, y: Int)] = [:]
        for (layer, names) in layers.enumerated() {
            // Each layer is centred over the widest.
            let rowWidth = names.count * nodeWidth + max(0, names.count - 1) * slotGap
            let left = margin + (contentWidth - rowWidth) / 2
            for (slot, name) in names.enumerated() {
                let x = left + slot * (nodeWidth + slotGap)
                let y = margin + layer * (nodeHeight + layerGap)
                position[name] = (x, y)
                nodes.append(Node(name: name, kind: kinds[name] ?? "", layer: layer, slot: slot, x: x, y: y))
            }
        }

        // One edge per pair of states, labels joined, in first-declared order.
        var order: [String] = []
        var labels: [String: [String]] = [:]
        for exit in known {
            let key = exit.from + "\u{0}" + exit.to
            if labels[key] == nil { order.append(key) }
            labels[key, default: []].append(exit.label)
        }
        var backEdges = 0
        let edges = order.map { key -> Edge in
            let parts = key.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let (from, to) = (parts[0], parts[1])
            let a = position[from]!, b = position[to]!
            let label = labels[key]!.joined(separator: ", ")
            if (layerOf[to] ?? 0) > (layerOf[from] ?? 0) {
                let x1 = a.x + nodeWidth / 2, y1 = a.y + nodeHeight
                let x2 = b.x + nodeWidth / 2, y2 = b.y
                return Edge(
                    from: from, to: to, label: label, isBack: false, path: "M \(x1) \(y1) L \(x2) \(y2)",
                    labelX: (x1 + x2) / 2 + 9, labelY: (y1 + y2) / 2 + 4)
            }
            // Round the right-hand side, each loop a little further out than the last.
            backEdges += 1
            let out = margin + contentWidth + 20 + (backEdges - 1) % 4 * 16
            let x1 = a.x + nodeWidth, y1 = a.y + nodeHeight / 2
            let x2 = b.x + nodeWidth, y2 = b.y + nodeHeight / 2 + (from == to ? 10 : 0)
            return Edge(
                from: from, to: to, label: label, isBack: true, path: "M \(x1) \(y1) C \(out) \(y1), \(out) \(y2), \(x2) \(y2)",
                labelX: out - 4, labelY: (y1 + y2) / 2)
        }
        return StateDiagram(nodes: nodes, edges: edges, width: width, height: height, nodeWidth: nodeWidth)
    }

    /// The values the `console-instance` template draws the diagram from, with the instance's
    /// `current` state and the states and transitions of `path` marked (class and text both).
    func view(current: String, status: InstanceStatus, path: [Move]) -> [String: Any] {
        let visited = Set(path.flatMap { [$0.from, $0.to].compactMap { $0 } })
        let taken = Set(path.compactMap { move in move.from.map { $0 + "\u{0}" + move.to } })
        return [
            "width": width, "height": height, "nodeWidth": nodeWidth, "nodeHeight": Self.nodeHeight,
            "nodes": nodes.map { node -> [String: Any] in
                let isCurrent = node.name == current
                let mark = isCurrent ? "now: \(status.rawValue)" : (visited.contains(node.name) ? "visited" : node.kind)
                return [
                    "name": node.name, "kind": node.kind, "x": node.x, "y": node.y, "textX": node.x + nodeWidth / 2, "nameY": node.y + 18,
                    "markY": node.y + 35, "mark": mark, "isCurrent": isCurrent,
                    "cls": isCurrent ? "node current \(status.rawValue)" : (visited.contains(node.name) ? "node visited" : "node"),
                ]
            },
            "edges": edges.map { edge -> [String: Any] in
                let wasTaken = taken.contains(edge.from + "\u{0}" + edge.to)
                return [
                    "from": edge.from, "to": edge.to, "label": edge.label, "path": edge.path, "labelX": edge.labelX, "labelY": edge.labelY,
                    "cls": wasTaken ? "edge taken" : "edge", "taken": wasTaken, "anchor": edge.isBack ? "end" : "start",
                ]
            },
        ]
    }
}

/// The transitions an instance made, read from its journal: its events replayed (pure, through
/// `Transition.apply`) from a new instance under the plan it started with, and after a `moved`
/// event that changes the template text, under the plan it moved to.
enum PathTaken {
    /// The moves in order. Replay stops at the first event that does not apply (the moves so far
    /// are returned): the diagram then shows less of the path, never a wrong one.
    /// - Parameters:
    ///   - events: The instance's journal events in sequence order.
    ///   - started: The plan and config it started with.
    ///   - moved: The plan and config in force after a template-changing move (the plan it is pinned to now).
    static func moves(
        of events: [Event], instance: InstanceState, started: (plan: Plan, config: JSONValue), moved: (plan: Plan, config: JSONValue)
    ) -> [Move] {
        var state = InstanceState(id: instance.id, template: instance.template, templateVersion: instance.templateVersion, customer: instance.customer)
        var (plan, config) = started
        var moves: [Move] = []
        for event in events {
            if case .moved(let move) = event, move.changesTemplate(of: state) {
                (plan, config) = moved
            }
            guard let result = try? Transition.apply(event, to: state, plan: plan, config: config) else { break }
            moves += result.moves
            state = result.state
        }
        return moves
    }
}
