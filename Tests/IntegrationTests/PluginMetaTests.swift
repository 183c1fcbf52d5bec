import Foundation
import PostHogEvents
import RedisClient
import Testing

/// Every `meta.cache` and `meta.storage` operation through the real binary, checked where it lands:
/// Redis keys `@plugin/<plugin id>/<team id>/<key>` (wire-formats.md §4) and posthog_pluginstorage
/// rows (plugin-runtime.md §8.3, §8.4), plus hostile code against the real server.
@Suite(.serialized) struct PluginMetaTests {
    @Test("cache set/get/incr/expire and the list operations land in Redis; storage set/get/del in posthog_pluginstorage")
    func cacheAndStorage() async throws {
        var ids = (plugin: 0, config: 0)
        let harness = try await IngestionHarness.start { database in
            ids = try PluginPipelineTests.installSourcePlugin(
                database, name: "meta-user",
                source: """
                    export async function processEvent(event, { cache, storage }) {
                        await cache.set('plain', 'text', 60)
                        await cache.set('object', { a: 1, b: [true, null] })
                        await cache.set('raw', 'raw-value', undefined, { jsonSerialize: false })
                        event.properties.incr = await cache.incr('counter')
                        event.properties.expired = await cache.expire('counter', 120)
                        event.properties.expireMissing = await cache.expire('missing', 120)
                        event.properties.got = await cache.get('object', null)
                        event.properties.gotRaw = await cache.get('raw', null, { jsonSerialize: false })
                        event.properties.gotMissing = await cache.get('missing', 'fallback')
                        event.properties.lpush = await cache.lpush('list', ['a', 'b', 'c', 'b'])
                        event.properties.lrange = await cache.lrange('list', 0, -1)
                        event.properties.llen = await cache.llen('list')
                        event.properties.lrem = await cache.lrem('list', 1, 'b')
                        event.properties.lpop = await cache.lpop('list', 1)
                        try { await cache.lpush('list', 42) } catch (e) { event.properties.lpushError = e.message }
                        await storage.set('keep', { v: 1 })
                        await storage.set('gone', 'x')
                        await storage.del('gone')
                        await storage.set('unset', 'y')
                        await storage.set('unset', undefined)
                        event.properties.stored = await storage.get('keep', null)
                        event.properties.missing = await storage.get('gone', 'default')
                        return event
                    }
                    """)
        }
        // Cache keys are scoped by plugin and team, which repeat in every fresh test database.
        let stale = try await harness.redis.send("KEYS", [RedisArgument("@plugin/\(ids.plugin)/2/*")]).array?.compactMap(\.string) ?? []
        if !stale.isEmpty { _ = try await harness.redis.send("DEL", stale.map { RedisArgument($0) }) }
        try await harness.send(PluginPipelineTests.event("meta"))
        let p = try #require(try harness.events().first?["properties"])
        #expect(p["incr"] == 1)
        #expect(p["expired"] == true)
        #expect(p["expireMissing"] == false)
        #expect(p["got"] == ["a": 1, "b": [true, .null]])
        #expect(p["gotRaw"] == "raw-value")
        // Quirk of the original kept (wire-formats.md §4): a missing key reads as null, not the default.
        #expect(p["gotMissing"] == .null)
        #expect(p["lpush"] == 4)
        #expect(p["lrange"] == ["b", "c", "b", "a"])
        #expect(p["llen"] == 4)
        #expect(p["lrem"] == 1)
        #expect(p["lpop"] == ["c"])
        #expect(p["lpushError"] == "cache.lpush expects a string value or an array of strings")
        #expect(p["stored"] == ["v": 1])
        #expect(p["missing"] == "default")

        let prefix = "@plugin/\(ids.plugin)/2/"
        let redis = harness.redis
        func get(_ key: String) async throws -> String? { try await redis.send("GET", [RedisArgument(prefix + key)]).string }
        #expect(try await get("plain") == "\"text\"")
        #expect(try await get("object") == #"{"a":1,"b":[true,null]}"#)
        #expect(try await get("raw") == "raw-value")
        #expect(try await get("counter") == "1")
        let plainTTL = try await redis.send("TTL", [RedisArgument(prefix + "plain")]).int ?? -1
        #expect(plainTTL > 0 && plainTTL <= 60)
        let counterTTL = try await redis.send("TTL", [RedisArgument(prefix + "counter")]).int ?? -1
        #expect(counterTTL > 60 && counterTTL <= 120)
        let list = try await redis.send("LRANGE", [RedisArgument(prefix + "list"), "0", "-1"]).array?.compactMap(\.string)
        #expect(list == ["b", "a"])

        let rows = try harness.database.rows(
            "SELECT key, value FROM posthog_pluginstorage WHERE plugin_config_id = \(ids.config) ORDER BY key")
        #expect(rows == [["key": "keep", "value": #"{"v":1}"#]])
        await harness.stop()
    }

