import PostHogEvents
import Testing

@testable import PluginRuntime

/// The in-memory cache keeps Redis' expiry semantics, so a plugin polling for a key to expire behaves
/// as it would against the server's Redis.
@Suite struct InMemoryPluginHostTests {
    let scope = CacheScope(pluginId: 1, teamId: 2)

    @Test("a key set with a TTL reads as absent once the TTL has passed")
    func getAfterTTL() async throws {
        let host = InMemoryPluginHost()
        try await host.cacheSet(scope, key: "k", value: "v", ttlSeconds: 1)
        try await host.cacheSet(scope, key: "forever", value: "f", ttlSeconds: nil)
        #expect(try await host.cacheGet(scope, key: "k") == "v")
        #expect(await host.cacheTTLs == ["@plugin/1/2/k": 1])
        await host.advanceClock(bySeconds: 0.9)
        #expect(try await host.cacheGet(scope, key: "k") == "v")
        await host.advanceClock(bySeconds: 0.2)
        #expect(try await host.cacheGet(scope, key: "k") == nil)
        #expect(try await host.cacheGet(scope, key: "forever") == "f")
        #expect(await host.cache["@plugin/1/2/k"] == nil)
        #expect(await host.cacheTTLs.isEmpty)
    }

    @Test("set without a TTL clears the previous one; set with a TTL of 0 is refused as Redis refuses it")
    func setReplacesTTL() async throws {
        let host = InMemoryPluginHost()
        try await host.cacheSet(scope, key: "k", value: "v", ttlSeconds: 1)
        try await host.cacheSet(scope, key: "k", value: "w", ttlSeconds: nil)
        await host.advanceClock(bySeconds: 5)
        #expect(try await host.cacheGet(scope, key: "k") == "w")
        await #expect(throws: PluginHostError("ERR invalid expire time in 'set' command")) {
            try await host.cacheSet(scope, key: "k", value: "x", ttlSeconds: 0)
        }
    }

    @Test("incr on an expired key starts from 0; incr keeps a live key's TTL")
    func incrAfterTTL() async throws {
        let host = InMemoryPluginHost()
        try await host.cacheSet(scope, key: "n", value: "41", ttlSeconds: 2)
        #expect(try await host.cacheIncr(scope, key: "n") == 42)
        await host.advanceClock(bySeconds: 2)
        #expect(try await host.cacheIncr(scope, key: "n") == 1)
        #expect(await host.cacheTTLs.isEmpty)
        #expect(try await host.cacheExpire(scope, key: "n", ttlSeconds: 3))
        #expect(try await host.cacheIncr(scope, key: "n") == 2)
        #expect(await host.cacheTTLs == ["@plugin/1/2/n": 3])
    }

    @Test("expire answers false for a missing or expired key, applies to lists, and a TTL of 0 deletes at once")
    func expire() async throws {
        let host = InMemoryPluginHost()
        #expect(try await host.cacheExpire(scope, key: "missing", ttlSeconds: 10) == false)
        try await host.cacheSet(scope, key: "k", value: "v", ttlSeconds: 1)
        await host.advanceClock(bySeconds: 1)
        #expect(try await host.cacheExpire(scope, key: "k", ttlSeconds: 10) == false)
        #expect(try await host.cacheGet(scope, key: "k") == nil)

        try await host.cacheSet(scope, key: "gone", value: "v", ttlSeconds: nil)
        #expect(try await host.cacheExpire(scope, key: "gone", ttlSeconds: 0))
        #expect(try await host.cacheGet(scope, key: "gone") == nil)

        _ = try await host.cacheLPush(scope, key: "list", values: ["a", "b"])
        #expect(try await host.cacheExpire(scope, key: "list", ttlSeconds: 1))
        #expect(try await host.cacheLLen(scope, key: "list") == 2)
        await host.advanceClock(bySeconds: 1)
        #expect(try await host.cacheLLen(scope, key: "list") == 0)
        #expect(try await host.cacheLRange(scope, key: "list", start: 0, stop: -1) == [])
        #expect(try await host.cacheLPop(scope, key: "list", count: 1) == [])
        #expect(try await host.cacheLRem(scope, key: "list", count: 0, value: "a") == 0)
        #expect(try await host.cacheLPush(scope, key: "list", values: ["c"]) == 1)
        #expect(await host.cacheTTLs.isEmpty)
    }

    @Test("a list emptied by lpop loses its TTL with it, as Redis deletes the key")
    func emptiedListLosesTTL() async throws {
        let host = InMemoryPluginHost()
        _ = try await host.cacheLPush(scope, key: "list", values: ["a"])
        #expect(try await host.cacheExpire(scope, key: "list", ttlSeconds: 1))
        #expect(try await host.cacheLPop(scope, key: "list", count: 5) == ["a"])
        #expect(try await host.cacheLPush(scope, key: "list", values: ["b"]) == 1)
        await host.advanceClock(bySeconds: 2)
        #expect(try await host.cacheLRange(scope, key: "list", start: 0, stop: -1) == ["b"])
    }

    @Test("a plugin polling cache.get for a snooze key sees it expire")
    func pluginSeesExpiry() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                async function processEvent(event, { cache }) {
                    if (event.event === 'snooze') await cache.set('snooze', true, 2)
                    event.properties.snoozed = await cache.get('snooze')
                    return event
                }
                """)
        ])
        let first = await runtime.processEventChain(teamId: 2, event: ["event": "snooze", "distinct_id": "a", "properties": [:]])
        #expect(first.event?["properties"]?["snoozed"] == true)
        await host.advanceClock(bySeconds: 2)
        let later = await runtime.processEventChain(teamId: 2, event: ["event": "poll", "distinct_id": "a", "properties": [:]])
        #expect(later.event?["properties"]?["snoozed"] == .null)
        await runtime.teardownAll()
    }
}
