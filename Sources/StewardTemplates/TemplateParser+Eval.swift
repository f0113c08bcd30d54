import StewardJSON
import Yams

extension TemplateParser {
    static let evalKeys = ["cadence", "dataset", "metrics"]
    static let metricKeys = [
        "name", "kind", "path", "label", "confidence", "bins", "tolerance", "role", "rubric", "min_kappa", "min", "max", "max_drop",
    ]
    static let overlayEvalKeys = ["cadence", "dataset", "metrics"]
    static let thresholdKeys = ["min", "max", "max_drop"]

    /// Parses a template's `eval:` block. `models` are the template's roles, which a `judge`
    /// metric's `role` must name.
    static func parseEval(_ node: Node, models: [String: String], reader: inout YAMLReader) -> EvalRubric? {
        guard let entries = reader.entries(of: node, context: "'eval'", allowed: evalKeys) else { return nil }
        let cadence = entries["cadence"].flatMap { parseCadence($0.value, reader: &reader) }
        let dataset = entries["dataset"].flatMap { reader.string($0.value, "'eval.dataset'") }
        var metrics: [EvalMetric] = []
        if let metricsNode = reader.required(entries, "metrics", in: node, context: "'eval'") {
            if case .sequence(let items) = metricsNode {
                if items.isEmpty { reader.error(metricsNode, "'eval.metrics' is empty; expected at least one metric") }
                for item in items {
                    guard let metric = parseMetric(item, models: models, reader: &reader) else { continue }
                    if metrics.contains(where: { $0.name == metric.name }) {
                        reader.error(item, "duplicate metric name '\(metric.name)' in 'eval.metrics'; expected each name once")
                        continue
                    }
                    metrics.append(metric)
                }
            } else {
                reader.error(metricsNode, "expected a list of metrics for 'eval.metrics', found \(YAMLReader.describe(metricsNode))")
            }
        }
        return EvalRubric(metrics: metrics, cadence: cadence, dataset: dataset, location: reader.location(of: node))
    }

    static func parseCadence(_ node: Node, reader: inout YAMLReader) -> EvalCadence? {
        guard let text = reader.string(node, "'cadence'") else { return nil }
        do {
            return try EvalCadence(parsing: text)
        } catch {
            reader.error(node, "invalid cadence: \(error.description)")
            return nil
        }
    }

    static func parseMetric(_ node: Node, models: [String: String], reader: inout YAMLReader) -> EvalMetric? {
        guard let entries = reader.entries(of: node, context: "a metric of 'eval.metrics'", allowed: metricKeys) else { return nil }
        let name = reader.string(reader.required(entries, "name", in: node, context: "a metric of 'eval.metrics'"), "'name' of a metric")
        let context = "metric '\(name ?? "?")'"
        let kindNode = reader.required(entries, "kind", in: node, context: context)
        var kind: EvalMetric.Kind?
        if let kindNode, let text = reader.string(kindNode, "'kind' of \(context)") {
            kind = EvalMetric.Kind(rawValue: text)
            if kind == nil {
                let names = EvalMetric.Kind.allCases.map(\.rawValue)
                let suggestion = YAMLReader.closest(to: text, in: names).map { " (did you mean '\($0)'?)" } ?? ""
                reader.error(kindNode, "unknown metric kind '\(text)' in \(context)\(suggestion); expected one of: \(names.joined(separator: ", "))")
            }
        }
        let path = entries["path"].flatMap { reader.string($0.value, "'path' of \(context)") }
        let label = entries["label"].map { reader.json($0.value) }
        let confidence = entries["confidence"].flatMap { reader.string($0.value, "'confidence' of \(context)") }
        let bins = reader.integer(entries["bins"]?.value, "'bins' of \(context)", range: 2...100) ?? 10
        let tolerance = reader.number(entries["tolerance"]?.value, "'tolerance' of \(context)")
        let role = entries["role"].flatMap { reader.string($0.value, "'role' of \(context)") }
        let rubric = entries["rubric"].flatMap { reader.string($0.value, "'rubric' of \(context)") }
        let minimumKappa = reader.number(entries["min_kappa"]?.value, "'min_kappa' of \(context)")
        let threshold = parseThreshold(entries, context: context, kind: kind, reader: &reader)
        guard let name, let kind else { return nil }
        func need(_ key: String, _ value: Any?, _ why: String) {
            if value == nil { reader.error(node, "missing '\(key)' in \(context); a \(kind.rawValue) metric needs \(why)") }
        }
        func forbid(_ key: String) {
            if let entry = entries[key] { reader.error(entry.key, "'\(key)' does not apply to a \(kind.rawValue) metric (\(context))") }
        }
        if kind != .reviewRate { need("path", path, "the instance-data path it reads") } else { forbid("path") }
        if kind == .recall || kind == .precision { need("label", label, "the label it counts") } else { forbid("label") }
        if kind == .calibrationError { need("confidence", confidence, "the path of the confidence to calibrate") } else {
            forbid("confidence")
            forbid("bins")
        }
        if kind == .numericTolerance {
            need("tolerance", tolerance, "the allowed difference")
            if let tolerance, tolerance < 0 { reader.error(entries["tolerance"]?.value, "'tolerance' of \(context) must not be negative") }
        } else {
            forbid("tolerance")
        }
        if kind == .judge {
            need("role", role, "the model role that scores")
            need("rubric", rubric, "the rubric text the judge scores against")
            if let role, models[role] == nil {
                let suggestion = YAMLReader.closest(to: role, in: Array(models.keys)).map { " (did you mean '\($0)'?)" } ?? ""
                reader.error(entries["role"]?.value, "judge role '\(role)' of \(context) is not a model role of the template\(suggestion); \(models.isEmpty ? "the template has no 'models'; bind the role there" : "expected one of: " + models.keys.sorted().joined(separator: ", "))")
            }
            if let minimumKappa, !(-1...1).contains(minimumKappa) { reader.error(entries["min_kappa"]?.value, "'min_kappa' of \(context) must be in [-1, 1]") }
        } else {
            for key in ["role", "rubric", "min_kappa"] { forbid(key) }
        }
        return EvalMetric(
            name: name, kind: kind, path: path, label: label, confidence: confidence, bins: bins, tolerance: tolerance, role: role,
            rubric: rubric, minimumKappa: minimumKappa, threshold: threshold, location: reader.location(of: node))
    }

