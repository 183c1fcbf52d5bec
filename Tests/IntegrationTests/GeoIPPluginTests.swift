import Foundation
import PostHogEvents
import RedisClient
import Testing

/// `meta.geoip.locate` through the real binary: the database from posthog_pluginattachment or from a
/// download endpoint on loopback, coordinated through the Redis status key.
@Suite(.serialized) struct GeoIPPluginTests {
    static let fixture = TestEnvironment.packageRoot.appendingPathComponent("Tests/GeoIPTests/Fixtures/GeoLite2-City-Test.mmdb.br")
    static let statusKey = "@posthog-plugin-server/mmdb-status"
    static let unavailable = "IP location capabilities are not available in this PostHog instance!"

    /// Copies what the plugin found into the event, the way the public GeoIP plugins read the response.
    static let locatingPlugin = """
        export async function processEvent(event, { geoip }) {
            const response = await geoip.locate(event.ip)
            event.properties.located = response !== null
            if (response) {
                event.properties.city = response.city.names.en
                event.properties.country = response.country.names.en
                event.properties.country_code = response.country.isoCode
                event.properties.continent = response.continent.code
                event.properties.time_zone = response.location.timeZone
                event.properties.latitude = response.location.latitude
                event.properties.subdivision = response.subdivisions[0].isoCode
                event.properties.network = response.traits.network
            }
            event.properties.unknown = await geoip.locate('10.0.0.1')
            return event
        }
        """

