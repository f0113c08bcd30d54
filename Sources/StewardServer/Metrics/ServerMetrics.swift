import CoreMetrics
import Prometheus
import StewardCore
import StewardEngine
import Synchronization

/// The process's metrics: a Prometheus registry that the engine (through swift-metrics) and
/// the server record into, rendered as Prometheus text at `GET /metrics`.
///
/// Each server owns its registry (no global bootstrap), so several servers in one test
/// process do not share counts.
public struct ServerMetrics: Sendable {
    /// The registry everything is recorded in.
    public let registry: PrometheusCollectorRegistry
    /// The engine's instruments, backed by `registry`.
    public let engine: EngineMetrics

    /// Creates a registry with Steward's buckets and registers the metric names.
    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Steps take microseconds (local) to tens of seconds (remote models); checkpoints
        // wait minutes to days.
        factory.durationHistogramBuckets = [
            MetricName.stepDuration: [
                .microseconds(100), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
                .milliseconds(500), .seconds(2), .seconds(10), .seconds(60),
            ],
            MetricName.checkpointWait: [
                .seconds(60), .seconds(300), .seconds(900), .seconds(3_600), .seconds(4 * 3_600), .seconds(24 * 3_600),
                .seconds(7 * 24 * 3_600),
            ],
        ]
        engine = EngineMetrics(factory: factory)
    }

    /// Records a decided checkpoint: how long it waited, and whether it missed its deadline.
    func checkpointDecided(credential: String, openedAt: Int64, dueAt: Int64?, decidedAt: Int64) {
        let waited = max(0, decidedAt - openedAt)
        engine.timer(MetricName.checkpointWait, [("credential", credential)]).recordMilliseconds(waited)
        if let dueAt, decidedAt > dueAt {
            engine.counter(MetricName.slaBreaches, [("credential", credential)]).increment()
        }
    }

    /// Renders the registry as Prometheus text, after refreshing the queue gauges from `store`.
    func render(store: any EngineStore, now: Int64) async throws -> String {
        let depths = try await store.queueDepths(now: now)
        for depth in depths {
            queueGauges(depth.credential).open.set(to: Double(depth.open))
            queueGauges(depth.credential).overdue.set(to: Double(depth.overdue))
        }
        // A queue that emptied must read 0, not its last value.
        for credential in seenCredentials.update(with: depths.map(\.credential)) where !depths.contains(where: { $0.credential == credential }) {
            queueGauges(credential).open.set(to: 0)
            queueGauges(credential).overdue.set(to: 0)
        }
        return registry.emitToString()
    }

    private let seenCredentials = SeenSet()

    /// The queue gauges of one credential (the registry returns the same gauge for the same labels).
    private func queueGauges(_ credential: String) -> (open: Prometheus.Gauge, overdue: Prometheus.Gauge) {
        (
            registry.makeGauge(
                descriptor: MetricNameDescriptor(metricName: MetricName.queueDepth, unitName: "", helpText: "Open review tasks by credential"),
                labels: [("credential", credential)]),
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: MetricName.tasksOverdue, unitName: "", helpText: "Open review tasks past their SLA deadline by credential"),
                labels: [("credential", credential)])
        )
    }
}

/// The credentials a queue gauge was ever reported for.
final class SeenSet: Sendable {
    private let values = Mutex<Set<String>>([])

    /// Adds `new` and returns everything seen.
    func update(with new: [String]) -> Set<String> {
        values.withLock { values in
            values.formUnion(new)
            return values
        }
    }
}
