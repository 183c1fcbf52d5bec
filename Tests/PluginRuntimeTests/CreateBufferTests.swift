import Foundation
import PostHogEvents
import Testing

@testable import PluginRuntime

/// `@posthog/plugin-contrib`'s createBuffer (reference §6.3) and the work a plugin leaves running when
/// it is torn down, as 2021 export plugins used them.
@Suite struct CreateBufferTests {
    /// Polls the host until `key` is in the cache (the flush runs on its own, after the event).
    static func cached(_ host: InMemoryPluginHost, _ key: String) async throws -> String? {
        for _ in 0..<250 {
            if let value = await host.cache[key] { return value }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    @Test("an add over the limit flushes the held items first; the timeout flushes what is left without another event")
    func limitAndTimeout() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                const { createBuffer } = require('@posthog/plugin-contrib')
                export function setupPlugin({ global, cache }) {
                  global.flushes = 0
                  global.buffer = createBuffer({
                    limit: 2, timeoutSeconds: 0.2,
                    onFlush: async (items, points) => { await cache.set('flush' + ++global.flushes, [items, points]) },
                  })
                }
                export function processEvent(event, { global }) { global.buffer.add(event.event); return event }
                """)
        ])
        for name in ["a", "b", "c"] {
            var event = sampleEvent
            event["event"] = .string(name)
            _ = await runtime.processEventChain(teamId: 2, event: event)
        }
        // "c" would pass the limit of 2: "a" and "b" went first.
        #expect(try await Self.cached(host, "@plugin/101/2/flush1") == #"[["a","b"],2]"#)
        // Nothing more comes in: the timer started by "c" flushes it.
        #expect(try await Self.cached(host, "@plugin/101/2/flush2") == #"[["c"],1]"#)
        await runtime.teardownAll()
    }

    @Test("fireTimers flushes a buffer waiting on a 60 s timeout at once, and teardown waits for the flush's host calls")
    func fireTimersBeforeTeardown() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                const { createBuffer } = require('@posthog/plugin-contrib')
                const buffer = createBuffer({
                  limit: 10, timeoutSeconds: 60,
                  onFlush: async (items) => { await cache.set('before', 1); await cache.set('flushed', items) },
                })
                let cache
                export function setupPlugin(meta) { cache = meta.cache }
                export function processEvent(event) { buffer.add(event.event); return event }
                """)
        ])
        _ = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        try await Task.sleep(for: .milliseconds(100))
        #expect(await host.cache["@plugin/101/2/flushed"] == nil)
        let started = ContinuousClock.now
        await runtime.fireTimers()
        await runtime.teardownAll()
        #expect(await host.cache["@plugin/101/2/flushed"] == #"["$pageview"]"#)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("a buffer waiting on its timeout is flushed when its config is replaced, and at shutdown")
    func retiredSandboxFlushesBuffer() async throws {
        let (runtime, host) = makeRuntime()
        let source = """
            const { createBuffer } = require('@posthog/plugin-contrib')
            const buffer = createBuffer({ limit: 10, timeoutSeconds: 60, onFlush: async (items) => { await cache.set('flushed-' + version, items) } })
            let cache, version
            export function setupPlugin(meta) { cache = meta.cache; version = meta.config.version }
            export function processEvent(event) { buffer.add(event.event); return event }
            """
        await runtime.load([plugin(1, config: ["version": "v1"], source)])
        _ = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        var replacement = plugin(1, config: ["version": "v2"], source)
        replacement.updatedMarker = "v2"
        await runtime.load([replacement])
        _ = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        // The replaced sandbox retires on its own time: wait for its flush.
        for _ in 0..<100 where await host.cache["@plugin/101/2/flushed-v1"] == nil { try await Task.sleep(for: .milliseconds(50)) }
        #expect(await host.cache["@plugin/101/2/flushed-v1"] == #"["$pageview"]"#)
        #expect(await host.cache["@plugin/101/2/flushed-v2"] == nil)
        await runtime.teardownAll()
        #expect(await host.cache["@plugin/101/2/flushed-v2"] == #"["$pageview"]"#)
    }

    @Test("a failing flush started by the buffer itself is written to the plugin's log")
    func failingFlushIsLogged() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                const { createBuffer } = require('@posthog/plugin-contrib')
                const buffer = createBuffer({ limit: 1, onFlush: async () => { throw new Error('export is down') } })
                export function processEvent(event) { buffer.add(event, 2); return event }
                """)
        ])
        _ = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        try await settleHost()
        let messages = await host.logs.filter { $0.type == .error }.map(\.message)
        #expect(messages.contains { $0.contains("createBuffer: onFlush failed:") && $0.contains("export is down") })
        await runtime.teardownAll()
    }

    @Test("work a teardown starts without awaiting it finishes before the sandbox closes")
    func unawaitedTeardownWork() async throws {
        let (runtime, host) = makeRuntime()
        await host.setFetchHandler { _ in
            try await Task.sleep(for: .milliseconds(200))
            return FetchResponse(status: 202, body: [])
        }
        await runtime.load([
            plugin(
                1,
                """
                const { createBuffer } = require('@posthog/plugin-contrib')
                export function setupPlugin({ global, cache }) {
                  global.buffer = createBuffer({
                    limit: 100,
                    onFlush: async (items) => {
                      const response = await fetch('https://example.test/batch', { method: 'POST', body: JSON.stringify(items) })
                      await cache.set('delivered', response.status + ':' + items.length)
                    },
                  })
                }
                export function processEvent(event, { global }) { global.buffer.add(event); return event }
                // As the 2021 replicator did: the flush is started, not awaited.
                export function teardownPlugin({ global }) { global.buffer.flush() }
                """)
        ])
        _ = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        _ = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        await runtime.teardownAll()
        #expect(await host.cache["@plugin/101/2/delivered"] == #""202:2""#)
        #expect(await runtime.sandboxCounts() == [0])
    }
}
