import Foundation
import PostHogEvents
import RedisClient
import Testing

/// Plugins in every event's path, through the real binary: rows in posthog_plugin and
/// posthog_pluginconfig, Celery messages in, rows and Redis keys out.
@Suite(.serialized) struct PluginPipelineTests {
    /// Inserts a `source` plugin and an enabled config of it for team 2; returns (plugin id, config id).
    @discardableResult
    static func installSourcePlugin(_ database: TestDatabase, name: String, order: Int = 0, config: JSON = [:], source: String) throws -> (
        Int, Int
    ) {
        let quoted = source.replacingOccurrences(of: "'", with: "''")
        let pluginId =
            try database.scalar(
                """
                INSERT INTO posthog_plugin (name, description, url, config_schema, tag, archive, from_json, from_web, error, plugin_type, source,
                    organization_id, created_at, updated_at, is_global, is_preinstalled)
                VALUES ('\(name)', '', 'source:\(name)', '{}', NULL, NULL, false, false, NULL, 'source', '\(quoted)',
                    'ca30f2ec-e9a4-4001-bf27-3ef194086068', now(), now(), false, false)
                RETURNING id
                """)?.intValue ?? -1
        let configId =
            try database.scalar(
                """
                INSERT INTO posthog_pluginconfig (enabled, "order", config, error, plugin_id, team_id, created_at, updated_at)
                VALUES (true, \(order), '\(config.jsonString)', NULL, \(pluginId), 2, now(), now()) RETURNING id
                """)?.intValue ?? -1
        return (pluginId, configId)
    }

    static func event(_ name: String, properties: JSON = [:]) -> JSON {
        ["event": .string(name), "properties": properties, "uuid": .string(UUIDT().uuidString)]
    }

    @Test(
        "processEvent chains in order, drops, records errors and continues; onEvent, console, cache, storage and capture reach the services"
    )
    func pluginsInThePath() async throws {
        var ids: [String: (Int, Int)] = [:]
        let harness = try await IngestionHarness.start(prepare: { database in
            ids["first"] = try Self.installSourcePlugin(
                database, name: "first", order: 1, config: ["greeting": "hello"],
                source: """
                    export async function processEvent(event, { config, cache, storage }) {
                        if (event.properties.drop) return null
                        event.properties.greeting = config.greeting
                        event.properties.order = ['first']
                        await cache.set('seen', event.event)
                        await storage.set('last', { event: event.event })
                        console.log('processed', event.event)
                        return event
                    }
                    """)
            ids["broken"] = try Self.installSourcePlugin(
                database, name: "broken", order: 2,
                source: "function processEvent(event) { event.properties.order.push('broken'); throw new Error('boom') }")
            ids["third"] = try Self.installSourcePlugin(
                database, name: "third", order: 3,
                source: """
                    interface Event { properties: Record<string, any> }
                    export function processEvent(event: Event) { event.properties.order.push('third'); return event }
                    export function onEvent(event, meta) {
                        if (event.event === 'trigger') posthog.capture('captured by plugin', { distinct_id: 'plugin-user', source: event.event })
                    }
                    """)
        })
        try await harness.send(Self.event("trigger", properties: ["a": 1]))
        try await harness.send(Self.event("dropped", properties: ["drop": true]))
        _ = await eventually { ((try? harness.events().count) ?? 0) >= 2 }
        try await harness.waitUntilProcessed()

        let events = try harness.events()
        let trigger = try #require(events.first { $0["event"] == "trigger" })
        #expect(trigger["properties"]?["greeting"] == "hello")
        #expect(trigger["properties"]?["order"] == ["first", "broken", "third"])
        #expect(
            trigger["properties"]?["$plugins_succeeded"]
                == .array([.string("first (\(ids["first"]!.1))"), .string("third (\(ids["third"]!.1))")]))
        #expect(trigger["properties"]?["$plugins_failed"] == .array([.string("broken (\(ids["broken"]!.1))")]))
        #expect(!events.contains { $0["event"] == "dropped" })

