import CoreMetrics
import Synchronization

/// The names of the metrics Steward reports, in one place so dashboards and docs agree.
public enum MetricName {
    /// Counter: instances started, by `template` and `customer`.
    public static let instancesStarted = "steward_instances_started_total"
    /// Counter: instances that reached `completed`, by `template` and `customer`.
    public static let instancesCompleted = "steward_instances_completed_total"
    /// Counter: instances that reached `failed`, by `template` and `customer`.
    public static let instancesFailed = "steward_instances_failed_total"
    /// Counter: instances that reached `rejected`, by `template` and `customer`.
    public static let instancesRejected = "steward_instances_rejected_total"
    /// Histogram (seconds): one step call, by `step` (the plugin step name).
    public static let stepDuration = "steward_step_duration_seconds"
    /// Histogram (seconds): how long a checkpoint waited for its decision, by `credential`.
    public static let checkpointWait = "steward_checkpoint_wait_seconds"
    /// Gauge: open review tasks, by `credential`.
    public static let queueDepth = "steward_review_queue_depth"
    /// Counter: checkpoints decided after their SLA deadline, by `credential`.
    public static let slaBreaches = "steward_sla_breaches_total"
    /// Gauge: open review tasks already past their SLA deadline, by `credential`.
    public static let tasksOverdue = "steward_review_tasks_overdue"
    /// Counter: model-adapter calls, by `adapter` and `version`.
    public static let adapterCalls = "steward_adapter_calls_total"
    /// Histogram (seconds): one plugin step or adapter call as the engine saw it, by `plugin`
    /// and `mode` (`in-process` or `process`): the price of isolation, side by side.
    public static let pluginCallDuration = "steward_plugin_call_duration_seconds"
    /// Counter: isolated plugins' host processes started after the first, by `plugin`.
    public static let pluginHostStarts = "steward_plugin_host_restarts_total"
    /// Counter: isolated plugins' host processes taken out of service, by `plugin` and `cause`
    /// (`died`, `timeout`, `limit`, `malformed`).
    public static let pluginHostFailures = "steward_plugin_host_failures_total"
    /// Counter: plugins quarantined, by `plugin`.
    public static let pluginQuarantines = "steward_plugin_quarantines_total"
}

/// The engine's instruments, created once per label set and reused, so recording a value
/// costs a dictionary lookup under a lock rather than a metric allocation.
///
/// Recording goes to `factory` (a Prometheus registry in `steward serve`); the runtime knows
/// only the swift-metrics API.
public final class EngineMetrics: Sendable {
    private struct Key: Hashable {
        var name: String
        var labels: [String]
    }

    private let factory: any MetricsFactory
    private let counters = Mutex<[Key: Counter]>([:])
    private let timers = Mutex<[Key: Timer]>([:])

    /// Creates instruments that report to `factory`.
    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// The counter `name` with `dimensions`, created on first use.
    public func counter(_ name: String, _ dimensions: [(String, String)]) -> Counter {
        let key = Key(name: name, labels: dimensions.flatMap { [$0.0, $0.1] })
        return counters.withLock { counters in
            if let existing = counters[key] { return existing }
            let counter = Counter(label: name, dimensions: dimensions, factory: factory)
            counters[key] = counter
            return counter
        }
    }

    /// The timer (a duration histogram) `name` with `dimensions`, created on first use.
    public func timer(_ name: String, _ dimensions: [(String, String)]) -> Timer {
        let key = Key(name: name, labels: dimensions.flatMap { [$0.0, $0.1] })
        return timers.withLock { timers in
            if let existing = timers[key] { return existing }
            let timer = Timer(label: name, dimensions: dimensions, factory: factory)
            timers[key] = timer
            return timer
        }
    }

    /// Counts an instance started, completed, failed or rejected.
    func instance(_ name: String, template: String, customer: String?) {
        counter(name, [("template", template), ("customer", customer ?? "")]).increment()
    }

    /// Records one step call's duration.
    func stepCall(_ step: String, nanoseconds: Int64) {
        timer(MetricName.stepDuration, [("step", step)]).recordNanoseconds(nanoseconds)
    }

    /// Counts one model-adapter call (adapters call this once they exist).
    public func adapterCall(adapter: String, version: String) {
        counter(MetricName.adapterCalls, [("adapter", adapter), ("version", version)]).increment()
    }
}
