/// ISO 8601 as luxon's `DateTime.fromISO` read it (ingestion.md §5.2): calendar, week and ordinal
/// dates, extended or basic format, optional time with `.`/`,` fraction, `Z`/`±HH`/`±HHMM`/`±HH:MM`.
extension EventTimestamp {
    /// `nil` where luxon gave an invalid DateTime. Offset-less text is read as UTC (the original used
    /// the server's zone, which was UTC in production; ingestion.md §5.2 recommendation).
    /// Deviation: luxon also read a bare time (`10:00`) as today; no timestamp producer sends one,
    /// and "today" would make parsing impure, so it is rejected.
    public static func parseISO8601(_ text: String) -> EventTimestamp? {
        var scanner = ISO8601Scanner(bytes: Array(text.utf8))
        return scanner.parse()
    }
}

/// One left-to-right pass over luxon's ISO grammar. Each optional part of luxon's regular expressions
/// is taken greedily: skipping a part never lets the rest match, so no backtracking is needed.
private struct ISO8601Scanner {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    private enum DateForm: CaseIterable { case calendar, week, ordinal }

    private enum DatePart {
        case calendar(year: Int64, month: Int64, day: Int64)
        case week(weekYear: Int64, week: Int64, weekday: Int64)
        case ordinal(year: Int64, dayOfYear: Int64)
    }

    mutating func parse() -> EventTimestamp? {
        // luxon tries calendar, then week, then ordinal dates, each on the whole string.
        for form in DateForm.allCases {
            index = 0
            let date: DatePart?
            switch form {
            case .calendar: date = parseCalendarDate()
            case .week: date = parseWeekDate()
            case .ordinal: date = parseOrdinalDate()
            }
            guard let date else { continue }
            guard let time = parseTimeExtension(), index == bytes.count else { continue }
            return Self.resolve(date: date, time: time)
        }
        return nil
    }

    // MARK: Dates

    /// `([+-]\d{6}|\d{4})(-?\d\d(-?\d\d)?)?`
    private mutating func parseCalendarDate() -> DatePart? {
        guard let year = parseYear() else { return nil }
        var month: Int64 = 1
        var day: Int64 = 1
        if let value = parseOptionallyHyphenated(digits: 2) {
            month = value
            if let value = parseOptionallyHyphenated(digits: 2) { day = value }
        }
        return .calendar(year: year, month: month, day: day)
    }

    /// `\d{4}-?W\d\d(-?\d)?`
    private mutating func parseWeekDate() -> DatePart? {
        guard let weekYear = parseDigits(4) else { return nil }
        skip(UInt8(ascii: "-"))
        guard skip(UInt8(ascii: "W")), let week = parseDigits(2) else { return nil }
        let weekday = parseOptionallyHyphenated(digits: 1) ?? 1
        return .week(weekYear: weekYear, week: week, weekday: weekday)
    }

    /// `\d{4}-?\d{3}`
    private mutating func parseOrdinalDate() -> DatePart? {
        guard let year = parseDigits(4) else { return nil }
        skip(UInt8(ascii: "-"))
        guard let dayOfYear = parseDigits(3) else { return nil }
        return .ordinal(year: year, dayOfYear: dayOfYear)
    }

