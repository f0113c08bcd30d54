import StewardJSON

/// A template's evaluation rubric (`eval:`): the metrics an eval run computes over the instance
/// data of each golden case, their gates, and when scheduled runs are due.
public struct EvalRubric: Sendable, Hashable {
    /// The metrics, in file order.
    public var metrics: [EvalMetric]
    /// When scheduled runs fall due (nil: only on demand).
    public var cadence: EvalCadence?
    /// The dataset scheduled runs use, relative to the workspace root (nil: none named; a
    /// scheduled run then uses `evals/<template>/` when it holds exactly one dataset).
    public var dataset: String?
    /// Where `eval:` is written.
    public var location: SourceLocation

    /// Creates a rubric.
    public init(metrics: [EvalMetric], cadence: EvalCadence?, dataset: String?, location: SourceLocation) {
        self.metrics = metrics
        self.cadence = cadence
        self.dataset = dataset
        self.location = location
    }

    /// The metric with this name.
    public func metric(named name: String) -> EvalMetric? { metrics.first { $0.name == name } }
}

/// One metric of a rubric and its gate.
public struct EvalMetric: Sendable, Hashable {
    /// What a metric measures.
    public enum Kind: String, Sendable, Hashable, CaseIterable, Codable {
        /// Share of labelled cases whose value at `path` equals the expected value.
        case accuracy
        /// Among cases whose expected value at `path` is `label`, the share the instance gave `label`.
        case recall
        /// Among labelled cases the instance gave `label` at `path`, the share whose expected value is `label`.
        case precision
        /// The unweighted mean of per-label F1 over the labels seen in the expected or actual values at `path`.
        case macroF1 = "macro_f1"
        /// Expected calibration error: equal-width confidence bins over `confidence`, the
        /// case-weighted mean of |accuracy at `path` - mean confidence| per bin.
        case calibrationError = "calibration_error"
        /// Share of cases that opened a checkpoint (would have gone to a person).
        case reviewRate = "review_rate"
        /// Share of labelled cases whose value at `path` (an object or any value) equals the expected one exactly.
        case exactMatch = "exact_match"
        /// Share of labelled cases whose number at `path` is within `tolerance` of the expected number.
        case numericTolerance = "numeric_tolerance"
        /// The mean score in [0, 1] a model role gives each case's value at `path` against `rubric`.
        case judge

        /// Whether a larger value is better (false for calibration error and review rate):
        /// `max_drop` bounds a fall of a higher-is-better metric and a rise of the others.
        public var higherIsBetter: Bool { self != .calibrationError && self != .reviewRate }

        /// Whether the metric is a proportion of cases (its interval is Wilson's; the others bootstrap).
        public var isProportion: Bool { self != .macroF1 && self != .calibrationError && self != .judge }
    }

    /// The metric's name, unique in the rubric (`intent_accuracy`).
    public var name: String
    /// What it measures.
    public var kind: Kind
    /// The instance-data path it reads (`classification.label`); nil only for `review_rate`.
    public var path: String?
    /// The label of `recall` and `precision` (`P1`).
    public var label: JSONValue?
    /// The confidence path of `calibration_error` (`classification.confidence`).
    public var confidence: String?
    /// Bins of `calibration_error` (default 10).
    public var bins: Int
    /// The allowed absolute difference of `numeric_tolerance`.
    public var tolerance: Double?
    /// The model role that scores `judge` cases.
    public var role: String?
    /// The rubric text the judge scores against.
    public var rubric: String?
    /// The judge metric counts toward the run's gates only when Cohen's κ between the judge
    /// and human reviewers is at least this (nil: always counts).
    public var minimumKappa: Double?
    /// The gate.
    public var threshold: EvalThreshold
    /// Where the metric is written.
    public var location: SourceLocation

    /// Creates a metric.
    public init(
        name: String, kind: Kind, path: String?, label: JSONValue? = nil, confidence: String? = nil, bins: Int = 10,
        tolerance: Double? = nil, role: String? = nil, rubric: String? = nil, minimumKappa: Double? = nil,
        threshold: EvalThreshold = EvalThreshold(), location: SourceLocation
    ) {
        self.name = name
        self.kind = kind
        self.path = path
        self.label = label
        self.confidence = confidence
        self.bins = bins
        self.tolerance = tolerance
        self.role = role
        self.rubric = rubric
        self.minimumKappa = minimumKappa
        self.threshold = threshold
        self.location = location
    }
}

/// A metric's gate: absolute bounds and the largest worsening against a baseline run.
public struct EvalThreshold: Sendable, Hashable, Codable {
    /// The value must be at least this.
    public var minimum: Double?
    /// The value must be at most this.
    public var maximum: Double?
    /// The value may worsen by at most this against the baseline, in the metric's own units
    /// (a fall for higher-is-better metrics, a rise for calibration error and review rate).
    public var maxDrop: Double?

