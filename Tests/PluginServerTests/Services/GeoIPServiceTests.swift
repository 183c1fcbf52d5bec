import Foundation
import PluginRuntime
import Testing

@testable import PluginServer

@Suite struct GeoIPServiceTests {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test("the age comes from the ISO date in the file name, rounded like Math.round")
    func age() {
        let name = "GeoLite2-City-2021-06-01.mmdb.br"
        #expect(MMDBAttachment.ageInDays(fileName: name, now: Self.date("2021-06-01T11:59:00Z"), calendar: Self.utc) == 0)
        #expect(MMDBAttachment.ageInDays(fileName: name, now: Self.date("2021-06-01T12:00:00Z"), calendar: Self.utc) == 1)
        #expect(MMDBAttachment.ageInDays(fileName: name, now: Self.date("2021-07-16T00:00:00Z"), calendar: Self.utc) == 45)
        #expect(MMDBAttachment.ageInDays(fileName: "GeoLite2-City.mmdb.br", now: Date()) == nil)
    }

    @Test("older than 45 days, or without a date, is stale")
    func staleness() {
        let name = "GeoLite2-City-2021-06-01.mmdb.br"
        #expect(!MMDBAttachment.isStale(fileName: name, now: Self.date("2021-07-16T11:00:00Z"), calendar: Self.utc))
        #expect(MMDBAttachment.isStale(fileName: name, now: Self.date("2021-07-16T12:00:00Z"), calendar: Self.utc))
        #expect(MMDBAttachment.isStale(fileName: "GeoLite2-City.mmdb.br", now: Date()))
    }

    @Test("the staleness check runs at minute 0 of every fourth hour")
    func schedule() {
        #expect(GeoIPService.nextCheck(after: Self.date("2021-06-01T10:17:00Z"), calendar: Self.utc) == Self.date("2021-06-01T12:00:00Z"))
        #expect(GeoIPService.nextCheck(after: Self.date("2021-06-01T12:00:00Z"), calendar: Self.utc) == Self.date("2021-06-01T16:00:00Z"))
        #expect(GeoIPService.nextCheck(after: Self.date("2021-06-01T23:59:59Z"), calendar: Self.utc) == Self.date("2021-06-02T00:00:00Z"))
    }

    @Test("the file name is the quoted one of Content-Disposition")
    func contentDisposition() {
        #expect(
            MMDBDownloader.fileName(contentDisposition: #"attachment; filename="GeoLite2-City-2021-06-01.mmdb""#)
                == "GeoLite2-City-2021-06-01.mmdb")
        #expect(MMDBDownloader.fileName(contentDisposition: "attachment") == nil)
        #expect(MMDBDownloader.fileName(contentDisposition: #"attachment; filename="""#) == nil)
    }

    @Test("the status key holds JSON strings; anything else reads as idle")
    func status() {
        #expect(MMDBStatus(stored: "\"fetching\"") == .fetching)
        #expect(MMDBStatus(stored: "\"unavailable\"") == .unavailable)
        #expect(MMDBStatus(stored: nil) == .idle)
        #expect(MMDBStatus(stored: "garbage") == .idle)
        #expect(MMDBStatus.fetching.stored == "\"fetching\"")
    }

    @Test("MMDB_ENDPOINT defaults to the original's and must be an http(s) URL")
    func endpointSetting() throws {
        #expect(try ServerSettings(environment: [:]).observability.mmdbEndpoint == "https://mmdb.posthog.net/")
        #expect(
            try ServerSettings(environment: ["MMDB_ENDPOINT": "http://127.0.0.1:8000/"]).observability.mmdbEndpoint
                == "http://127.0.0.1:8000/")
        let error = #expect(throws: ConfigError.self) { try ServerSettings(environment: ["MMDB_ENDPOINT": "ftp://example"]) }
        #expect(error?.problems.map(\.variable) == ["MMDB_ENDPOINT"])
    }

    @Test("without a database locate rejects with the original's message; disabled never prepares")
    func locatorStates() async {
        let disabled = GeoIPLocator(enabled: false)
        #expect(!disabled.isPreparing)
        #expect(throws: PluginHostError(GeoIPLocator.unavailableMessage)) { try disabled.locate("89.160.20.129") }
        let enabled = GeoIPLocator(enabled: true)
        #expect(enabled.isPreparing)
        enabled.finishPreparing()
        await enabled.waitUntilPrepared()
        #expect(throws: PluginHostError(GeoIPLocator.unavailableMessage)) { try enabled.locate("89.160.20.129") }
        #expect(GeoIPLineServer.reply(to: "89.160.20.129", locator: enabled) == "\"\(GeoIPLocator.unavailableMessage)\"")
    }
}