    private mutating func parseYear() -> Int64? {
        guard index < bytes.count else { return nil }
        let sign = bytes[index]
        if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            index += 1
            guard let magnitude = parseDigits(6) else { return nil }
            return sign == UInt8(ascii: "-") ? -magnitude : magnitude
        }
        return parseDigits(4)
    }

    // MARK: Time

    private struct TimePart {
        var hour: Int64 = 0
        var minute: Int64 = 0
        var second: Int64 = 0
        var millisecond: Int64 = 0
        /// Minutes east of UTC; `nil` when the text had no offset.
        var offsetMinutes: Int64?
    }

    /// `(T\d\d(:?\d\d(:?\d\d([.,]\d{1,30})?)?)?(Z|[+-]\d\d(:?\d\d)?)?)?`; `nil` if a `T` starts a bad time.
    private mutating func parseTimeExtension() -> TimePart? {
        var time = TimePart()
        guard skip(UInt8(ascii: "T")) else { return time }
        guard let hour = parseDigits(2) else { return nil }
        time.hour = hour
        if let minute = parseOptionally(UInt8(ascii: ":"), digits: 2) {
            time.minute = minute
            if let second = parseOptionally(UInt8(ascii: ":"), digits: 2) {
                time.second = second
                if index < bytes.count, bytes[index] == UInt8(ascii: ".") || bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    let start = index
                    while index < bytes.count, index - start < 30, Self.isDigit(bytes[index]) { index += 1 }
                    guard index > start else { return nil }
                    time.millisecond = Self.luxonMilliseconds(fraction: bytes[start..<index])
                }
            }
        }
        if skip(UInt8(ascii: "Z")) {
            time.offsetMinutes = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let negative = bytes[index] == UInt8(ascii: "-")
            index += 1
            guard let hours = parseDigits(2) else { return nil }
            let minutes = parseOptionally(UInt8(ascii: ":"), digits: 2) ?? 0
            // luxon does not range-check offsets; the minutes take the sign of the hours.
            time.offsetMinutes = (negative ? -1 : 1) * (hours * 60 + minutes)
        }
        return time
    }

    /// luxon's `parseMillis`: `Math.floor(parseFloat("0." + digits) * 1000)`. For up to six digits this
    /// is plain truncation; for very long fractions it can reach 1000, which luxon then rejects.
    private static func luxonMilliseconds(fraction: ArraySlice<UInt8>) -> Int64 {
        let value = Double("0." + String(decoding: fraction, as: UTF8.self)) ?? 0
        return Int64((value * 1000).rounded(.down))
    }

    // MARK: Validation

    /// luxon's validity rules, then the instant; hour 24 is allowed only as `24:00:00.000`.
    private static func resolve(date: DatePart, time: TimePart) -> EventTimestamp? {
        let days: Int64
        switch date {
        case .calendar(let year, let month, let day):
            guard (1...12).contains(month), day >= 1, day <= CivilDateTime.daysInMonth(year: year, month: month)
            else { return nil }
            days = CivilDateTime.days(year: year, month: month, day: day)
        case .week(let weekYear, let week, let weekday):
            guard week >= 1, week <= CivilDateTime.isoWeeksInYear(weekYear), (1...7).contains(weekday) else {
                return nil
            }
            days = CivilDateTime.firstDayOfISOWeekYear(weekYear) + (week - 1) * 7 + (weekday - 1)
        case .ordinal(let year, let dayOfYear):
            guard dayOfYear >= 1, dayOfYear <= CivilDateTime.daysInYear(year) else { return nil }
            days = CivilDateTime.days(year: year, month: 1, day: 1) + dayOfYear - 1
        }
        let isMidnightAtEnd = time.hour == 24 && time.minute == 0 && time.second == 0 && time.millisecond == 0
        guard (0...23).contains(time.hour) || isMidnightAtEnd, (0...59).contains(time.minute),
            (0...59).contains(time.second), (0...999).contains(time.millisecond)
        else { return nil }
        let wallClock =
            days * 86_400_000 + time.hour * 3_600_000 + time.minute * 60_000 + time.second * 1000 + time.millisecond
        let milliseconds = wallClock - (time.offsetMinutes ?? 0) * 60_000
        guard EventTimestamp.validRange.contains(milliseconds) else { return nil }
        return EventTimestamp(millisecondsSince1970: milliseconds)
    }

    // MARK: Scanning

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    @discardableResult
    private mutating func skip(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func parseDigits(_ count: Int) -> Int64? {
        guard index + count <= bytes.count else { return nil }
        var value: Int64 = 0
        for offset in 0..<count {
            let byte = bytes[index + offset]
            guard Self.isDigit(byte) else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        index += count
        return value
    }

    private mutating func parseOptionallyHyphenated(digits: Int) -> Int64? {
        parseOptionally(UInt8(ascii: "-"), digits: digits)
    }

    /// `separator?` followed by exactly `digits` digits; consumes nothing when that is not there.
    private mutating func parseOptionally(_ separator: UInt8, digits: Int) -> Int64? {
        let start = index
        skip(separator)
        if let value = parseDigits(digits) { return value }
        index = start
        return nil
    }
}
