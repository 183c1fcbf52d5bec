import Testing

@testable import PostHogEvents

@Suite struct EventTimestampParsingTests {
    private func iso(_ text: String) -> String? { EventTimestamp.parseISO8601(text)?.isoString }

    @Test("calendar dates with and without time, fraction and offset")
    func calendarForms() {
        #expect(iso("2021-05-11") == "2021-05-11T00:00:00.000Z")
        #expect(iso("2021-05") == "2021-05-01T00:00:00.000Z")
        #expect(iso("2021") == "2021-01-01T00:00:00.000Z")
        #expect(iso("2021-05-11T10:00") == "2021-05-11T10:00:00.000Z")
        #expect(iso("2021-05-11T10") == "2021-05-11T10:00:00.000Z")
        #expect(iso("2021-05-11T10:00:05") == "2021-05-11T10:00:05.000Z")
        #expect(iso("2021-05-11T10:00:05.123Z") == "2021-05-11T10:00:05.123Z")
        #expect(iso("2021-05-11T10:00:05.1Z") == "2021-05-11T10:00:05.100Z")
        #expect(iso("2021-05-11T10:00:05,25Z") == "2021-05-11T10:00:05.250Z")
        #expect(iso("2021-05-11T10:00:05.000+02") == "2021-05-11T08:00:05.000Z")
        #expect(iso("2021-05-11T10:00:05.000+0230") == "2021-05-11T07:30:05.000Z")
        #expect(iso("2021-05-11T10:00:05.000+02:30") == "2021-05-11T07:30:05.000Z")
        #expect(iso("2021-05-11T10:00:05.000-04:00") == "2021-05-11T14:00:05.000Z")
        #expect(iso("2021-05-11T01:00:00-03:30") == "2021-05-11T04:30:00.000Z")
        #expect(iso("2021-05-11T10:00Z") == "2021-05-11T10:00:00.000Z")
        #expect(iso("+002021-05-11T10:00:00Z") == "2021-05-11T10:00:00.000Z")
    }

    @Test("what Python's isoformat() and the Celery 4 producer write is accepted")
    func pythonForms() {
        #expect(iso("2021-05-11T10:00:01.123456+00:00") == "2021-05-11T10:00:01.123Z")
        #expect(iso("2021-05-11T10:00:00.500000Z") == "2021-05-11T10:00:00.500Z")
        #expect(iso("2021-05-11T10:00:01+00:00") == "2021-05-11T10:00:01.000Z")
        #expect(iso("2021-05-11T10:00:01.123456") == "2021-05-11T10:00:01.123Z")
        #expect(iso("2021-05-11T10:00:01.123456-05:00") == "2021-05-11T15:00:01.123Z")
    }

    @Test("fraction digits beyond milliseconds are truncated, not rounded")
    func truncation() {
        #expect(iso("2021-05-11T10:00:05.123456Z") == "2021-05-11T10:00:05.123Z")
        #expect(iso("2021-05-11T10:00:05.999999Z") == "2021-05-11T10:00:05.999Z")
        #expect(iso("2021-05-11T10:00:05.0009Z") == "2021-05-11T10:00:05.000Z")
        #expect(iso("2021-05-11T10:00:05.123456789012345678901234567890Z") == "2021-05-11T10:00:05.123Z")
    }

    @Test("basic format, week dates and ordinal dates")
    func otherForms() {
        #expect(iso("20200223T021500Z") == "2020-02-23T02:15:00.000Z")
        #expect(iso("20200223T0215") == "2020-02-23T02:15:00.000Z")
        #expect(iso("20200223") == "2020-02-23T00:00:00.000Z")
        #expect(iso("2020-W08-7T10:00:00Z") == "2020-02-23T10:00:00.000Z")
        #expect(iso("2020W087") == "2020-02-23T00:00:00.000Z")
        #expect(iso("2020-W08") == "2020-02-17T00:00:00.000Z")
        #expect(iso("2020-W01-1") == "2019-12-30T00:00:00.000Z")
        #expect(iso("2020-W53-7") == "2021-01-03T00:00:00.000Z")
        #expect(iso("2020-054T10:00:00Z") == "2020-02-23T10:00:00.000Z")
        #expect(iso("2020054") == "2020-02-23T00:00:00.000Z")
        #expect(iso("2020-366") == "2020-12-31T00:00:00.000Z")
    }

