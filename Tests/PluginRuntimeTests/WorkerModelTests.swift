import Foundation
import PostHogEvents
import Synchronization
import Testing

@testable import PluginRuntime

/// Reference §1 and §12: a sandbox per config per worker, TASKS_PER_WORKER in flight per worker, and
/// load retries with back-off (configuration.md §7).
@Suite struct WorkerModelTests {
    @Test("every worker has its own sandbox per config, each with its own setupPlugin and global")
    func sandboxPerWorker() async throws {
        let (runtime, host) = makeRuntime(workers: 3)
        await runtime.load([
            plugin(
                1,
                "async function setupPlugin(meta) { meta.global.setupNumber = await meta.cache.incr('setups') } function processEvent(e, {global}) { e.properties.setup = global.setupNumber; return e }"
            ),
            plugin(2, "function processEvent(e) { return e }"),
        ])
        #expect(await runtime.sandboxCounts() == [2, 2, 2])
        #expect(await host.cache["@plugin/101/2/setups"] == "3")
        var seen = Set<Int>()
        await withTaskGroup(of: Int?.self) { group in
            for _ in 0..<60 {
                group.addTask {
                    await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"]?["setup"]?.numberValue.map {
                        Int($0)
                    }
                }
            }
            for await value in group { if let value { seen.insert(value) } }
        }
        // Each event saw the global of the sandbox it ran in; all of them come from one of the three setups.
        #expect(!seen.isEmpty && seen.isSubset(of: [1, 2, 3]))
        await runtime.teardownAll()
        #expect(await runtime.sandboxCounts() == [0, 0, 0])
    }

    @Test("no more than TASKS_PER_WORKER events are in flight on a worker")
    func tasksPerWorker() async throws {
        let (runtime, host) = makeRuntime(workers: 1, tasksPerWorker: 3)
        await host.setFetchHandler { _ in
            try await Task.sleep(nanoseconds: 20_000_000)
            return FetchResponse(status: 200, body: Array("ok".utf8))
        }
        await runtime.load([
            plugin(
                1,
                """
                async function processEvent(e, {global}) {
                    global.active = (global.active || 0) + 1
                    global.max = Math.max(global.max || 0, global.active)
                    await fetch('http://example.test/')
                    global.active -= 1
                    e.properties.max = global.max
                    return e
                }
                """)
        ])
        var maxima: [Double] = []
        await withTaskGroup(of: Double?.self) { group in
            for _ in 0..<30 {
                group.addTask { await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"]?["max"]?.numberValue }
            }
            for await value in group { if let value { maxima.append(value) } }
        }
        #expect(maxima.count == 30)
        #expect(maxima.max() == 3)
        #expect(runtime.tasksInFlight == [0])
    }

    @Test("a config whose setup fails is retried with back-off and loads once setup succeeds")
    func loadRetries() async throws {
        let (runtime, host) = makeRuntime(loadAttempts: 5)
        await runtime.load([
            plugin(
                1,
                "async function setupPlugin(meta) { if (await meta.cache.incr('attempt') < 3) throw new Error('not yet') } function processEvent(e) { e.properties.loaded = true; return e }"
            )
        ])
        #expect(await runtime.capabilities(configId: 1) == nil)
        var loaded = false
        for _ in 0..<100 where !loaded {
            try await Task.sleep(nanoseconds: 20_000_000)
            loaded = await runtime.capabilities(configId: 1) != nil
        }
        #expect(loaded)
        #expect(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"]?["loaded"] == true)
        let messages = await host.logs.filter { $0.source == .system }.map(\.message)
        #expect(
            messages == [
                "Plugin failed to load (instance ID instance-1). Retrying in 0.05 s.",
                "Plugin failed to load (instance ID instance-1). Retrying in 0.1 s.",
                "Plugin loaded (instance ID instance-1).",
            ])
        #expect(await host.errors[1] == nil)
        await runtime.teardownAll()
    }

    @Test("after the last attempt the config gives up, and is disabled with PLUGIN_DISABLE_ON_FAILURE")
    func loadGivesUp() async throws {
        let (runtime, host) = makeRuntime(loadAttempts: 2, disableOnFailure: true)
        await runtime.load([plugin(1, "function setupPlugin() { throw new Error('never') } function processEvent(e) { return e }")])
        var disabled: [Int] = []
        for _ in 0..<100 where disabled.isEmpty {
            try await Task.sleep(nanoseconds: 20_000_000)
            disabled = await host.disabled
        }
        #expect(disabled == [1])
        #expect(await runtime.capabilities(configId: 1) == nil)
        #expect(await host.errors[1]?.message == "never")
        let messages = await host.logs.filter { $0.source == .system }.map(\.message)
        #expect(
            messages == [
                "Plugin failed to load (instance ID instance-1). Retrying in 0.05 s.",
                "Plugin failed to load (instance ID instance-1). Disabling it due to too many retries – tried to load it 2 times before giving up.",
            ])
        // The event passes untouched while the config is not loaded.
        #expect(await runtime.processEventChain(teamId: 2, event: sampleEvent).event == sampleEvent)
    }

    @Test("meta.utils.cursor: init keeps an existing value, increment adds and returns, bad arguments throw")
    func utilsCursor() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                async function processEvent(e, { utils, storage }) {
                    await utils.cursor.init('page', 5)
                    await utils.cursor.init('page', 100)
                    e.properties.first = await utils.cursor.increment('page')
                    e.properties.second = await utils.cursor.increment('page', 10)
                    e.properties.fresh = await utils.cursor.increment('other', 2)
                    e.properties.stored = await storage.get('page')
                    try { await utils.cursor.init('bad', 'x') } catch (error) { e.properties.initError = error.message }
                    try { await utils.cursor.increment('page', '1') } catch (error) { e.properties.incrementError = error.message }
                    return e
                }
                """)
        ])
        let p = try #require(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"])
        #expect(p["first"] == 6)
        #expect(p["second"] == 16)
        #expect(p["fresh"] == 2)
        #expect(p["stored"] == 16)
        #expect(p["initError"] == "The cursor's initial value must be a number!")
        #expect(p["incrementError"] == "The incrementBy value must be a number!")
        #expect(await host.storage[1]?["page"] == "16")
    }

    @Test("exportEvents buffers flush by size, by age when the runtime ticks, and at teardown")
    func exportBufferFlushes() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1, config: ["exportEventsBufferBytes": "400", "exportEventsBufferSeconds": "1", "exportEventsToIgnore": "skip me"],
                """
                export async function exportEvents(events, { storage }) {
                    const batches = (await storage.get('batches', [])) || []
                    batches.push(events.map((e) => e.properties.n))
                    await storage.set('batches', batches)
                }
                """)
        ])
        func batches() async -> JSON? { await host.storage[1]?["batches"].flatMap { try? JSON(parsing: $0) } }
        func event(_ n: Int, name: String = "$pageview") -> JSON {
            [
                "event": .string(name), "distinct_id": "u", "team_id": 2,
                "properties": ["n": .number(Double(n)), "pad": .string(String(repeating: "x", count: 100))],
            ]
        }
        // Each event is about 170 bytes of JSON: the third one overflows 400 bytes and flushes the first two.
        for n in 1...3 { await runtime.onEvent(teamId: 2, event: event(n)) }
        await runtime.onEvent(teamId: 2, event: event(99, name: "skip me"))
        #expect(await batches() == [[1, 2]])
        // Event 3 is younger than a second: a tick does nothing yet; after a second it is flushed.
        await runtime.flushDueExports()
        #expect(await batches() == [[1, 2]])
        try await Task.sleep(nanoseconds: 1_100_000_000)
        await runtime.flushDueExports()
        #expect(await batches() == [[1, 2], [3]])
        await runtime.onEvent(teamId: 2, event: event(4))
        await runtime.teardownAll()
        #expect(await batches() == [[1, 2], [3], [4]])
    }

    @Test("a runtime let go frees its workers, their threads and engines, without waiting for its calls' deadlines")
    func droppedRuntimeFreesWorkers() async throws {
        weak var worker: PluginWorker?
        do {
            let (runtime, _) = makeRuntime(taskTimeout: 30, workers: 2)
            let source = "async function processEvent(e, { cache }) { await cache.set('k', 1); e.properties.done = true; return e }"
            await runtime.load([plugin(1, source)])
            // An awaited host call: its 30 s deadline is held by the worker's timer.
            #expect(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"]?["done"] == true)
            await runtime.teardownAll()
            worker = runtime.workers.first
        }
        for _ in 0..<100 where worker != nil { try await Task.sleep(for: .milliseconds(20)) }
        #expect(worker == nil)
    }

    @Test("a reload retires a sandbox with an event in flight: the event finishes in it, new events use the replacement")
    func reloadWithEventInFlight() async throws {
        let (runtime, host) = makeRuntime()
        // The first fetch waits until the test lets it go; the test learns when it started.
        let (started, startedSignal) = AsyncStream<Void>.makeStream()
        let (release, releaseSignal) = AsyncStream<Void>.makeStream()
        let gate = Mutex(Optional(release))
        await host.setFetchHandler { _ in
            startedSignal.yield()
            let waiting = gate.withLock { gate -> AsyncStream<Void>? in
                defer { gate = nil }
                return gate
            }
            if let waiting {
                for await _ in waiting { break }
            }
            return FetchResponse(status: 200, body: Array("ok".utf8))
        }
        func version(_ name: String) -> PluginConfigDescriptor {
            var descriptor = plugin(
                1,
                """
                async function processEvent(e) { await fetch('http://example.test/'); e.properties.version = '\(name)'; return e }
                function teardownPlugin() { console.log('bye \(name)') }
                """)
            descriptor.updatedMarker = name
            return descriptor
        }
        await runtime.load([version("v1")])
        let inFlight = Task { await runtime.processEventChain(teamId: 2, event: sampleEvent) }
        for await _ in started { break }
        await runtime.reload([version("v2")])
        // The replaced sandbox was torn down but stays open for its running call.
        #expect(await runtime.sandboxCounts() == [2])
        let next = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        #expect(next.event?["properties"]?["version"] == "v2")
        releaseSignal.yield()
        let first = await inFlight.value
        #expect(first.event?["properties"]?["version"] == "v1")
        #expect(first.event?["properties"]?["$plugins_succeeded"] == ["plugin1 (1)"])
        #expect(await runtime.sandboxCounts() == [1])
        try await settleHost()
        #expect(await host.logs.filter { $0.message.hasPrefix("bye") }.map(\.message) == ["bye v1"])
        await runtime.teardownAll()
        #expect(await runtime.sandboxCounts() == [0])
    }

    @Test("an event whose call finished is handed back while a long call after it still runs on the same worker")
    func finishedCallNotHeldByLongCall() async throws {
        let (runtime, _) = makeRuntime(executionLimit: 10, workers: 1)
        let busy = { (milliseconds: Int) in
            "function processEvent(e) { const end = Date.now() + \(milliseconds); while (Date.now() < end) {} return e }"
        }
        await runtime.load([
            plugin(1, team: 2, "function processEvent(e) { e.properties.quick = true; return e }"),
            plugin(2, team: 3, busy(1500)),
            plugin(3, team: 4, busy(300)),
        ])
        let longCallDone = Flag()
        // The worker is busy with team 4's call while team 2's and then team 3's arrive: they run one
        // after the other in its next batch of jobs.
        let blocker = Task { await runtime.processEventChain(teamId: 4, event: sampleEvent) }
        try await Task.sleep(nanoseconds: 50_000_000)
        let quick = Task { await runtime.processEventChain(teamId: 2, event: sampleEvent) }
        try await Task.sleep(nanoseconds: 20_000_000)
        let long = Task {
            let result = await runtime.processEventChain(teamId: 3, event: sampleEvent)
            longCallDone.raise()
            return result
        }
        #expect(await quick.value.event?["properties"]?["quick"] == true)
        let longCallWasDone = longCallDone.isRaised
        #expect(!longCallWasDone)
        let longResult = await long.value
        let blockerResult = await blocker.value
        #expect(longResult.event != nil && blockerResult.event != nil)
        await runtime.teardownAll()
    }
}

/// A flag tasks raise and a test reads.
private final class Flag: Sendable {
    private let raised = Atomic<Bool>(false)
    func raise() { raised.store(true, ordering: .sequentiallyConsistent) }
    var isRaised: Bool { raised.load(ordering: .sequentiallyConsistent) }
}
