import Testing

@testable import PostHogEvents

@Suite struct TimestampResolverTests {
    private func at(_ text: String) throws -> EventTimestamp {
        try #require(EventTimestamp.parseISO8601(text))
    }

    @Test("timestamp with sent_at is corrected by the server's receive time")
    func skewCorrection() throws {
        let result = try TimestampResolver.resolve(
            timestamp: "2021-05-11T10:00:00.000Z", offset: nil, now: at("2021-05-11T10:00:10.000Z"),
            sentAt: at("2021-05-11T10:00:05.000Z"))
        #expect(result.isoString == "2021-05-11T10:00:05.000Z")
    }

    @Test("offset is subtracted from now, with or without sent_at")
    func offsetRule() throws {
        let now = try at("2020-01-01T12:00:05.200Z")
        for sentAt in [now, nil] {
            let result = try TimestampResolver.resolve(timestamp: nil, offset: 150, now: now, sentAt: sentAt)
            #expect(result.isoString == "2020-01-01T12:00:05.050Z")
        }
        // A numeric string works as Number() reads it; fractional milliseconds are truncated.
        #expect(
            try TimestampResolver.resolve(timestamp: nil, offset: "150", now: now, sentAt: nil).isoString
                == "2020-01-01T12:00:05.050Z")
        #expect(
            try TimestampResolver.resolve(timestamp: nil, offset: " 1.5e2 ", now: now, sentAt: nil).isoString
                == "2020-01-01T12:00:05.050Z")
        #expect(
            try TimestampResolver.resolve(timestamp: nil, offset: 150.5, now: now, sentAt: nil).isoString
                == "2020-01-01T12:00:05.049Z")
        #expect(
            try TimestampResolver.resolve(timestamp: nil, offset: -100, now: now, sentAt: nil).isoString
                == "2020-01-01T12:00:05.300Z")
    }

    @Test("offset 0, empty and absent timestamps fall through to now")
    func fallsThroughToNow() throws {
        let now = try at("2020-01-01T12:00:05.200Z")
        #expect(try TimestampResolver.resolve(timestamp: nil, offset: nil, now: now, sentAt: nil) == now)
        #expect(try TimestampResolver.resolve(timestamp: "", offset: 0, now: now, sentAt: now) == now)
        #expect(try TimestampResolver.resolve(timestamp: .null, offset: .null, now: now, sentAt: nil) == now)
        #expect(try TimestampResolver.resolve(timestamp: nil, offset: "", now: now, sentAt: nil) == now)
    }

    @Test("a non-numeric offset is rejected")
    func badOffset() throws {
        let now = try at("2020-01-01T12:00:05.200Z")
        for offset: JSON in ["abc", true, ["a": 1], "0x", "1e", "Infinity", .number(.infinity)] {
            #expect(throws: EventDataError.self, "\(offset)") {
                try TimestampResolver.resolve(timestamp: nil, offset: offset, now: now, sentAt: nil)
            }
        }
        do {
            _ = try TimestampResolver.resolve(timestamp: nil, offset: "abc", now: now, sentAt: nil)
        } catch {
            #expect(error.code == .invalidOffset)
            #expect(error.field == "offset")
        }
    }

    @Test("capture sent_at: timestamp and sent_at a day ahead land 10 minutes before now")
    func captureSentAt() throws {
        // Row 5 of the process-event checklist, with a fixed R.
        let now = try at("2021-05-11T10:00:00.000Z")
        let timestamp = "2021-05-12T12:00:00.000Z"  // R + 1d 2h
        let sentAt = try at("2021-05-12T12:10:00.000Z")  // R + 1d 2h 10m
        let result = try TimestampResolver.resolve(timestamp: .string(timestamp), offset: nil, now: now, sentAt: sentAt)
        let secondsBefore = (now.millisecondsSince1970 - result.millisecondsSince1970) / 1000
        #expect((590...610).contains(secondsBefore))
        #expect(result.isoString == "2021-05-11T09:50:00.000Z")
    }

    @Test("capture sent_at no timezones: both in +04:00 give the same result")
    func captureSentAtOffsets() throws {
        // Row 6: the same instants as row 5, written in UTC+4.
        let now = try at("2021-05-11T10:00:00.000Z")
        let sentAt = try at("2021-05-12T16:10:00.000+04:00")
        let result = try TimestampResolver.resolve(
            timestamp: "2021-05-12T16:00:00.000+04:00", offset: nil, now: now, sentAt: sentAt)
        #expect(result.isoString == "2021-05-11T09:50:00.000Z")
    }

    @Test("capture no sent_at: the timestamp is used as given")
    func captureNoSentAt() throws {
        // Row 7.
        let now = try at("2021-05-11T10:00:00.000Z")
        let result = try TimestampResolver.resolve(
            timestamp: "2021-05-12T12:00:00.000Z", offset: 150, now: now, sentAt: nil)
        #expect(result.isoString == "2021-05-12T12:00:00.000Z")
    }

    @Test("an unparsable or non-string timestamp is rejected instead of stored as invalid")
    func invalidTimestamp() throws {
        let now = try at("2021-05-11T10:00:00.000Z")
        for timestamp: JSON in ["not a date", "2021-05-11 10:00:00", 1_620_727_200_000, true, ["a": 1]] {
            #expect(throws: EventDataError.self, "\(timestamp)") {
                try TimestampResolver.resolve(timestamp: timestamp, offset: nil, now: now, sentAt: now)
            }
        }
        do {
            _ = try TimestampResolver.resolve(timestamp: "nope", offset: nil, now: now, sentAt: nil)
        } catch {
            #expect(error.code == .invalidTimestamp)
            #expect(error.field == "timestamp")
        }
    }

    @Test("sent_at: truthy parsable strings and tagged datetimes; anything else is absent")
    func sentAtParsing() throws {
        #expect(TimestampResolver.parseSentAt("2021-05-11T10:00:00.500000Z") == (try at("2021-05-11T10:00:00.500Z")))
        let tagged: JSON = ["__type__": "datetime", "__value__": "2021-05-11T10:00:00.500000+00:00"]
        #expect(TimestampResolver.parseSentAt(tagged) == (try at("2021-05-11T10:00:00.500Z")))
        for absent: JSON? in [nil, .null, "", [:], "garbage", 5] {
            #expect(TimestampResolver.parseSentAt(absent) == nil, "\(String(describing: absent))")
        }
    }

    @Test("Kombu tagged datetimes unwrap to their string; other values are unchanged")
    func unwrapTagged() throws {
        let datetime: JSON = ["__type__": "datetime", "__value__": "2021-05-11T10:00:00.500000+00:00"]
        #expect(TimestampResolver.unwrapTaggedDatetime(datetime) == "2021-05-11T10:00:00.500000+00:00")
        let date: JSON = ["__type__": "date", "__value__": "2021-05-11"]
        #expect(TimestampResolver.unwrapTaggedDatetime(date) == "2021-05-11")
        let unchanged: [JSON] = [
            ["__type__": "decimal", "__value__": "1.5"], ["__type__": "datetime"],
            ["__type__": "datetime", "__value__": 5],
            "2021-05-11", .null, 5,
        ]
        for value in unchanged { #expect(TimestampResolver.unwrapTaggedDatetime(value) == value) }
        // A tagged timestamp resolves like its string.
        let now = try at("2021-05-11T10:00:10.000Z")
        #expect(
            try TimestampResolver.resolve(timestamp: date, offset: nil, now: now, sentAt: nil).isoString
                == "2021-05-11T00:00:00.000Z")
    }
}