    /// Creates a gate.
    public init(minimum: Double? = nil, maximum: Double? = nil, maxDrop: Double? = nil) {
        self.minimum = minimum
        self.maximum = maximum
        self.maxDrop = maxDrop
    }

    enum CodingKeys: String, CodingKey {
        case minimum = "min", maximum = "max", maxDrop = "max_drop"
    }

    /// Whether `other` is at least as strict as this gate on every bound this gate sets
    /// (a customer overlay may only tighten a template's gates).
    public func isTightened(by other: EvalThreshold) -> [String] {
        var loosened: [String] = []
        if let minimum, let given = other.minimum, given < minimum { loosened.append("min \(given) is below the template's \(minimum)") }
        if let maximum, let given = other.maximum, given > maximum { loosened.append("max \(given) is above the template's \(maximum)") }
        if let maxDrop, let given = other.maxDrop, given > maxDrop { loosened.append("max_drop \(given) is above the template's \(maxDrop)") }
        return loosened
    }

    /// This gate with `other`'s bounds where it sets them.
    public func merged(with other: EvalThreshold) -> EvalThreshold {
        EvalThreshold(minimum: other.minimum ?? minimum, maximum: other.maximum ?? maximum, maxDrop: other.maxDrop ?? maxDrop)
    }
}

/// What a customer overlay changes in a template's rubric (`templates.<name>.eval`).
public struct EvalOverlay: Sendable, Hashable {
    /// A cadence replacing the template's.
    public var cadence: EvalCadence?
    /// A dataset replacing the template's (this customer's golden set).
    public var dataset: String?
    /// Tighter gates, by metric name.
    public var thresholds: [String: EvalThreshold]
    /// Where each metric's change is written.
    public var locations: [String: SourceLocation]
    /// Where the overlay's `eval:` is written.
    public var location: SourceLocation

    /// Creates an overlay.
    public init(
        cadence: EvalCadence?, dataset: String?, thresholds: [String: EvalThreshold], locations: [String: SourceLocation], location: SourceLocation
    ) {
        self.cadence = cadence
        self.dataset = dataset
        self.thresholds = thresholds
        self.locations = locations
        self.location = location
    }
}

extension EvalRubric {
    /// The rubric a customer runs: the overlay's cadence and dataset where set, and each
    /// metric's gate tightened by the overlay.
    public func applying(_ overlay: EvalOverlay?) -> EvalRubric {
        guard let overlay else { return self }
        var rubric = self
        rubric.cadence = overlay.cadence ?? cadence
        rubric.dataset = overlay.dataset ?? dataset
        for index in rubric.metrics.indices {
            if let change = overlay.thresholds[rubric.metrics[index].name] {
                rubric.metrics[index].threshold = rubric.metrics[index].threshold.merged(with: change)
            }
        }
        return rubric
    }
}

/// When scheduled eval runs fall due, in UTC.
public enum EvalCadence: Sendable, Hashable, CustomStringConvertible {
    /// Every day at 00:00 UTC.
    case daily
    /// Every Monday at 00:00 UTC.
    case weekly
    /// On the 1st of every month at 00:00 UTC.
    case monthly
    /// A five-field cron expression (minute hour day-of-month month day-of-week), in UTC.
    case cron(CronSchedule)

    /// The schedule behind the cadence.
    public var schedule: CronSchedule {
        switch self {
        // Literal expressions that always parse.
        case .daily: return try! CronSchedule(parsing: "0 0 * * *")
        case .weekly: return try! CronSchedule(parsing: "0 0 * * 1")
        case .monthly: return try! CronSchedule(parsing: "0 0 1 * *")
        case .cron(let schedule): return schedule
        }
    }

    /// As written: `daily`, `weekly`, `monthly` or the cron expression.
    public var description: String {
        switch self {
        case .daily: return "daily"
        case .weekly: return "weekly"
        case .monthly: return "monthly"
        case .cron(let schedule): return schedule.source
        }
    }

    /// Parses `daily`, `weekly`, `monthly` or a cron expression.
    /// - Throws: `CronSchedule.ParseError` naming the field that is wrong.
    public init(parsing text: String) throws(CronSchedule.ParseError) {
        switch text {
        case "daily": self = .daily
        case "weekly": self = .weekly
        case "monthly": self = .monthly
        default: self = .cron(try CronSchedule(parsing: text))
        }
    }
}

