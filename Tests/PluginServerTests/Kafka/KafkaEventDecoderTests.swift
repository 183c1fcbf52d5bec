import PostHogEvents
import Testing

@testable import PluginServer

@Suite struct KafkaEventDecoderTests {
    static let django = #"""
        {"uuid": "01795ade-7900-0000-5e6a-e5a1b6c1f9a2", "distinct_id": "my-id", "ip": "127.0.0.1", "site_url": "http://localhost:8000", "data": "{\"event\": \"$pageview\", \"properties\": {\"distinct_id\": \"my-id\"}, \"timestamp\": \"2021-05-11T10:00:00.000Z\"}", "team_id": 2, "now": "2021-05-11T10:00:01.123456+00:00", "sent_at": "2021-05-11T10:00:00.500000+00:00"}
        """#

    @Test("Django's raw event message becomes the flat event: envelope fields, then the data's keys")
    func djangoMessage() throws {
        let event = try KafkaEventDecoder.event(from: Array(Self.django.utf8))
        #expect(event.keys == ["uuid", "distinct_id", "ip", "site_url", "team_id", "now", "sent_at", "event", "properties", "timestamp"])
        #expect(event["uuid"] == "01795ade-7900-0000-5e6a-e5a1b6c1f9a2")
        #expect(event["event"] == "$pageview")
        #expect(event["properties"] == ["distinct_id": "my-id"])
        #expect(event["team_id"] == 2)
        #expect(event["ip"] == "127.0.0.1")
        #expect(event["now"] == "2021-05-11T10:00:01.123456+00:00")
        #expect(event["sent_at"] == "2021-05-11T10:00:00.500000+00:00")
    }

    @Test("data wins over the envelope except for team_id; falsy ip and site_url are null; empty sent_at is none")
    func precedence() throws {
        let message: JSON = [
            "uuid": "envelope", "distinct_id": 42, "ip": "", "site_url": "", "team_id": 2, "now": "2021-05-11T10:00:01Z", "sent_at": "",
            "data": .string(#"{"uuid": "data", "team_id": 99, "event": "e"}"#),
        ]
        let event = try KafkaEventDecoder.event(from: message.jsonBytes)
        #expect(event["uuid"] == "data")
        #expect(event["team_id"] == 2)
        #expect(event["ip"] == .null && event["site_url"] == .null)
        #expect(event["sent_at"] == .null)
        #expect(event["distinct_id"] == "42")
    }

    @Test(
        "malformed messages are rejected with a reason",
        arguments: [
            ("not json", "not valid JSON"), ("[1]", "not a JSON object"), (#"{"data": "{}"}"#, "team_id"),
            (#"{"team_id": 2, "data": {"event": "e"}}"#, "data is missing or not a string"),
            (#"{"team_id": 2, "data": "{nope"}"#, "data is not valid JSON"),
            (#"{"team_id": 2, "data": "[]"}"#, "does not hold a JSON object"),
        ])
    func malformed(_ input: String, _ reason: String) {
        #expect {
            _ = try KafkaEventDecoder.event(from: Array(input.utf8))
        } throws: { error in
            (error as? KafkaDecodingError)?.reason.contains(reason) == true
        }
    }
}
