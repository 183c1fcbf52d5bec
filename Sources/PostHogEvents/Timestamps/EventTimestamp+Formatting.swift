/// The four string forms the original wrote (ingestion.md §5.4, wire-formats.md §6), all in UTC.
extension EventTimestamp {
    /// `2021-05-11T10:00:05.000Z`: Postgres rows, as luxon's `toISO()` / `Date.toISOString()`.
    public var isoString: String { format(dateTimeSeparator: UInt8(ascii: "T"), milliseconds: true, suffix: "Z") }

    /// `2021-05-11 10:00:05.000`: Kafka events, session recordings, new persons.
    public var clickHouseString: String { format(dateTimeSeparator: UInt8(ascii: " "), milliseconds: true, suffix: "") }

    /// `2021-05-11 10:00:05`: Kafka person updates.
    public var clickHouseSecondsString: String { format(dateTimeSeparator: UInt8(ascii: " "), milliseconds: false, suffix: "") }

    /// `2021-05-11T10:00:05.000+00:00`: the ee webhook payload (the original's local zone was UTC).
    public var webhookString: String { format(dateTimeSeparator: UInt8(ascii: "T"), milliseconds: true, suffix: "+00:00") }

    /// Written as ASCII bytes into the string's own storage: formatted once or more per event.
    private func format(dateTimeSeparator: UInt8, milliseconds: Bool, suffix: StaticString) -> String {
        let civil = CivilDateTime(millisecondsSince1970: millisecondsSince1970)
        return String(unsafeUninitializedCapacity: 40) { buffer in
            var count = 0
            func put(_ byte: UInt8) {
                buffer[count] = byte
                count += 1
            }
            func put(_ value: Int64, width: Int) {
                var divisor: Int64 = 1
                for _ in 1..<width { divisor *= 10 }
                var rest = value
                while divisor > 0 {
                    put(UInt8(ascii: "0") + UInt8(rest / divisor))
                    rest %= divisor
                    divisor /= 10
                }
            }
            // Years outside 0...9999 use ISO's expanded six-digit form with a sign, as JavaScript does.
            if civil.year < 0 || civil.year > 9999 {
                put(civil.year < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
                put(abs(civil.year), width: 6)
            } else {
                put(civil.year, width: 4)
            }
            put(UInt8(ascii: "-"))
            put(civil.month, width: 2)
            put(UInt8(ascii: "-"))
            put(civil.day, width: 2)
            put(dateTimeSeparator)
            put(civil.hour, width: 2)
            put(UInt8(ascii: ":"))
            put(civil.minute, width: 2)
            put(UInt8(ascii: ":"))
            put(civil.second, width: 2)
            if milliseconds {
                put(UInt8(ascii: "."))
                put(civil.millisecond, width: 3)
            }
            suffix.withUTF8Buffer { for byte in $0 { put(byte) } }
            return count
        }
    }
}