    @Test("hostile plugins reach nothing of the host and leave the other plugins and ingestion unaffected")
    func hostilePlugins() async throws {
        var requirer = 0
        let harness = try await IngestionHarness.start { database in
            try PluginPipelineTests.installSourcePlugin(
                database, name: "escaper", order: 1,
                source: """
                    Object.prototype.polluted = 'yes'
                    globalThis.secret = 'escaper secret'
                    export function processEvent(event) {
                        const probes = {}
                        const attempt = (name, fn) => { try { probes[name] = String(fn()) } catch (e) { probes[name] = 'blocked' } }
                        attempt('process', () => this.constructor.constructor('return process')())
                        attempt('env', () => process.env.HOME)
                        attempt('function_process', () => Function('return typeof process')())
                        event.properties.probes = probes
                        console.log('probed', Object.keys(probes).length)
                        return event
                    }
                    """)
            try PluginPipelineTests.installSourcePlugin(
                database, name: "saboteur", order: 4,
                source: "export function processEvent(e) { Array.prototype.push = function () { throw new Error('hijacked') }; return e }")
            requirer = try PluginPipelineTests.installSourcePlugin(
                database, name: "requirer", order: 3,
                source: "const fs = require('fs'); export function processEvent(e) { e.properties.files = fs.readdirSync('/'); return e }"
            ).1
            try PluginPipelineTests.installSourcePlugin(
                database, name: "bystander", order: 2,
                source: """
                    export function processEvent(event) {
                        const list = []
                        list.push('ok')
                        event.properties.bystander = { polluted: ({}).polluted ?? 'clean', list, secret: typeof secret }
                        return event
                    }
                    """)
        }
        try await harness.send(PluginPipelineTests.event("hostile"))
        let p = try #require(try harness.events().first?["properties"])
        // A module outside the allow-list fails the load with the original's text (reference §5.2).
        let error = try harness.database.scalar("SELECT error->>'message' FROM posthog_pluginconfig WHERE id = \(requirer)")
        #expect(error == "Cannot import 'fs'! This package is not provided by PostHog in plugins.")
        #expect(p["files"] == nil)
        let probes = try #require(p["probes"]?.objectValue)
        #expect(probes["process"] == "blocked")
        #expect(probes["env"] == "blocked")
        #expect(probes["function_process"] == "undefined")
        #expect(p["bystander"] == ["polluted": "clean", "list": ["ok"], "secret": "undefined"])
        #expect(p["$plugins_failed"] == [])
        #expect(p["$plugins_succeeded"]?.arrayValue?.count == 3)
        // The saboteur replaced Array.prototype.push in its own realm during the first event; the
        // bystander's arrays on the next event are untouched.
        try await harness.send(PluginPipelineTests.event("after sabotage"))
        #expect(try harness.events().last?["properties"]?["bystander"]?["list"] == ["ok"])
        await harness.stop()
    }