    @Test("hour 24 is the next midnight")
    func hour24() {
        #expect(iso("2020-12-31T24:00:00Z") == "2021-01-01T00:00:00.000Z")
        #expect(iso("2020-02-28T24:00") == "2020-02-29T00:00:00.000Z")
        #expect(iso("2020-02-28T24:00:01") == nil)
        #expect(iso("2020-02-28T24:01") == nil)
    }

    @Test("forms luxon rejects are rejected")
    func rejected() {
        let rejected = [
            "2021-05-11 10:00:05", "2021-05-11t10:00:05Z", "2021-05-11T10:00:05z", " 2021-05-11T10:00:05Z",
            "2021-05-11T10:00:05Z ", "2021-05-11T10:00:60Z", "2021-05-11T25:00:00Z", "2021-05-11T10:60:00Z",
            "2021-13-01", "2021-00-10", "2021-02-29", "2021-04-31", "2021-05-00", "2021-367", "2021-000",
            "2021-W54", "2021-W53", "2020-W00", "2020-W08-8", "2020-W08-0", "1620727200000", "", "T10:00",
            "10:00", "2021-05-11T", "2021-05-11T10:00:05.Z", "2021-05-11Z", "2021-05-11T10:00:05+2",
            "2021-05-11T1:00", "21-05-11", "2021-5-11", "2021-05-11T10:00:05.1234567890123456789012345678901Z",
            "2021-05-11T10:00:05 Z", "２０２１-05-11",
        ]
        for text in rejected {
            #expect(EventTimestamp.parseISO8601(text) == nil, "\(text)")
        }
    }

    @Test("dates at and beyond the JavaScript Date range")
    func range() {
        #expect(iso("-000001-01-01T00:00:00Z") == "-000001-01-01T00:00:00.000Z")
        #expect(iso("+275760-09-13T00:00:00Z") == "+275760-09-13T00:00:00.000Z")
        #expect(EventTimestamp.parseISO8601("+275760-09-13T00:00:00.001Z") == nil)
        #expect(iso("0099-01-01") == "0099-01-01T00:00:00.000Z")
    }
}

@Suite struct EventTimestampFormattingTests {
    @Test("the four output formats")
    func formats() throws {
        let timestamp = try #require(EventTimestamp.parseISO8601("2021-05-11T10:00:05.000Z"))
        #expect(timestamp.millisecondsSince1970 == 1_620_727_205_000)
        #expect(timestamp.isoString == "2021-05-11T10:00:05.000Z")
        #expect(timestamp.clickHouseString == "2021-05-11 10:00:05.000")
        #expect(timestamp.clickHouseSecondsString == "2021-05-11 10:00:05")
        #expect(timestamp.webhookString == "2021-05-11T10:00:05.000+00:00")

        let other = EventTimestamp(millisecondsSince1970: 1_577_880_005_050)
        #expect(other.isoString == "2020-01-01T12:00:05.050Z")
        #expect(other.clickHouseString == "2020-01-01 12:00:05.050")
        #expect(other.clickHouseSecondsString == "2020-01-01 12:00:05")
        #expect(other.webhookString == "2020-01-01T12:00:05.050+00:00")
    }

    @Test("epoch, leap days and times before 1970 format correctly")
    func calendarEdges() {
        #expect(EventTimestamp(millisecondsSince1970: 0).isoString == "1970-01-01T00:00:00.000Z")
        #expect(EventTimestamp(millisecondsSince1970: -1).isoString == "1969-12-31T23:59:59.999Z")
        #expect(EventTimestamp(millisecondsSince1970: 951_782_400_000).isoString == "2000-02-29T00:00:00.000Z")
        #expect(EventTimestamp(millisecondsSince1970: 253_402_300_799_999).isoString == "9999-12-31T23:59:59.999Z")
    }

    @Test("formatting and parsing round-trip across many instants")
    func roundTrip() {
        var value: Int64 = -62_135_596_800_000  // 0001-01-01
        while value < 253_402_300_799_999 {
            let timestamp = EventTimestamp(millisecondsSince1970: value)
            #expect(EventTimestamp.parseISO8601(timestamp.isoString) == timestamp)
            value += 7_777_777_777_777
        }
    }

    @Test("now is close to the system clock and ordered")
    func now() {
        let first = EventTimestamp.now()
        let second = EventTimestamp.now()
        #expect(first <= second)
        #expect(first.millisecondsSince1970 > 1_600_000_000_000)
    }
}
