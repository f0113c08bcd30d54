import StewardEngine
import StewardJSON
import StewardTemplates

/// One eval run as a self-contained HTML page (`steward eval report RUN --html FILE`): the run's
/// provenance, its metrics and gates, each metric's trend over past runs, the confusion matrix
/// of the top labels, a reliability diagram, the review-rate/accuracy trade-off of a confidence
/// threshold, and the failed cases.
///
/// The page loads nothing: styles are inline, charts are SVG drawn here, there is no script,
/// font, image or link to another document, so it can be mailed, archived or attached to a CI
/// job as it is. Every string that comes from a template, dataset, customer, binding or case is
/// HTML-escaped. Rendering is pure: no I/O, no clock; the same arguments give the same bytes.
public enum HTMLReport: Sendable {
    /// The most failed cases listed (the first in dataset order).
    public static let failedCaseLimit = 50
    /// How many expected labels the confusion matrix keeps before folding the rest.
    public static let confusionLabels = 10
    /// The longest JSON shown for a failed case's outputs or expected values, in characters.
    static let jsonLimit = 600

    /// The HTML document of `run`.
    ///
    /// - Parameters:
    ///   - run: The run, with its cases (a run decoded from a summary, without cases, renders
    ///     its header, metrics and trend, and says that the case-level charts need the cases).
    ///   - history: Stored runs to draw the trend over, in any order. Only runs of `run`'s
    ///     template and customer are drawn; a record with `run`'s id is replaced by `run` itself;
    ///     the trend is ordered by finish time and always includes `run`.
    ///   - rubric: The rubric `run` was evaluated with, for what a stored run does not keep: the
    ///     calibration metric's confidence path and bins. Nil (or a rubric without the run's
    ///     calibration metric) leaves out the reliability diagram and the review curve with a
    ///     note saying why.
    /// - Returns: A complete UTF-8 HTML5 document.
    public static func render(_ run: EvalRunReport, history: [EvalRunRecord], rubric: EvalRubric?) -> String {
        let calibration = CalibrationInput(run: run, rubric: rubric)
        return [
            head(run), header(run), metricTable(run), trendSection(run, history: history), confusionSection(run),
            reliabilitySection(calibration), reviewSection(run, calibration), failedSection(run), "</main>\n</body>\n</html>\n",
        ].joined(separator: "\n")
    }

    // MARK: Page

    static let style = """
        :root { color-scheme: light; --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --pass: #1a7f37; --fail: #c62828; --accent: #2563eb; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
        main { max-width: 1240px; margin: 0 auto; padding: 24px; }
        h1 { font-size: 22px; margin: 0 0 12px; }
        h2 { font-size: 17px; margin: 32px 0 6px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
        code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
        .verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; color: #fff; font-size: 14px; vertical-align: middle; margin-left: 8px; }
        .verdict.pass, .result.pass { background: var(--pass); }
        .verdict.fail, .result.fail { background: var(--fail); }
        .result { color: #fff; padding: 1px 6px; border-radius: 3px; }
        .result.uncounted { background: var(--muted); }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; }
        table { border-collapse: collapse; margin: 8px 0; }
        th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
        thead th { background: #f5f7fa; }
        td.number { text-align: right; font-variant-numeric: tabular-nums; }
        .caption, .note { color: var(--muted); margin: 4px 0 8px; max-width: 960px; }
        .note { font-style: italic; }
        .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }
        figure { margin: 0; }
        figcaption { font-weight: 600; margin-bottom: 2px; }
        svg.chart { max-width: 100%; height: auto; background: #fff; }
        svg .grid { stroke: #eef2f6; stroke-width: 1; }
        svg .axis { stroke: #9aa5b1; stroke-width: 1; }
        svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--muted); }
        svg text.title { font-size: 12px; fill: var(--ink); }
        svg .series { fill: none; stroke: var(--accent); stroke-width: 2; }
        svg .point { fill: var(--accent); stroke: var(--accent); stroke-width: 1.5; }
        svg .point.other-dataset { fill: #fff; }
        svg .point.current { stroke: var(--ink); stroke-width: 2.5; }
        svg .gate { stroke: var(--fail); stroke-width: 1.2; stroke-dasharray: 5 4; }
        svg text.gate-label { fill: var(--fail); }
        svg .diagonal { stroke: var(--muted); stroke-width: 1; stroke-dasharray: 4 4; }
        svg .bar { fill: #93b4f5; stroke: var(--accent); stroke-width: 1; }
        svg .mean { stroke: var(--ink); stroke-width: 2; }
        svg .marker { stroke: var(--pass); stroke-width: 1.5; stroke-dasharray: 6 3; }
        svg text.marker-label { fill: var(--pass); }
        svg .policy { fill: var(--pass); stroke: #fff; stroke-width: 1.5; }
        table.confusion td { text-align: right; min-width: 44px; font-variant-numeric: tabular-nums; }
        table.confusion td.correct { outline: 2px solid var(--ink); outline-offset: -2px; }
        table.confusion td.zero { color: #c4cdd5; }
        table.confusion th.corner { color: var(--muted); font-weight: normal; }
        table.cases td { max-width: 360px; }
        table.metrics code { overflow-wrap: normal; white-space: nowrap; }
        """