    @Test("a $snapshot skips processEvent, is stored as a session recording, then reaches onSnapshot; other events reach onEvent")
    func onSnapshotAndOnEvent() async throws {
        var configId = 0
        let harness = try await IngestionHarness.start { database in
            configId = try PluginPipelineTests.installSourcePlugin(
                database, name: "recorder",
                source: """
                    export function processEvent(event) { event.properties.processed = true; return event }
                    export async function onSnapshot(event, { storage }) { await storage.set('snapshot', event.properties.$session_id) }
                    export async function onEvent(event, { storage }) { await storage.set('event', event.event) }
                    """
            ).1
        }
        try await harness.send([
            "event": "$snapshot", "properties": ["$session_id": "session-1", "$snapshot_data": ["timestamp": 123]],
            "uuid": .string(UUIDT().uuidString),
        ])
        try await harness.send(PluginPipelineTests.event("$pageview"))
        let stored = await eventually {
            (try? harness.database.rows("SELECT key FROM posthog_pluginstorage WHERE plugin_config_id = \(configId)").count) == 2
        }
        #expect(stored)
        let rows = try harness.database.rows(
            "SELECT key, value FROM posthog_pluginstorage WHERE plugin_config_id = \(configId) ORDER BY key")
        #expect(rows == [["key": "event", "value": "\"$pageview\""], ["key": "snapshot", "value": "\"session-1\""]])
        let recording = try harness.database.rows("SELECT session_id, snapshot_data FROM posthog_sessionrecordingevent")
        #expect(recording.first?["session_id"] == "session-1")
        #expect(recording.first?["snapshot_data"]?["processed"] == nil)
        #expect(try harness.events().map { $0["properties"]?["processed"] } == [true])
        await harness.stop()
    }

    @Test("meta.utils.cursor increments add up across two workers in posthog_pluginstorage")
    func cursorAcrossWorkers() async throws {
        var configId = 0
        let harness = try await IngestionHarness.start(environment: ["WORKER_CONCURRENCY": "2"]) { database in
            configId = try PluginPipelineTests.installSourcePlugin(
                database, name: "counter",
                source: """
                    export async function setupPlugin({ utils }) { await utils.cursor.init('seen', 100) }
                    export async function processEvent(event, { utils }) {
                        event.properties.seen = await utils.cursor.increment('seen')
                        return event
                    }
                    """
            ).1
        }
        let messages = (0..<40).map { n in
            CeleryMessages.processEvent(
                distinctId: .string("user-\(n % 4)"), ip: "127.0.0.1", data: PluginPipelineTests.event("count"), teamId: 2,
                now: EventTimestamp.now().isoString, sentAt: nil)
        }
        try await harness.push(messages)
        let seen = try harness.events().compactMap { $0["properties"]?["seen"]?.numberValue }
        #expect(seen.count == 40)
        #expect(Set(seen) == Set((101...140).map(Double.init)))
        #expect(
            try harness.database.scalar("SELECT value FROM posthog_pluginstorage WHERE plugin_config_id = \(configId) AND key = 'seen'")
                == "140")
        await harness.stop()
    }

    @Test("capabilities are written to posthog_plugin.capabilities where PostHog's schema has that column")
    func capabilities() async throws {
        var pluginId = 0
        let harness = try await IngestionHarness.start { database in
            // Migration 0153 of PostHog added the column; the 0.20 schema of the tests has none.
            try database.execute("ALTER TABLE posthog_plugin ADD COLUMN capabilities jsonb NOT NULL DEFAULT '{}'")
            pluginId = try PluginPipelineTests.installSourcePlugin(
                database, name: "capable",
                source: """
                    export function setupPlugin() {}
                    export function processEvent(event) { return event }
                    export function runEveryHour() {}
                    export const jobs = { sync: async () => {} }
                    """
            ).0
        }
        try await harness.send(PluginPipelineTests.event("loaded"))
        let capabilities = try harness.database.scalar("SELECT capabilities FROM posthog_plugin WHERE id = \(pluginId)")
        #expect(capabilities == ["methods": ["setupPlugin", "processEvent"], "scheduled_tasks": ["runEveryHour"], "jobs": ["sync"]])
        await harness.stop()
    }
}