/// A five-field cron schedule in UTC: minute (0-59), hour (0-23), day of month (1-31), month
/// (1-12), day of week (0-7, 0 and 7 are Sunday). Each field is `*`, a number, a range `a-b`,
/// a list `a,b`, or any of those with a step `/n`. As in Vixie cron, when both day fields are
/// restricted a day matches either.
public struct CronSchedule: Sendable, Hashable {
    /// The expression as written.
    public let source: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let days: Set<Int>
    let months: Set<Int>
    let weekdays: Set<Int>
    let daysRestricted: Bool
    let weekdaysRestricted: Bool

    /// Why an expression does not parse.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        /// What is wrong and what was expected.
        public let description: String
    }

    /// Parses `text`.
    /// - Throws: `ParseError` naming the field and what was expected.
    public init(parsing text: String) throws(ParseError) {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(description: "expected 'daily', 'weekly', 'monthly' or a cron expression of 5 fields (minute hour day month weekday), found '\(text)'")
        }
        source = fields.joined(separator: " ")
        minutes = try Self.field(fields[0], "minute", 0...59)
        hours = try Self.field(fields[1], "hour", 0...23)
        days = try Self.field(fields[2], "day of month", 1...31)
        months = try Self.field(fields[3], "month", 1...12)
        weekdays = Set(try Self.field(fields[4], "day of week", 0...7).map { $0 % 7 })
        daysRestricted = fields[2] != "*"
        weekdaysRestricted = fields[4] != "*"
    }

    static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>) throws(ParseError) -> Set<Int> {
        var values: Set<Int> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw ParseError(description: "cron \(name) '\(part)' has more than one '/'") }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0 else {
                    throw ParseError(description: "cron \(name) step '\(pieces[1])' is not a positive number")
                }
                step = parsed
            }
            var low = range.lowerBound
            var high = range.upperBound
            if pieces[0] != "*" {
                let bounds = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2, let first = Int(bounds[0]), let last = bounds.count == 2 ? Int(bounds[1]) : first else {
                    throw ParseError(description: "cron \(name) '\(part)' is not '*', a number or a range 'a-b'")
                }
                guard range.contains(first), range.contains(last), first <= last else {
                    throw ParseError(description: "cron \(name) '\(part)' is out of range; expected \(range.lowerBound)-\(range.upperBound)")
                }
                low = first
                high = pieces.count == 2 && bounds.count == 1 ? range.upperBound : last
            }
            values.formUnion(stride(from: low, through: high, by: step))
        }
        return values
    }

    /// The first minute strictly after `milliseconds` (ms since 1970, UTC) that the schedule
    /// matches, in ms since 1970. Searches up to eight years ahead (a schedule such as
    /// February 30th that never matches gives nil).
    public func next(after milliseconds: Int64) -> Int64? {
        var minute = milliseconds.floorDivided(by: 60_000) + 1
        let limit = minute + 8 * 366 * 1_440
        while minute < limit {
            let civil = CivilTime(minuteSinceEpoch: minute)
            guard months.contains(civil.month) else {
                minute = CivilTime.firstMinute(year: civil.month == 12 ? civil.year + 1 : civil.year, month: civil.month % 12 + 1)
                continue
            }
            let dayMatches: Bool
            switch (daysRestricted, weekdaysRestricted) {
            case (true, true): dayMatches = days.contains(civil.day) || weekdays.contains(civil.weekday)
            case (true, false): dayMatches = days.contains(civil.day)
            case (false, true): dayMatches = weekdays.contains(civil.weekday)
            case (false, false): dayMatches = true
            }
            guard dayMatches else {
                minute = (minute / 1_440 + 1) * 1_440
                continue
            }
            guard hours.contains(civil.hour) else {
                minute = (minute / 60 + 1) * 60
                continue
            }
            if minutes.contains(civil.minute) { return minute * 60_000 }
            minute += 1
        }
        return nil
    }
}

/// A UTC calendar time from minutes since 1970 (proleptic Gregorian; Howard Hinnant's
/// civil-from-days algorithm). Kept here so the template module stays free of Foundation.
struct CivilTime {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int
    /// 0 = Sunday.
    var weekday: Int

    init(minuteSinceEpoch: Int64) {
        let days = Int(minuteSinceEpoch.floorDivided(by: 1_440))
        let minuteOfDay = Int(minuteSinceEpoch - Int64(days) * 1_440)
        hour = minuteOfDay / 60
        minute = minuteOfDay % 60
        weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// Minutes since 1970 at 00:00 on the 1st of `month` in `year`.
    static func firstMinute(year: Int, month: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return Int64(era * 146_097 + doe - 719_468) * 1_440
    }
}

extension Int64 {
    /// Division rounding toward negative infinity.
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
