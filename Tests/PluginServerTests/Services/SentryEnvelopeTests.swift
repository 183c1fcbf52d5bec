import PostHogEvents
import Testing

@testable import PluginServer

@Suite struct SentryEnvelopeTests {
    @Test("a DSN gives the envelope endpoint and the auth header")
    func dsn() throws {
        let dsn = try #require(SentryDSN("https://abc123@o1.ingest.sentry.io/4506"))
        #expect(dsn.envelopeURL == "https://o1.ingest.sentry.io/api/4506/envelope/")
        #expect(dsn.authHeader(client: "c/1") == "Sentry sentry_version=7, sentry_client=c/1, sentry_key=abc123")
        let withPath = try #require(SentryDSN("http://key:secret@127.0.0.1:9000/sentry/7"))
        #expect(withPath.envelopeURL == "http://127.0.0.1:9000/sentry/api/7/envelope/")
        #expect(withPath.authHeader(client: "c/1").hasSuffix("sentry_key=key, sentry_secret=secret"))
    }

    @Test("a DSN without key, host or project is rejected, and so is the setting")
    func invalidDSN() {
        #expect(SentryDSN("https://sentry.io/1") == nil)
        #expect(SentryDSN("https://key@sentry.io/") == nil)
        #expect(SentryDSN("not a dsn") == nil)
        #expect(throws: ConfigError.self) { _ = try ServerSettings(environment: ["SENTRY_DSN": "nope"]) }
    }

    @Test("an envelope is a header, an item header with the payload's length, and the event with tags and extra")
    func envelope() throws {
        let dsn = try #require(SentryDSN("https://key@sentry.example/3"))
        let report = SentryReport(
            type: "TypeError", message: "x is undefined", tags: ["plugin_config_id": "12", "team_id": "2"],
            extra: ["event": ["event": "pageview"]])
        let text = String(
            decoding: report.envelope(dsn: dsn, release: "r@1", serverName: "host", defaultTags: ["instance_id": "i"]), as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        let header = try JSON(parsing: lines[0])
        let item = try JSON(parsing: lines[1])
        let event = try JSON(parsing: lines[2])
        #expect(header["event_id"] == .string(report.eventId))
        #expect(header["dsn"] == "https://key@sentry.example/3")
        #expect(item["type"] == "event")
        #expect(item["length"]?.intValue == lines[2].utf8.count)
        #expect(event["tags"] == ["instance_id": "i", "plugin_config_id": "12", "team_id": "2"])
        #expect(event["exception"] == ["values": [["type": "TypeError", "value": "x is undefined"]]])
        #expect(event["extra"]?["event"]?["event"] == "pageview")
        #expect(event["release"] == "r@1")
        #expect(report.eventId.count == 32)
    }
}