    static func head(_ run: EvalRunReport) -> String {
        let title = "Eval run \(runName(run.run)): \(run.template)@\(run.version)"
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(esc(title))</title>
            <style>
            \(style)
            </style>
            </head>
            <body>
            <main>
            """
    }

    static func header(_ run: EvalRunReport) -> String {
        let cases = caseCount(run)
        let seconds = Double(max(run.finishedAt - run.startedAt, 1)) / 1000
        let verdict = run.passed ? "<span class=\"verdict pass\">PASSED</span>" : "<span class=\"verdict fail\">FAILED</span>"
        var facts: [(String, String)] = []
        facts.append(("Customer", run.customer.map(esc) ?? "none (the template&#39;s own config and gates)"))
        facts.append(("Dataset", "\(esc(run.dataset)) <code title=\"sha256 \(esc(run.datasetHash))\">sha256 \(esc(String(run.datasetHash.prefix(12))))</code>"))
        facts.append(("Template hash", "<code>\(esc(run.templateHash))</code>"))
        facts.append(("Config hash", "<code>\(esc(run.configHash))</code>"))
        let bindings = run.bindings.sorted { $0.key < $1.key }.map { "\(esc($0.key)) → <code>\(esc($0.value))</code>" }
        facts.append(("Bindings", bindings.isEmpty ? "none" : bindings.joined(separator: ", ")))
        if !run.prompts.isEmpty {
            let prompts = run.prompts.sorted { $0.key < $1.key }.map { "<code>\(esc($0.key))</code> (\(esc(String($0.value.prefix(12)))))" }
            facts.append(("Prompts", prompts.joined(separator: ", ")))
        }
        var runLine = "\(runName(run.run)) · trigger \(esc(run.trigger))"
        if let baseline = run.baseline { runLine += " · baseline \(runName(baseline))" }
        facts.append(("Run", runLine))
        facts.append(("Finished", "\(ReportMarkup.iso8601(run.finishedAt)) (started \(ReportMarkup.iso8601(run.startedAt)), \(ReportMarkup.fixed(seconds, 1)) s)"))
        var tally: [String] = []
        for key in ["passed", "completed", "rejected", "failed", "reviewed"] {
            if let count = run.counts[key] { tally.append("\(count) \(key)") }
        }
        let rate = ReportMarkup.fixed(Double(cases) / seconds, 1)
        facts.append(("Cases", "\(cases)\(tally.isEmpty ? "" : " (" + tally.joined(separator: ", ") + ")") · \(rate) cases/s · \(run.concurrency) at once"))
        let rows = facts.map { "<dt>\($0.0)</dt><dd>\($0.1)</dd>" }.joined(separator: "\n")
        return "<header>\n<h1>\(esc(run.template))@\(esc(run.version)) \(verdict)</h1>\n<dl class=\"facts\">\n\(rows)\n</dl>\n</header>"
    }

    static func metricTable(_ run: EvalRunReport) -> String {
        var rows: [String] = []
        for metric in run.metrics {
            var kind = metric.kind.rawValue
            if let label = metric.label { kind += " of " + ReportFigures.labelText(label) }
            let value = metric.value.map { ReportMarkup.fixed($0, 4) } ?? "—"
            let interval: String
            if let low = metric.ciLow, let high = metric.ciHigh {
                interval = "[\(ReportMarkup.fixed(low, 4)), \(ReportMarkup.fixed(high, 4))]"
            } else {
                interval = "—"
            }
            let result: String
            if !metric.counted {
                result = "<span class=\"result uncounted\">not counted</span>"
            } else {
                result = metric.passed ? "<span class=\"result pass\">pass</span>" : "<span class=\"result fail\">fail</span>"
            }
            rows.append("""
                <tr><td>\(esc(metric.name))</td><td>\(esc(kind))</td><td>\(metric.path.map { "<code>\(esc($0))</code>" } ?? "—")</td>\
                <td class="number">\(value)</td><td class="number">\(interval)</td><td class="number">\(metric.n)</td>\
                <td>\(esc(gateText(metric.threshold)))</td><td>\(result)</td><td>\(esc(metric.note ?? ""))</td></tr>
                """)
        }
        let body = rows.isEmpty ? "<tr><td colspan=\"9\">The run has no metric.</td></tr>" : rows.joined(separator: "\n")
        return """
            <section id="metrics">
            <h2>Metrics</h2>
            <p class="caption">Each metric over this run's cases, its 95% interval (Wilson's for proportions, a percentile bootstrap otherwise), \
            how many cases counted, its gate as applied and whether it passed. A metric that is not counted does not decide the verdict.</p>
            <table class="metrics">
            <thead><tr><th>Metric</th><th>Kind</th><th>Path</th><th>Value</th><th>95% CI</th><th>n</th><th>Gate</th><th>Result</th><th>Note</th></tr></thead>
            <tbody>
            \(body)
            </tbody>
            </table>
            </section>
            """
    }

    static func gateText(_ threshold: AppliedThreshold) -> String {
        var parts: [String] = []
        if let minimum = threshold.min { parts.append("min \(ReportMarkup.fixed(minimum, 4))") }
        if let maximum = threshold.max { parts.append("max \(ReportMarkup.fixed(maximum, 4))") }
        if let maxDrop = threshold.maxDrop { parts.append("max_drop \(ReportMarkup.fixed(maxDrop, 4))") }
        if let baseline = threshold.baseline { parts.append("baseline \(ReportMarkup.fixed(baseline, 4))") }
        return parts.isEmpty ? "no gate" : parts.joined(separator: " · ")
    }

    // MARK: Trend

    static func trendSection(_ run: EvalRunReport, history: [EvalRunRecord]) -> String {
        let runs = ReportFigures.trend(run, history: history)
        let who = run.customer.map { "customer \(esc($0))" } ?? "no customer"
        let caption = runs.count == 1
            ? "Only this run of \(esc(run.template)) for \(who) is known: the trend starts here."
            : "\(runs.count) runs of \(esc(run.template)) for \(who), oldest to newest (labelled by run id). The outlined dot is this run; "
                + "hollow dots evaluated another dataset than this run; dashed red lines are this run&#39;s min and max gates."
        let charts = run.metrics.map { trendChart($0, runs: runs, dataset: run.datasetHash) }
        return """
            <section id="trend">
            <h2>Metric trend over past runs</h2>
            <p class="caption">\(caption)</p>
            \(charts.isEmpty ? "<p class=\"note\">The run has no metric to draw.</p>" : "<div class=\"charts\">\n" + charts.joined(separator: "\n") + "\n</div>")
            </section>
            """
    }

    static func trendChart(_ metric: MetricResult, runs: [ReportFigures.TrendRun], dataset: String) -> String {
        let title = "\(esc(metric.name)) (\(esc(metric.kind.rawValue)))"
        let points = runs.indices.compactMap { index in runs[index].values[metric.name].map { (index: index, value: $0) } }
        guard !points.isEmpty else {
            return "<figure><figcaption>\(title)</figcaption><p class=\"note\">No run has a value for this metric.</p></figure>"
        }
        let gates = [metric.threshold.min, metric.threshold.max].compactMap { $0 }
        let values = points.map(\.value) + gates
        let scale = ReportMarkup.ticks(values.min() ?? 0, values.max() ?? 1)
        let frame = ChartFrame(width: 580, height: 230, x: 0...Double(max(runs.count - 1, 0)), y: scale.lower...scale.upper)
        let c = ChartFrame.coordinate
        let every = max(1, (runs.count + 9) / 10)
        let xTicks = runs.indices.filter { $0 % every == 0 || $0 == runs.count - 1 }.map { (value: Double($0), label: runName(runs[$0].id)) }
        let yTicks = scale.values.map { (value: $0, label: ReportMarkup.fixed($0, scale.decimals)) }
        var parts = [frame.open(label: "Trend of \(metric.name) over \(runs.count) runs"), frame.axes(xTicks: xTicks, yTicks: yTicks, xTitle: "run", yTitle: "value")]
        for (gate, name) in [(metric.threshold.min, "min"), (metric.threshold.max, "max")] {
            guard let gate else { continue }
            let row = c(frame.py(gate))
            parts.append("<line class=\"gate\" x1=\"\(c(frame.left))\" y1=\"\(row)\" x2=\"\(c(frame.width - frame.right))\" y2=\"\(row)\"/>")
            parts.append("""
                <text class="gate-label" x="\(c(frame.width - frame.right - 4))" y="\(c(frame.py(gate) - 4))" \
                text-anchor="end">\(name) \(ReportMarkup.fixed(gate, 4))</text>
                """)
        }
        // A run without a value breaks the line rather than bridging it.
        var segment: [String] = []
        var previous = -2
        func flush() {
            if segment.count > 1 { parts.append("<polyline class=\"series\" points=\"\(segment.joined(separator: " "))\"/>") }
            segment = []
        }
        for point in points {
            if point.index != previous + 1 { flush() }
            segment.append("\(c(frame.px(Double(point.index)))),\(c(frame.py(point.value)))")
            previous = point.index
        }
        flush()
        for point in points {
            let run = runs[point.index]
            var classes = ["point"]
            if run.isCurrent { classes.append("current") }
            if run.datasetHash != dataset { classes.append("other-dataset") }
            let tip = "\(runName(run.id)) · \(ReportMarkup.iso8601(run.finishedAt)) · \(ReportMarkup.fixed(point.value, 4)) · dataset sha256 \(run.datasetHash.prefix(12))"
            parts.append("""
                <circle class="\(classes.joined(separator: " "))" cx="\(c(frame.px(Double(point.index))))" cy="\(c(frame.py(point.value)))" \
                r="\(run.isCurrent ? 5.5 : 4)"><title>\(esc(tip))</title></circle>
                """)
        }
        parts.append("</svg>")
        let current = metric.value.map { " · this run " + ReportMarkup.fixed($0, 4) } ?? " · no value in this run"
        return "<figure><figcaption>\(title)\(current)</figcaption>\n\(parts.joined(separator: "\n"))\n</figure>"
    }

    // MARK: Confusion matrix

    static func confusionSection(_ run: EvalRunReport) -> String {
        let heading = "<section id=\"confusion\">\n<h2>Confusion matrix of the top labels</h2>"
        func note(_ text: String) -> String { "\(heading)\n<p class=\"note\">\(text)</p>\n</section>" }
        guard let metric = run.metrics.first(where: { $0.kind == .accuracy && $0.path != nil })
            ?? run.metrics.first(where: { $0.kind == .macroF1 && $0.path != nil }), let path = metric.path
        else {
            return note("No accuracy or macro_f1 metric: there is no labelled path to tabulate.")
        }
        guard !run.cases.isEmpty else { return note("The run was given without its cases: the matrix needs each case&#39;s values.") }
        guard let matrix = ReportFigures.confusion(run.cases, path: path, top: confusionLabels) else {
            return note("No case is labelled at <code>\(esc(path))</code> (metric \(esc(metric.name))).")
        }
        let head = "<tr><th class=\"corner\">expected ↓ · actual →</th>"
            + matrix.columns.map { "<th>\(esc($0))</th>" }.joined() + "<th>total</th></tr>"
        var rows: [String] = []
        let maximum = Double(max(matrix.maximum, 1))
        for (r, label) in matrix.rows.enumerated() {
            var cells = "<tr><th>\(esc(label))</th>"
            for (k, count) in matrix.counts[r].enumerated() {
                var classes: [String] = []
                if r == k && r < matrix.topCount { classes.append("correct") }
                if count == 0 { classes.append("zero") }
                var style = ""
                if count > 0 {
                    let alpha = 0.08 + 0.82 * Double(count) / maximum
                    style = " style=\"background: rgba(37, 99, 235, \(ReportMarkup.fixed(alpha, 2)));\(alpha > 0.5 ? " color: #fff;" : "")\""
                }
                let tip = "expected \(label), actual \(matrix.columns[k]): \(count)"
                cells += "<td class=\"\(classes.joined(separator: " "))\"\(style) title=\"\(esc(tip))\">\(count)</td>"
            }
            cells += "<td class=\"number\">\(matrix.counts[r].reduce(0, +))</td></tr>"
            rows.append(cells)
        }
        let correct = (0..<matrix.topCount).reduce(0) { $0 + matrix.counts[$1][$1] }
        let folded = matrix.rows.count > matrix.topCount
            ? " Expected labels beyond the \(matrix.topCount) most frequent are folded into “\(esc(ReportFigures.otherLabels))”."
            : ""
        return """
            \(heading)
            <p class="caption">Metric \(esc(metric.name)) at <code>\(esc(path))</code> over \(matrix.total) labelled cases: rows are the expected \
            label, columns the label the run gave; darker cells hold more cases, outlined cells are correct (\(correct) of \(matrix.total)).\(folded)</p>
            <table class="confusion">
            <thead>\(head)</thead>
            <tbody>
            \(rows.joined(separator: "\n"))
            </tbody>
            </table>
            </section>
            """
    }

    // MARK: Calibration

    /// The run's first calibration metric with the rubric's confidence path and bins, or why
    /// there is none.
    struct CalibrationInput {
        /// The run's first `calibration_error` metric.
        var metric: MetricResult?
        /// Its labelled path.
        var path: String?
        /// Its confidence path, from the rubric.
        var confidence: String?
        /// Its bins, from the rubric (10 without one).
        var bins: Int
        /// The cases it counts.
        var points: [ReportFigures.ScoredCase]
        /// Why the case-level calibration charts cannot be drawn, as HTML with every user string
        /// escaped (nil: they can).
        var missing: String?

        init(run: EvalRunReport, rubric: EvalRubric?) {
            metric = run.metrics.first { $0.kind == .calibrationError }
            let definition = metric.flatMap { m in rubric?.metrics.first { $0.name == m.name && $0.kind == .calibrationError } }
            path = metric?.path
            confidence = definition?.confidence
            bins = max(definition?.bins ?? 10, 1)
            points = []
            if metric == nil {
                missing = "No calibration_error metric in this run: there is no confidence path to bin or sweep."
            } else if rubric == nil {
                missing = "The rubric was not given, so the calibration metric&#39;s confidence path is not known."
            } else if definition?.confidence == nil {
                missing = "The rubric has no confidence path for calibration metric \(esc(metric?.name ?? ""))."
            } else if run.cases.isEmpty {
                missing = "The run was given without its cases: the chart needs each case&#39;s confidence."
            } else if let path, let confidence {
                points = ReportFigures.scored(run.cases, path: path, confidence: confidence)
                if points.isEmpty {
                    missing = "No case is labelled at <code>\(esc(path))</code> with a number at <code>\(esc(confidence))</code>."
                }
            } else {
                missing = "The calibration metric has no path."
            }
        }
    }

    static func reliabilitySection(_ input: CalibrationInput) -> String {
        var lines = ["<section id=\"reliability\">", "<h2>Reliability diagram</h2>"]
        if let metric = input.metric {
            var ece = "ECE (\(esc(metric.name))) = " + (metric.value.map { ReportMarkup.fixed($0, 4) } ?? "no value")
            if let low = metric.ciLow, let high = metric.ciHigh { ece += ", 95% CI [\(ReportMarkup.fixed(low, 4)), \(ReportMarkup.fixed(high, 4))]" }
            lines.append("<p class=\"ece\"><strong>\(ece)</strong> over \(metric.n) cases</p>")
        }
        guard input.missing == nil, let path = input.path, let confidence = input.confidence else {
            lines.append("<p class=\"note\">\(input.missing ?? "")</p>")
            return (lines + ["</section>"]).joined(separator: "\n")
        }
        let bins = ReportFigures.reliability(input.points, bins: input.bins)
        lines.append("""
            <p class="caption">The \(input.points.count) labelled cases in \(bins.count) equal-width bins of <code>\(esc(confidence))</code>: \
            each bar is the share correct at <code>\(esc(path))</code> in its bin, the black tick its mean confidence, the number above \
            it how many cases it holds. A calibrated model&#39;s bars meet the dashed diagonal; ECE is the case-weighted mean gap.</p>
            """)
        let frame = ChartFrame(width: 560, height: 400, x: 0...1, y: 0...1)
        let c = ChartFrame.coordinate
        var parts = [frame.open(label: "Reliability diagram over \(bins.count) bins"),
            frame.axes(xTicks: ChartFrame.shareTicks.map { ($0.value, ReportMarkup.fixed($0.value, 2)) }, yTicks: ChartFrame.shareTicks,
                xTitle: "confidence", yTitle: "accuracy")]
        parts.append("<line class=\"diagonal\" x1=\"\(c(frame.px(0)))\" y1=\"\(c(frame.py(0)))\" x2=\"\(c(frame.px(1)))\" y2=\"\(c(frame.py(1)))\"/>")
        for bin in bins {
            guard let accuracy = bin.accuracy, let mean = bin.meanConfidence else { continue }
            let x0 = frame.px(bin.lower) + 1
            let x1 = frame.px(bin.upper) - 1
            let tip = "confidence \(ReportMarkup.fixed(bin.lower, 2))–\(ReportMarkup.fixed(bin.upper, 2)): \(bin.count) cases, "
                + "accuracy \(ReportMarkup.percent(accuracy)), mean confidence \(ReportMarkup.fixed(mean, 3))"
            parts.append("""
                <rect class="bar" x="\(c(x0))" y="\(c(frame.py(accuracy)))" width="\(c(max(x1 - x0, 1)))" \
                height="\(c(frame.py(0) - frame.py(accuracy)))"><title>\(esc(tip))</title></rect>
                """)
            parts.append("<line class=\"mean\" x1=\"\(c(x0))\" y1=\"\(c(frame.py(mean)))\" x2=\"\(c(x1))\" y2=\"\(c(frame.py(mean)))\"/>")
            parts.append("<text class=\"count\" x=\"\(c((x0 + x1) / 2))\" y=\"\(c(frame.py(max(accuracy, mean)) - 5))\" text-anchor=\"middle\">\(bin.count)</text>")
        }
        parts.append("</svg>")
        lines.append(parts.joined(separator: "\n"))
        return (lines + ["</section>"]).joined(separator: "\n")
    }

    static func reviewSection(_ run: EvalRunReport, _ input: CalibrationInput) -> String {
        var lines = ["<section id=\"review\">", "<h2>Review rate against accuracy</h2>"]
        guard input.missing == nil, let path = input.path, let confidence = input.confidence else {
            lines.append("<p class=\"note\">\(input.missing ?? "") The curve is left out.</p>")
            return (lines + ["</section>"]).joined(separator: "\n")
        }
        let curve = ReportFigures.reviewCurve(input.points)
        let rate = reviewRate(run)
        let policy = ReportFigures.checkpointPolicy(input.points)
        var caption = """
            Sweeping a threshold t over <code>\(esc(confidence))</code> for the \(input.points.count) labelled cases: x is the share with \
            confidence below t (sent to a person), y the accuracy at <code>\(esc(path))</code> among the rest.
            """
        if let rate, let chosen = ReportFigures.point(curve, atMostReviewing: rate), let accuracy = chosen.accuracy {
            caption += " At this run&#39;s review rate of \(ReportMarkup.percent(rate)), t = \(ReportMarkup.fixed(chosen.threshold, 4)) would send "
                + "\(ReportMarkup.percent(chosen.reviewShare)) to a person and leave \(ReportMarkup.percent(accuracy)) accuracy among the rest"
            if let policy, let own = policy.accuracy {
                caption += "; the run&#39;s own checkpoints sent \(ReportMarkup.percent(policy.reviewShare)) and left \(ReportMarkup.percent(own))"
            }
            caption += "."
        }
        lines.append("<p class=\"caption\">\(caption)</p>")
        let accuracies = curve.compactMap(\.accuracy) + [policy?.accuracy].compactMap { $0 }
        let scale = ReportMarkup.ticks(accuracies.min() ?? 0, 1)
        let frame = ChartFrame(width: 620, height: 380, x: 0...1, y: scale.lower...min(scale.upper, 1))
        let c = ChartFrame.coordinate
        let yTicks = scale.values.filter { $0 <= 1 + 1e-9 }.map { (value: $0, label: ReportMarkup.fixed($0 * 100, max(scale.decimals - 2, 0)) + "%") }
        var parts = [frame.open(label: "Review rate against accuracy over \(curve.count) thresholds"),
            frame.axes(xTicks: ChartFrame.shareTicks, yTicks: yTicks, xTitle: "share sent to a person (confidence < t)", yTitle: "accuracy of the rest")]
        let line = curve.compactMap { point in point.accuracy.map { "\(c(frame.px(point.reviewShare))),\(c(frame.py($0)))" } }
        if line.count > 1 {
            parts.append("<polyline class=\"series\" points=\"\(line.joined(separator: " "))\"/>")
        } else if let only = curve.first, let accuracy = only.accuracy {
            parts.append("<circle class=\"point\" cx=\"\(c(frame.px(only.reviewShare)))\" cy=\"\(c(frame.py(accuracy)))\" r=\"4\"/>")
        }
        if let rate {
            let column = c(frame.px(min(max(rate, 0), 1)))
            parts.append("<line class=\"marker\" x1=\"\(column)\" y1=\"\(c(frame.top))\" x2=\"\(column)\" y2=\"\(c(frame.height - frame.bottom))\"/>")
            let anchor = rate > 0.7 ? "end" : "start"
            let offset = rate > 0.7 ? -4.0 : 4.0
            parts.append("""
                <text class="marker-label" x="\(c(frame.px(min(max(rate, 0), 1)) + offset))" y="\(c(frame.top + 12))" \
                text-anchor="\(anchor)">this run reviewed \(ReportMarkup.percent(rate))</text>
                """)
        }
        if let policy, let accuracy = policy.accuracy {
            let tip = "this run's checkpoints: \(ReportMarkup.percent(policy.reviewShare)) reviewed, \(ReportMarkup.percent(accuracy)) accuracy of the rest"
            parts.append("""
                <circle class="policy" cx="\(c(frame.px(policy.reviewShare)))" cy="\(c(frame.py(accuracy)))" r="6"><title>\(esc(tip))</title></circle>
                """)
        }
        parts.append("</svg>")
        lines.append(parts.joined(separator: "\n"))
        return (lines + ["</section>"]).joined(separator: "\n")
    }

    /// The share of the run's cases that went to a person: its `review_rate` metric, else the
    /// cases' flags, else its counts (nil: unknown).
    static func reviewRate(_ run: EvalRunReport) -> Double? {
        if let value = run.metrics.first(where: { $0.kind == .reviewRate })?.value { return value }
        if !run.cases.isEmpty { return Double(run.cases.lazy.filter(\.reviewed).count) / Double(run.cases.count) }
        if let reviewed = run.counts["reviewed"], let cases = run.counts["cases"], cases > 0 { return Double(reviewed) / Double(cases) }
        return nil
    }

    // MARK: Failed cases

    static func failedSection(_ run: EvalRunReport) -> String {
        let heading = "<section id=\"failed\">\n<h2>Failed cases</h2>"
        guard !run.cases.isEmpty else {
            let failed = run.counts["cases"].flatMap { total in run.counts["passed"].map { total - $0 } }
            let count = failed.map { "\($0) cases did not pass. " } ?? ""
            return "\(heading)\n<p class=\"note\">\(count)The run was given without its cases, so they cannot be listed.</p>\n</section>"
        }
        let failed = run.cases.filter { !$0.passed }
        guard !failed.isEmpty else { return "\(heading)\n<p class=\"caption\">Every one of the \(run.cases.count) cases passed.</p>\n</section>" }
        let shown = failed.prefix(failedCaseLimit)
        let rows = shown.map { c in
            """
            <tr><td><code>\(esc(c.id))</code></td><td>\(esc(c.status))</td><td><code>\(esc(clipped(c.expected)))</code></td>\
            <td><code>\(esc(clipped(c.outputs)))</code></td><td>\(esc(c.error ?? ""))</td></tr>
            """
        }
        let which = failed.count > shown.count ? "the first \(shown.count) in dataset order are listed" : "all are listed"
        return """
            \(heading)
            <p class="caption">\(failed.count) of \(run.cases.count) cases did not pass; \(which).</p>
            <table class="cases">
            <thead><tr><th>Case</th><th>Status</th><th>Expected</th><th>Outputs</th><th>Error</th></tr></thead>
            <tbody>
            \(rows.joined(separator: "\n"))
            </tbody>
            </table>
            </section>
            """
    }

    // MARK: Helpers

    static func esc(_ text: String) -> String { ReportMarkup.escape(text) }

    /// `#42`, or `this run` for a run not stored yet.
    static func runName(_ id: Int64) -> String { id == 0 ? "this run" : "#\(id)" }

    /// Cases in the run: its case results, or its counts when given without them.
    static func caseCount(_ run: EvalRunReport) -> Int { run.cases.isEmpty ? run.counts["cases"] ?? 0 : run.cases.count }

    /// Compact JSON, cut at `jsonLimit` characters.
    static func clipped(_ value: JSONValue) -> String {
        let text = value.jsonString
        return text.count > jsonLimit ? String(text.prefix(jsonLimit)) + "…" : text
    }
}