    static func todayFileName() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return "GeoLite2-City-\(formatter.string(from: Date())).mmdb.br"
    }

    static func insertAttachment(_ database: TestDatabase, fileName: String) throws {
        let contents = try Data(contentsOf: fixture)
        let hex = contents.map { String(format: "%02x", $0) }.joined()
        try database.execute(
            """
            INSERT INTO posthog_pluginattachment (key, content_type, file_name, file_size, contents, plugin_config_id, team_id)
            VALUES ('@posthog/mmdb', 'vnd.maxmind.maxmind-db', '\(fileName)', \(contents.count), decode('\(hex)', 'hex'), NULL, NULL)
            """)
    }

    static func resetStatus(to value: String? = nil) async throws {
        let redis = try TestEnvironment.redisClient()
        _ = try await redis.send("DEL", [RedisArgument(statusKey)])
        if let value { _ = try await redis.send("SET", [RedisArgument(statusKey), RedisArgument(value), "EX", 120]) }
        await redis.close()
    }

    static func expectLinkoping(_ properties: JSON?, network: String = "89.160.20.128/25") {
        #expect(properties?["located"] == true)
        #expect(properties?["city"] == "Linköping")
        #expect(properties?["country"] == "Sweden")
        #expect(properties?["country_code"] == "SE")
        #expect(properties?["continent"] == "EU")
        #expect(properties?["time_zone"] == "Europe/Stockholm")
        #expect(properties?["latitude"] == 58.4167)
        #expect(properties?["subdivision"] == "E")
        #expect(properties?["network"] == .string(network))
        #expect(properties?["unknown"] == .null)
    }

    @Test("a plugin locates 89.160.20.129 as Linköping, Sweden from the stored attachment; the internal port answers too")
    func locatesFromStoredAttachment() async throws {
        try await Self.resetStatus()
        let download = try DownloadEndpoint()
        defer { download.stop() }
        let port = try freeLoopbackPort()
        let statsd = try await StatsDListener.start()
        let harness = try await IngestionHarness.start(
            environment: [
                "DISABLE_MMDB": "false", "MMDB_ENDPOINT": download.url, "INTERNAL_MMDB_SERVER_PORT": "\(port)",
                "STATSD_HOST": "127.0.0.1", "STATSD_PORT": "\(statsd.port)",
            ],
            prepare: { database in
                try Self.insertAttachment(database, fileName: Self.todayFileName())
                try PluginPipelineTests.installSourcePlugin(database, name: "geoip", source: Self.locatingPlugin)
            })
        try await harness.send(PluginPipelineTests.event("located"), ip: "89.160.20.129")
        let event = try #require(try harness.events().first, "\(harness.server.log)")
        Self.expectLinkoping(event["properties"])
        #expect(event["properties"]?["$plugins_failed"] == [])
        #expect(download.requests.isEmpty, "a fresh stored database is not downloaded again")

        // The internal port is a service of its own, started beside ingestion: wait until it listens.
        let listening = await eventually {
            (try? runCommand("python3", ["-c", "import socket; socket.create_connection(('127.0.0.1', \(port))).close()"])) != nil
        }
        #expect(listening, "\(harness.server.log)")
        let reply = try runCommand(
            "python3",
            [
                "-c",
                "import socket; s = socket.create_connection(('127.0.0.1', \(port))); s.sendall(b'89.160.20.129\\nnot an ip\\n');"
                    + " f = s.makefile(); print(f.readline(), end=''); print(f.readline(), end='')",
            ])
        let lines = reply.split(separator: "\n").map { try? JSON(parsing: String($0)) }
        #expect(lines.count == 2)
        #expect(lines.first??["city"]?["names"]?["en"] == "Linköping")
        #expect(lines.first??["traits"]?["ipAddress"] == "89.160.20.129")
        #expect(lines.last ?? nil == .null)
        // As the original's clients did: one address without a newline, then the write side closed.
        let single = try runCommand(
            "python3",
            [
                "-c",
                "import socket; s = socket.create_connection(('127.0.0.1', \(port))); s.sendall(b'2001:218::1');"
                    + " s.shutdown(socket.SHUT_WR); print(s.makefile().read(), end='')",
            ])
        #expect((try? JSON(parsing: single))?["country"]?["isoCode"] == "JP")
        // Each of the three lookups served on the port is timed.
        let timed = await eventually {
            statsd.lines.compactMap(StatsDLine.init).filter { $0.name == "plugin-server.mmdb.internal_request" && $0.type == "ms" }.count
                == 3
        }
        #expect(timed, "received: \(statsd.lines.filter { $0.contains("mmdb") })")
        await harness.stop()
        await statsd.stop()
    }

    @Test("without an attachment the server downloads the database, stores it as the original did, marks the status idle and locates")
    func downloadsWhenMissing() async throws {
        try await Self.resetStatus()
        let download = try DownloadEndpoint()
        defer { download.stop() }
        let harness = try await IngestionHarness.start(
            environment: ["DISABLE_MMDB": "false", "MMDB_ENDPOINT": download.url],
            prepare: { database in try PluginPipelineTests.installSourcePlugin(database, name: "geoip", source: Self.locatingPlugin) })
        try await harness.send(PluginPipelineTests.event("located"), ip: "89.160.20.129")
        Self.expectLinkoping(try harness.events().first?["properties"])

        #expect(download.requests == ["/ identity"], "one download, without transfer compression")
        let fixture = try Data(contentsOf: Self.fixture)
        let rows = try harness.database.rows(
            """
            SELECT key, content_type, file_name, file_size, plugin_config_id, team_id, md5(contents) AS md5
            FROM posthog_pluginattachment
            """)
        #expect(
            rows == [
                [
                    "key": "@posthog/mmdb", "content_type": "vnd.maxmind.maxmind-db", "file_name": .string(Self.todayFileName()),
                    "file_size": .number(Double(fixture.count)), "plugin_config_id": nil, "team_id": nil,
                    "md5": .string(try runCommand("md5sum", [Self.fixture.path]).split(separator: " ")[0].description),
                ]
            ])
        let status = try await harness.redis.send("GET", [RedisArgument(Self.statusKey)]).string
        #expect(status == "\"idle\"")
        #expect(try await harness.redis.send("TTL", [RedisArgument(Self.statusKey)]).int == -1)
        await harness.stop()
    }

    @Test("a stale attachment is served at once and replaced by a download in the background")
    func refreshesStaleAttachment() async throws {
        try await Self.resetStatus()
        let download = try DownloadEndpoint()
        defer { download.stop() }
        let harness = try await IngestionHarness.start(
            environment: ["DISABLE_MMDB": "false", "MMDB_ENDPOINT": download.url],
            prepare: { database in
                try Self.insertAttachment(database, fileName: "GeoLite2-City-2020-01-01.mmdb.br")
                try PluginPipelineTests.installSourcePlugin(database, name: "geoip", source: Self.locatingPlugin)
            })
        try await harness.send(PluginPipelineTests.event("located"), ip: "89.160.20.129")
        Self.expectLinkoping(try harness.events().first?["properties"])
        let replaced = await eventually {
            (try? harness.database.rows("SELECT file_name FROM posthog_pluginattachment").map { $0["file_name"] }) == [
                .string(Self.todayFileName())
            ]
        }
        #expect(replaced, "\(harness.server.log)")
        #expect(download.requests.count == 1)
        await harness.stop()
    }

    @Test("while another instance downloads, the server waits and opens what that instance stored")
    func waitsForAnotherInstance() async throws {
        try await Self.resetStatus(to: "\"fetching\"")
        let download = try DownloadEndpoint()
        defer { download.stop() }
        let harness = try await IngestionHarness.start(
            environment: ["DISABLE_MMDB": "false", "MMDB_ENDPOINT": download.url],
            prepare: { database in try PluginPipelineTests.installSourcePlugin(database, name: "geoip", source: Self.locatingPlugin) })
        try await Task.sleep(for: .seconds(2))
        // The other instance finishes: its row, then the status.
        try Self.insertAttachment(harness.database, fileName: Self.todayFileName())
        _ = try await harness.redis.send("SET", [RedisArgument(Self.statusKey), "\"idle\""])
        try await harness.send(PluginPipelineTests.event("located"), ip: "89.160.20.129")
        Self.expectLinkoping(try harness.events().first?["properties"])
        #expect(download.requests.isEmpty)
        await harness.stop()
    }

    @Test("a shutdown signal while waiting for another instance's download stops the server at once")
    func stopsWhileWaiting() async throws {
        try await Self.resetStatus(to: "\"fetching\"")
        let harness = try await IngestionHarness.start(environment: ["DISABLE_MMDB": "false", "MMDB_ENDPOINT": "http://127.0.0.1:9/"])
        try await Task.sleep(for: .seconds(2))
        #expect(harness.server.isRunning)
        #expect(await harness.server.terminate(timeout: .seconds(10)) == 0, "\(harness.server.log)")
        await harness.stop()
        try await Self.resetStatus()
    }

    @Test("after a failed download elsewhere (status unavailable) locate rejects with the original's error")
    func unavailableAfterFailure() async throws {
        try await Self.resetStatus(to: "\"unavailable\"")
        let download = try DownloadEndpoint()
        defer { download.stop() }
        var configId = 0
        let harness = try await IngestionHarness.start(
            environment: ["DISABLE_MMDB": "false", "MMDB_ENDPOINT": download.url],
            prepare: { database in
                configId = try PluginPipelineTests.installSourcePlugin(database, name: "geoip", source: Self.locatingPlugin).1
            })
        try await harness.send(PluginPipelineTests.event("not located"), ip: "89.160.20.129")
        #expect(try harness.events().first?["event"] == "not located")
        #expect(
            try harness.database.scalar("SELECT error->>'message' FROM posthog_pluginconfig WHERE id = \(configId)")
                == .string(Self.unavailable))
        #expect(download.requests.isEmpty)
        await harness.stop()
        try await Self.resetStatus()
    }

    @Test("DISABLE_MMDB=true: locate rejects with the original's error, recorded as a plugin error, and ingestion continues")
    func disabled() async throws {
        try await Self.resetStatus()
        let download = try DownloadEndpoint()
        defer { download.stop() }
        var ids: [Int] = []
        let harness = try await IngestionHarness.start(
            environment: ["DISABLE_MMDB": "true", "MMDB_ENDPOINT": download.url],
            prepare: { database in
                try Self.insertAttachment(database, fileName: Self.todayFileName())
                ids.append(try PluginPipelineTests.installSourcePlugin(database, name: "geoip", order: 1, source: Self.locatingPlugin).1)
                ids.append(
                    try PluginPipelineTests.installSourcePlugin(
                        database, name: "after", order: 2, source: "function processEvent(e) { e.properties.after = true; return e }"
                    ).1)
            })
        try await harness.send(PluginPipelineTests.event("still ingested"), ip: "89.160.20.129")
        let event = try #require(try harness.events().first)
        #expect(event["event"] == "still ingested")
        #expect(event["properties"]?["after"] == true)
        #expect(event["properties"]?["located"] == nil)
        #expect(event["properties"]?["$plugins_failed"] == .array([.string("geoip (\(ids[0]))")]))
        let error = try harness.database.scalar("SELECT error FROM posthog_pluginconfig WHERE id = \(ids[0])")
        #expect(error?["message"] == .string(Self.unavailable))
        #expect(error?["name"] == "Error")
        #expect(download.requests.isEmpty)
        await harness.stop()
    }
}

/// The download endpoint on loopback (Fixtures/mmdb_server.py), with the requests it received.
private final class DownloadEndpoint: @unchecked Sendable {
    // @unchecked: `process` is set in init and only terminated afterwards, from the test's task.
    let port = (try? freeLoopbackPort()) ?? Int.random(in: 20000...29999)
    let log = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("mmdb") + ".log")
    private let process = Process()

    var url: String { "http://127.0.0.1:\(port)/" }
    /// `path accept-encoding` per download.
    var requests: [String] {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    init() throws {
        let script = TestEnvironment.packageRoot.appendingPathComponent("Tests/IntegrationTests/Fixtures/mmdb_server.py")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "\(port)", GeoIPPluginTests.fixture.path, log.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let url = self.url
        let ready = (0..<100).contains { _ in
            if (try? runCommand("python3", ["-c", "import urllib.request; urllib.request.urlopen('\(url)ready')"])) != nil { return true }
            Thread.sleep(forTimeInterval: 0.1)
            return false
        }
        if !ready { throw HarnessError(message: "the GeoIP download endpoint did not start") }
    }

    /// SIGKILL: children of the test process inherit a signal mask that blocks SIGTERM.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: log)
    }
}
