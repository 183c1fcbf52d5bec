/// Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01), valid for any
/// year a JavaScript `Date` can hold. Used instead of `Calendar` so the hot path allocates nothing.
struct CivilDateTime: Hashable {
    var year: Int64
    var month: Int64  // 1...12
    var day: Int64  // 1...31
    var hour: Int64
    var minute: Int64
    var second: Int64
    var millisecond: Int64

    init(year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64, millisecond: Int64) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.millisecond = millisecond
    }

    init(millisecondsSince1970 milliseconds: Int64) {
        let (days, millisecondOfDay) = Self.floorDivide(milliseconds, 86_400_000)
        (year, month, day) = Self.civil(fromDays: days)
        hour = millisecondOfDay / 3_600_000
        minute = millisecondOfDay / 60_000 % 60
        second = millisecondOfDay / 1000 % 60
        millisecond = millisecondOfDay % 1000
    }

    /// Milliseconds since 1970 of this wall time read as UTC. Hour 24 and such roll over, as in `Date.UTC`.
    var millisecondsSince1970: Int64 {
        Self.days(year: year, month: month, day: day) * 86_400_000 + hour * 3_600_000 + minute * 60_000
            + second * 1000 + millisecond
    }

    static func isLeapYear(_ year: Int64) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func daysInYear(_ year: Int64) -> Int64 { isLeapYear(year) ? 366 : 365 }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400).quotient
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = floorDivide(z, 146_097).quotient
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// ISO weekday of a day number: 1 = Monday … 7 = Sunday (1970-01-01 was a Thursday).
    static func isoWeekday(ofDays days: Int64) -> Int64 {
        floorDivide(days + 3, 7).remainder + 1
    }

    /// Number of ISO weeks (52 or 53) in an ISO week-numbering year.
    static func isoWeeksInYear(_ weekYear: Int64) -> Int64 {
        // A year has 53 weeks when it starts on a Thursday, or on a Wednesday in a leap year.
        let januaryFirst = isoWeekday(ofDays: days(year: weekYear, month: 1, day: 1))
        return januaryFirst == 4 || (januaryFirst == 3 && isLeapYear(weekYear)) ? 53 : 52
    }

    /// Day number of Monday of week 1 of an ISO week-numbering year (the week holding January 4).
    static func firstDayOfISOWeekYear(_ weekYear: Int64) -> Int64 {
        let january4 = days(year: weekYear, month: 1, day: 4)
        return january4 - (isoWeekday(ofDays: january4) - 1)
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> (quotient: Int64, remainder: Int64) {
        var quotient = a / b
        var remainder = a % b
        if remainder < 0 {
            quotient -= 1
            remainder += b
        }
        return (quotient, remainder)
    }
}