    /// `min`, `max` and `max_drop` of a metric (or of an overlay's metric change), checked
    /// against the range a metric of `kind` can take.
    static func parseThreshold(
        _ entries: [String: (key: Node, value: Node)], context: String, kind: EvalMetric.Kind?, reader: inout YAMLReader
    ) -> EvalThreshold {
        var threshold = EvalThreshold()
        // Every metric is a share of cases or a mean score, so every bound lies in [0, 1].
        let bounded = kind != nil
        for key in thresholdKeys {
            guard let node = entries[key]?.value, let value = reader.number(node, "'\(key)' of \(context)") else { continue }
            if bounded, !(0...1).contains(value) {
                reader.error(node, "'\(key)' of \(context) is \(value); every metric is a share or a score in [0, 1]")
            }
            switch key {
            case "min": threshold.minimum = value
            case "max": threshold.maximum = value
            default: threshold.maxDrop = value
            }
        }
        if let minimum = threshold.minimum, let maximum = threshold.maximum, minimum > maximum {
            reader.error(entries["max"]?.value, "'max' \(maximum) of \(context) is below its 'min' \(minimum); no value could pass")
        }
        return threshold
    }

    /// Parses an overlay's `templates.<name>.eval`: a cadence, a dataset, and tighter gates by
    /// metric name (`metrics: {intent_accuracy: {min: 0.9}}`). Whether the names exist and the
    /// gates only tighten is checked by `validate(_:against:)`.
    static func parseEvalOverlay(_ node: Node, context: String, reader: inout YAMLReader) -> EvalOverlay? {
        guard let entries = reader.entries(of: node, context: context, allowed: overlayEvalKeys) else { return nil }
        var thresholds: [String: EvalThreshold] = [:]
        var locations: [String: SourceLocation] = [:]
        if let metricsNode = entries["metrics"]?.value {
            if case .mapping(let mapping) = metricsNode {
                for (key, value) in mapping {
                    guard let name = reader.string(key, "a metric name") else { continue }
                    guard let change = reader.entries(of: value, context: "\(context).metrics.\(name)", allowed: thresholdKeys) else { continue }
                    thresholds[name] = parseThreshold(change, context: "metric '\(name)'", kind: .accuracy, reader: &reader)
                    locations[name] = reader.location(of: key)
                }
            } else {
                reader.error(metricsNode, "expected a mapping of metric name -> {min, max, max_drop} for \(context).metrics")
            }
        }
        return EvalOverlay(
            cadence: entries["cadence"].flatMap { parseCadence($0.value, reader: &reader) },
            dataset: entries["dataset"].flatMap { reader.string($0.value, "\(context).dataset") }, thresholds: thresholds, locations: locations,
            location: reader.location(of: node))
    }

    /// Problems of an overlay's rubric change against the template's rubric: an unknown
    /// metric, or a gate that loosens the template's.
    static func validateEvalOverlay(_ overlay: EvalOverlay, template: Template, customer: String) -> [TemplateDiagnostic] {
        guard let rubric = template.eval else {
            return [TemplateDiagnostic(overlay.location, "customer '\(customer)' changes the eval rubric of template '\(template.name)', which has no 'eval' block")]
        }
        var diagnostics: [TemplateDiagnostic] = []
        for (name, change) in overlay.thresholds.sorted(by: { $0.key < $1.key }) {
            let location = overlay.locations[name] ?? overlay.location
            guard let metric = rubric.metric(named: name) else {
                let names = rubric.metrics.map(\.name)
                let suggestion = YAMLReader.closest(to: name, in: names).map { " (did you mean '\($0)'?)" } ?? ""
                diagnostics.append(TemplateDiagnostic(location, "unknown metric '\(name)' of template '\(template.name)'\(suggestion); expected one of: \(names.joined(separator: ", "))"))
                continue
            }
            for problem in metric.threshold.isTightened(by: change) {
                diagnostics.append(TemplateDiagnostic(location, "customer '\(customer)' may only tighten the gate of metric '\(name)': \(problem)"))
            }
        }
        return diagnostics
    }
}
