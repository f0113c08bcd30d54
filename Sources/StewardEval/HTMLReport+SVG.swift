import Foundation

/// Text and drawing primitives of the HTML report: escaping, fixed-point figures and a chart
/// frame that maps data to SVG pixels. Pure.
enum ReportMarkup {
    /// `text` safe inside HTML and SVG text and inside double- or single-quoted attributes.
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// `value` with exactly `digits` decimals, rounded half away from zero (`0.9150`); `nan`,
    /// `inf` and `-inf` for values that are not finite; very large values as Swift prints them.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        var factor = 1.0
        for _ in 0..<max(digits, 0) { factor *= 10 }
        guard abs(value) * factor < 1e15 else { return String(value) }
        let scaled = Int64((abs(value) * factor).rounded())
        let units = Int64(factor)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard digits > 0 else { return sign + String(scaled) }
        let fraction = String(scaled % units)
        return sign + String(scaled / units) + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    /// A share as a percentage with one decimal (`31.5%`).
    static func percent(_ share: Double) -> String { fixed(share * 100, 1) + "%" }

    /// A time in ms since 1970 as ISO 8601 in UTC (`2025-03-01T09:30:00Z`).
    static func iso8601(_ milliseconds: Int64) -> String {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000).formatted(Date.ISO8601FormatStyle())
    }

    /// Evenly spaced round tick values covering `lower...upper` (about `count` intervals), the
    /// widened bounds they span, and the decimals that write them exactly. A zero-width range is
    /// widened by 0.05 either side.
    static func ticks(_ lower: Double, _ upper: Double, count: Int = 4) -> (lower: Double, upper: Double, values: [Double], decimals: Int) {
        var low = lower
        var high = upper
        if high - low < 1e-9 {
            low -= 0.05
            high += 0.05
        }
        let raw = (high - low) / Double(max(count, 1))
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw * (1 - 1e-9) } ?? 10 * magnitude
        let first = floor(low / step + 1e-9)
        let last = ceil(high / step - 1e-9)
        let values = stride(from: first, through: last, by: 1).map { $0 * step }
        let decimals = (0...4).first { digits in
            let scaled = step * pow(10, Double(digits))
            return abs(scaled - scaled.rounded()) < 1e-6
        } ?? 4
        return (first * step, last * step, values, decimals)
    }
}

/// The plotting area of one SVG chart and its linear maps from data to pixels.
struct ChartFrame: Sendable {
    /// The drawing's width in pixels (its viewBox).
    var width: Double
    /// Its height in pixels.
    var height: Double
    /// The data bounds of the x axis (a zero-width range maps every x to the middle).
    var x: ClosedRange<Double>
    /// The data bounds of the y axis (a zero-width range maps every y to the middle).
    var y: ClosedRange<Double>
    /// The margin left of the plot, for the y ticks and title.
    var left = 56.0
    /// The margin right of the plot, wide enough for half the last x tick's label.
    var right = 30.0
    /// The margin above the plot.
    var top = 16.0
    /// The margin below the plot, for the x ticks and title.
    var bottom = 44.0

    /// The pixel column of a data x.
    func px(_ value: Double) -> Double {
        let span = x.upperBound - x.lowerBound
        let share = span > 0 ? (value - x.lowerBound) / span : 0.5
        return left + share * (width - left - right)
    }

    /// The pixel row of a data y (up is larger).
    func py(_ value: Double) -> Double {
        let span = y.upperBound - y.lowerBound
        let share = span > 0 ? (value - y.lowerBound) / span : 0.5
        return height - bottom - share * (height - top - bottom)
    }

    /// A pixel coordinate as written in the SVG.
    static func coordinate(_ value: Double) -> String { ReportMarkup.fixed(value, 1) }

    /// Opens the `<svg>` element; `label` names the chart for screen readers (escaped here).
    func open(label: String) -> String {
        let w = Self.coordinate(width)
        let h = Self.coordinate(height)
        return "<svg class=\"chart\" viewBox=\"0 0 \(w) \(h)\" width=\"\(w)\" height=\"\(h)\" role=\"img\" aria-label=\"\(ReportMarkup.escape(label))\">"
    }

    /// Grid lines, tick labels and axis titles (every text escaped here).
    func axes(xTicks: [(value: Double, label: String)], yTicks: [(value: Double, label: String)], xTitle: String, yTitle: String) -> String {
        let c = Self.coordinate
        var parts: [String] = []
        let plotLeft = c(left)
        let plotRight = c(width - right)
        let plotTop = c(top)
        let plotBottom = c(height - bottom)
        for tick in yTicks {
            let row = c(py(tick.value))
            parts.append("<line class=\"grid\" x1=\"\(plotLeft)\" y1=\"\(row)\" x2=\"\(plotRight)\" y2=\"\(row)\"/>")
            parts.append("<text class=\"tick\" x=\"\(c(left - 6))\" y=\"\(c(py(tick.value) + 4))\" text-anchor=\"end\">\(ReportMarkup.escape(tick.label))</text>")
        }
        for tick in xTicks {
            let column = c(px(tick.value))
            parts.append("<line class=\"grid\" x1=\"\(column)\" y1=\"\(plotTop)\" x2=\"\(column)\" y2=\"\(plotBottom)\"/>")
            parts.append("<text class=\"tick\" x=\"\(column)\" y=\"\(c(height - bottom + 16))\" text-anchor=\"middle\">\(ReportMarkup.escape(tick.label))</text>")
        }
        parts.append("<line class=\"axis\" x1=\"\(plotLeft)\" y1=\"\(plotBottom)\" x2=\"\(plotRight)\" y2=\"\(plotBottom)\"/>")
        parts.append("<line class=\"axis\" x1=\"\(plotLeft)\" y1=\"\(plotTop)\" x2=\"\(plotLeft)\" y2=\"\(plotBottom)\"/>")
        let middle = (top + height - bottom) / 2
        parts.append("<text class=\"title\" x=\"\(c((left + width - right) / 2))\" y=\"\(c(height - 8))\" text-anchor=\"middle\">\(ReportMarkup.escape(xTitle))</text>")
        parts.append("<text class=\"title\" x=\"14\" y=\"\(c(middle))\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(c(middle)))\">\(ReportMarkup.escape(yTitle))</text>")
        return parts.joined()
    }

    /// Ticks at 0, 0.25, ..., 1 labelled as percentages, for axes of shares.
    static let shareTicks: [(value: Double, label: String)] = [0, 0.25, 0.5, 0.75, 1].map { ($0, ReportMarkup.percent($0)) }
}
