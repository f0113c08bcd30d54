import Foundation

extension BusinessCalendar {
    /// Whether `date` is business time: its local wall-clock time lies in an open interval of its
    /// local date. Intervals are half-open, so the calendar is open at 09:00 and closed at 17:00.
    public func isOpen(at date: Date) -> Bool {
        let (day, seconds) = localDateTime(of: date)
        return openIntervals(on: day).contains {
            seconds >= Double($0.startMinute * 60) && seconds < Double($0.endMinute * 60)
        }
    }

    /// The first instant at or after `date` at which the calendar is open: `date` itself when it
    /// is business time, otherwise the next opening. This is where an SLA clock started at `date`
    /// begins to run.
    ///
    /// - Throws: `CalendarError.neverOpensAfter` when no later schedule has open hours.
    public func nextOpening(after date: Date) throws(CalendarError) -> Date {
        var opening: Double?
        try walkOpenPeriods(from: date.timeIntervalSince1970, until: .infinity) { start, _ in
            opening = start
            return false
        }
        // `walkOpenPeriods` with no limit returns only after the body stops it or by throwing.
        return Date(timeIntervalSince1970: opening!)
    }

    /// The instant at which `businessDuration` of business time has elapsed since `start`: the
    /// earliest `d >= start` with `businessTime(from: start, to: d) >= businessDuration`.
    ///
    /// A start outside business hours starts the clock at the next opening. A deadline that falls
    /// exactly at a closing time is that closing time (17:00), not the next opening. A zero
    /// duration gives `start`.
    ///
    /// - Throws: `CalendarError.negativeDuration`, or `.neverOpensAfter` when the calendar stops
    ///   opening before the duration is used up.
    public func deadline(from start: Date, adding businessDuration: Duration) throws(CalendarError) -> Date {
        try deadline(from: start, addingSeconds: businessDuration.timeInterval)
    }

    /// `deadline(from:adding:)` with the duration in seconds.
    public func deadline(from start: Date, addingSeconds businessSeconds: Double) throws(CalendarError) -> Date {
        guard businessSeconds >= 0 else {
            throw CalendarError(reason: .negativeDuration(seconds: businessSeconds))
        }
        if businessSeconds == 0 { return start }
        var remaining = businessSeconds
        var due: Double?
        try walkOpenPeriods(from: start.timeIntervalSince1970, until: .infinity) { periodStart, periodEnd in
            let length = periodEnd - periodStart
            if remaining <= length {
                due = periodStart + remaining
                return false
            }
            remaining -= length
            return true
        }
        return Date(timeIntervalSince1970: due!)
    }

    /// Business time between two instants, in seconds; negative when `end` precedes `start`
    /// (so "time left until the deadline" goes negative after a breach).
    public func businessTime(from start: Date, to end: Date) -> Double {
        if end < start { return -businessTime(from: end, to: start) }
        var total = 0.0
        // Bounded by `end`, the walk always terminates and never throws.
        try? walkOpenPeriods(from: start.timeIntervalSince1970, until: end.timeIntervalSince1970) { periodStart, periodEnd in
            total += periodEnd - periodStart
            return true
        }
        return total
    }

    /// `businessTime(from:to:)` as a `Duration`.
    public func businessDuration(from start: Date, to end: Date) -> Duration {
        .seconds(businessTime(from: start, to: end))
    }

    /// The open periods between two instants as real-time intervals, contiguous pieces merged
    /// (a 24x7 calendar gives one interval). Meant for display and debugging.
    public func openPeriods(from start: Date, to end: Date) -> [DateInterval] {
        var result: [DateInterval] = []
        try? walkOpenPeriods(from: start.timeIntervalSince1970, until: end.timeIntervalSince1970) { periodStart, periodEnd in
            let piece = DateInterval(start: Date(timeIntervalSince1970: periodStart),
                                     end: Date(timeIntervalSince1970: periodEnd))
            if let last = result.last, last.end == piece.start {
                result[result.count - 1] = DateInterval(start: last.start, end: piece.end)
            } else {
                result.append(piece)
            }
            return true
        }
        return result
    }

    /// Calls `body` with each open period `[start, end)` (seconds since 1970) that intersects
    /// `[from, limit)`, clipped to it, in chronological order, until `body` returns false.
    ///
    /// The walk goes segment by segment of constant UTC offset (so wall-clock time is a monotonic
    /// function of real time inside a segment) and, inside a segment, local day by local day,
    /// jumping from interval to interval: the cost is per local day, never per minute. A local
    /// day cut by a transition is visited once per segment, so the hour repeated at a fall-back
    /// is counted in both passes and the hour skipped at a spring-forward in neither.
    ///
    /// - Throws: `neverOpensAfter(from)` once the walk is past every dated rule and two weeks of
    ///   the final weekly schedule is empty (or, as a safety net, has produced no open period for
    ///   two weeks); so an unbounded walk always terminates.
    func walkOpenPeriods(from: Double, until limit: Double, _ body: (Double, Double) -> Bool) throws(CalendarError) {
        var segmentStart = from
        var lastOpenDay = Int.min
        var emptyDaysPastHorizon = 0
        var lastCountedDay = Int.min
        while segmentStart < limit {
            let segment = offsetSegment(startingAt: segmentStart, limit: limit)
            let wallEnd = segment.end + segment.offset
            var day = Int(((segment.start + segment.offset) / secondsPerDay).rounded(.down))
            while Double(day) * secondsPerDay < wallEnd {
                let midnight = Double(day) * secondsPerDay - segment.offset
                for interval in openIntervals(on: LocalDate(dayNumber: day)) {
                    let start = max(midnight + Double(interval.startMinute * 60), segment.start)
                    let end = min(midnight + Double(interval.endMinute * 60), segment.end)
                    guard start < end else { continue }
                    lastOpenDay = day
                    if !body(start, end) { return }
                }
                if day > horizonDay && finalScheduleIsEmpty {
                    throw CalendarError(reason: .neverOpensAfter(Date(timeIntervalSince1970: from)))
                }
                // Safety net should a non-empty weekly schedule still never map to real time.
                if day > horizonDay && day > lastCountedDay {
                    lastCountedDay = day
                    emptyDaysPastHorizon = lastOpenDay == day ? 0 : emptyDaysPastHorizon + 1
                    if emptyDaysPastHorizon > 14 {
                        throw CalendarError(reason: .neverOpensAfter(Date(timeIntervalSince1970: from)))
                    }
                }
                day += 1
            }
            segmentStart = segment.end
        }
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var timeInterval: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) * 1e-18
    }
}