        let captured = try #require(events.first { $0["event"] == "captured by plugin" })
        #expect(captured["distinct_id"] == "plugin-user")
        #expect(captured["properties"]?["$lib"] == "posthog-plugin-server")
        #expect(captured["properties"]?["source"] == "trigger")

        let error = try harness.database.scalar("SELECT error FROM posthog_pluginconfig WHERE id = \(ids["broken"]!.1)")
        #expect(error?["message"] == "boom")
        #expect(error?["name"] == "Error")
        // Last error wins: the trigger, or the event its onEvent captured, which ran the chain again.
        #expect(["trigger", "captured by plugin"].contains(error?["event"]?["event"]?.stringValue ?? ""))

        let logs = try harness.database.rows(
            "SELECT source, type, message FROM posthog_pluginlogentry WHERE plugin_config_id = \(ids["first"]!.1) ORDER BY timestamp")
        #expect(logs.contains(["source": "CONSOLE", "type": "LOG", "message": "processed trigger"]))
        #expect(logs.contains { $0["source"] == "SYSTEM" && $0["message"]?.stringValue?.hasPrefix("Plugin loaded (instance ID ") == true })
        #expect(
            try harness.database.count(
                "posthog_pluginlogentry", where: "plugin_config_id = \(ids["broken"]!.1) AND source = 'PLUGIN' AND type = 'ERROR'") >= 1)

        let cached = try await harness.redis.send("GET", [RedisArgument("@plugin/\(ids["first"]!.0)/2/seen")]).string
        #expect(cached == "\"captured by plugin\"" || cached == "\"trigger\"")
        let stored = try harness.database.scalar(
            "SELECT value FROM posthog_pluginstorage WHERE plugin_config_id = \(ids["first"]!.1) AND key = 'last'")
        #expect(stored?.stringValue?.hasPrefix("{\"event\":") == true)
        await harness.stop()
    }

    @Test("meta.attachments, jobs and fetch reach real services: an attachment row, the job table, a loopback HTTP server")
    func attachmentsJobsAndFetch() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("www"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(#"{"rate": 1.5}"#.utf8).write(to: directory.appendingPathComponent("rates.json"))
        let port = try freeLoopbackPort()
        let web = Process()
        web.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        web.arguments = ["python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", directory.path]
        web.standardOutput = FileHandle.nullDevice
        web.standardError = FileHandle.nullDevice
        try web.run()
        defer { killHelper(web) }
        _ = await eventually {
            (try? runCommand("python3", ["-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:\(port)/rates.json')"]))
                != nil
        }

        var configId = 0
        let harness = try await IngestionHarness.start(prepare: { database in
            configId = try Self.installSourcePlugin(
                database, name: "services",
                source: """
                    import fetch from 'node-fetch'
                    export async function processEvent(event, { attachments, jobs }) {
                        const response = await fetch('http://127.0.0.1:\(port)/rates.json')
                        const rates = await response.json()
                        event.properties.rate = rates.rate
                        event.properties.status = response.status
                        event.properties.attachment = attachments.list.contents.toString()
                        await jobs.later({ id: event.event }).runIn(1, 'hour')
                        return event
                    }
                    """
            ).1
            try database.execute(
                """
                INSERT INTO posthog_pluginattachment (key, content_type, file_name, file_size, contents, plugin_config_id, team_id)
                VALUES ('list', 'text/csv', 'list.csv', 5, convert_to('a,b,c', 'UTF8'), \(configId), 2)
                """)
        })
        try await harness.send(Self.event("priced"))
        let properties = try #require(try harness.events().first?["properties"])
        #expect(properties["rate"] == 1.5)
        #expect(properties["status"] == 200)
        #expect(properties["attachment"] == "a,b,c")
        let job = try #require(
            try harness.database.rows(
                "SELECT task_identifier, payload, run_at > now() + interval '50 minutes' AS later FROM graphile_worker.jobs"
            ).first)
        #expect(job["task_identifier"] == "pluginJob")
        #expect(job["payload"]?["type"] == "later")
        #expect(job["payload"]?["payload"] == ["id": "priced"])
        #expect(job["payload"]?["pluginConfigId"]?.intValue == configId)
        #expect(job["later"] == true)
        await harness.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a reload on the pubsub channel swaps a plugin's code while events flow")
    func reloadChangesCode() async throws {
        var configId = 0
        let harness = try await IngestionHarness.start(
            environment: ["PLUGINS_RELOAD_PUBSUB_CHANNEL": TestEnvironment.uniqueName("reload")],
            prepare: { database in
                configId = try Self.installSourcePlugin(
                    database, name: "versioned", source: "function processEvent(e) { e.properties.version = 1; return e }"
                ).1
            })
        try await harness.send(Self.event("before"))
        let channel = harness.server.environment["PLUGINS_RELOAD_PUBSUB_CHANNEL"]!
        try harness.database.execute(
            """
            UPDATE posthog_plugin SET source = 'function processEvent(e) { e.properties.version = 2; return e }', updated_at = now()
            WHERE id = (SELECT plugin_id FROM posthog_pluginconfig WHERE id = \(configId))
            """)
        _ = try await harness.redis.send("PUBLISH", [RedisArgument(channel), "reload"])
        var version: JSON?
        let reloaded = await eventually(timeout: .seconds(30)) {
            try? await harness.send(Self.event("after"))
            version = (try? harness.events().last)?["properties"]?["version"]
            return version == 2
        }
        #expect(reloaded)
        #expect(try harness.events().first?["properties"]?["version"] == 1)
        #expect(try harness.database.count("posthog_pluginlogentry", where: "message LIKE 'Plugin unloaded%'") >= 1)
        await harness.stop()
    }

    @Test("plugins that never return, loop forever or chain promise callbacks forever are stopped; events still flow")
    func timeouts() async throws {
        let harness = try await IngestionHarness.start(
            environment: ["TASK_TIMEOUT": "1"],
            prepare: { database in
                try Self.installSourcePlugin(
                    database, name: "looper", order: 1,
                    source: "function processEvent(e) { if (e.event === 'loop') { while (true) {} } return e }")
                try Self.installSourcePlugin(
                    database, name: "waiter", order: 2,
                    source: "async function processEvent(e) { if (e.event === 'wait') { await new Promise(() => {}) } return e }")
                try Self.installSourcePlugin(
                    database, name: "spinner", order: 3,
                    source: "async function processEvent(e) { if (e.event === 'spin') { while (true) await null } return e }")
            })
        try await harness.send(Self.event("loop"))
        try await harness.send(Self.event("wait"))
        try await harness.send(Self.event("spin"))
        try await harness.send(Self.event("normal"))
        let events = try harness.events()
        #expect(Set(events.compactMap { $0["event"]?.stringValue }) == ["loop", "wait", "spin", "normal"])
        let spin = try #require(events.first { $0["event"] == "spin" })
        #expect(spin["properties"]?["$plugins_failed"]?.arrayValue?.count == 1)
        let loop = try #require(events.first { $0["event"] == "loop" })
        #expect(loop["properties"]?["$plugins_failed"]?.arrayValue?.count == 1)
        let errors = try harness.database.rows(
            "SELECT error->>'message' AS message FROM posthog_pluginconfig WHERE error IS NOT NULL ORDER BY id")
        // The loop guard stops the loops first (both limits are TASK_TIMEOUT), naming where they are.
        #expect(
            errors.map { $0["message"] } == [
                "Script execution timed out after looping for 1 second on line 1:53",
                "Script execution timed out after promise waited for 1 second",
                "Script execution timed out after looping for 1 second on line 1:59",
            ])
        await harness.stop()
    }
}
