/// The four string forms the original wrote (ingestion.md §5.4, wire-formats.md §6), all in UTC.
extension EventTimestamp {
    /// `2021-05-11T10:00:05.000Z`: Postgres rows, as luxon's `toISO()` / `Date.toISOString()`.
    public var isoString: String { format(dateTimeSeparator: "T", milliseconds: true) + "Z" }

    /// `2021-05-11 10:00:05.000`: Kafka events, session recordings, new persons.
    public var clickHouseString: String { format(dateTimeSeparator: " ", milliseconds: true) }

    /// `2021-05-11 10:00:05`: Kafka person updates.
    public var clickHouseSecondsString: String { format(dateTimeSeparator: " ", milliseconds: false) }

    /// `2021-05-11T10:00:05.000+00:00`: the ee webhook payload (the original's local zone was UTC).
    public var webhookString: String { format(dateTimeSeparator: "T", milliseconds: true) + "+00:00" }

    private func format(dateTimeSeparator: Character, milliseconds: Bool) -> String {
        let civil = CivilDateTime(millisecondsSince1970: millisecondsSince1970)
        var text = ""
        text.reserveCapacity(29)
        // Years outside 0...9999 use ISO's expanded six-digit form with a sign, as JavaScript does.
        if civil.year < 0 || civil.year > 9999 {
            text.append(civil.year < 0 ? "-" : "+")
            Self.append(abs(civil.year), width: 6, to: &text)
        } else {
            Self.append(civil.year, width: 4, to: &text)
        }
        text.append("-")
        Self.append(civil.month, width: 2, to: &text)
        text.append("-")
        Self.append(civil.day, width: 2, to: &text)
        text.append(dateTimeSeparator)
        Self.append(civil.hour, width: 2, to: &text)
        text.append(":")
        Self.append(civil.minute, width: 2, to: &text)
        text.append(":")
        Self.append(civil.second, width: 2, to: &text)
        if milliseconds {
            text.append(".")
            Self.append(civil.millisecond, width: 3, to: &text)
        }
        return text
    }

    private static func append(_ value: Int64, width: Int, to text: inout String) {
        let digits = String(value)
        if digits.count < width { text.append(String(repeating: "0", count: width - digits.count)) }
        text.append(digits)
    }
}
