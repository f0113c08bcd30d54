import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Progress of long work (`submit`, `resume`, `eval run`) on standard error: on a terminal one line
/// redrawn at most ten times a second, `[#####.....] 120/400 items  57/s  ETA 5s`; otherwise a
/// plain line at every tenth of the work and at the end, `submit: 120/400 (30%), 57/s, ETA 5s`,
/// which a log keeps readably. Standard output stays the command's result.
///
/// Thread rules: `update` and `finish` may be called from any thread or task.
final class Progress: Sendable {
    private struct State {
        var lastDraw = 0.0
        var lastTenth = 0
        var finished = false
    }

    let label: String
    let unit: String
    let terminal: Bool
    private let started = Date()
    private let state = Mutex(State())

    /// - Parameters: `label` names the work in plain lines, `unit` the items ("instances").
    init(label: String, unit: String, terminal: Bool = isatty(2) == 1) {
        self.label = label
        self.unit = unit
        self.terminal = terminal
    }

    /// `done` of `total` items are finished.
    func update(_ done: Int, _ total: Int) {
        let elapsed = Date().timeIntervalSince(started)
        let line: String? = state.withLock { state in
            guard !state.finished else { return nil }
            if terminal {
                guard done == total || elapsed - state.lastDraw >= 0.1 else { return nil }
                state.lastDraw = elapsed
                let width = 30
                let filled = total > 0 ? min(width, width * done / total) : width
                let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                return "\r[\(bar)] \(done)/\(total) \(unit)  \(Self.rate(done, elapsed))  ETA \(Self.eta(done, total, elapsed)) "
            }
            let tenth = total > 0 ? 10 * done / total : 10
            guard tenth > state.lastTenth || (done == total && state.lastTenth < 10) else { return nil }
            state.lastTenth = max(tenth, done == total ? 10 : tenth)
            let percent = total > 0 ? 100 * done / total : 100
            return "\(label): \(done)/\(total) \(unit) (\(percent)%), \(Self.rate(done, elapsed)), ETA \(Self.eta(done, total, elapsed))\n"
        }
        if let line { FileHandle.standardError.write(Data(line.utf8)) }
    }

    /// Ends the terminal line; nothing more is drawn after it.
    func finish() {
        let wasDrawing = state.withLock { state -> Bool in
            defer { state.finished = true }
            return !state.finished && state.lastDraw > 0
        }
        if terminal, wasDrawing { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func rate(_ done: Int, _ elapsed: Double) -> String {
        "\(Int((Double(done) / max(elapsed, 0.001)).rounded()))/s"
    }

    static func eta(_ done: Int, _ total: Int, _ elapsed: Double) -> String {
        guard done > 0, total > done else { return done >= total ? "0s" : "?" }
        let seconds = Int((elapsed / Double(done) * Double(total - done)).rounded(.up))
        return seconds >= 60 ? "\(seconds / 60)m\(String(format: "%02d", seconds % 60))s" : "\(seconds)s"
    }
}
