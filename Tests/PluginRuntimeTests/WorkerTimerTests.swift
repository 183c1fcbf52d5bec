import Foundation
import PostHogEvents
import Testing

@testable import PluginRuntime

/// The worker's timers: `createBuffer`'s flush timeouts and the original's test-only `__jestSetTimeout`.
@Suite struct WorkerTimerTests {
    @Test("the timer queue hands out due timers earliest first, ties in the order they were set")
    func queueOrder() {
        var timers = WorkerTimers()
        let key = SandboxKey(configId: 1, generation: 0)
        _ = timers.add(key: key, id: 1, milliseconds: 30, now: 0)
        _ = timers.add(key: key, id: 2, milliseconds: 10, now: 0)
        _ = timers.add(key: key, id: 3, milliseconds: 20, now: 0)
        _ = timers.add(key: key, id: 4, milliseconds: 10, now: 0)
        // Below 1 ms counts as 1 ms, as Node's setTimeout; not a number too.
        _ = timers.add(key: key, id: 5, milliseconds: -5, now: 0)
        _ = timers.add(key: key, id: 6, milliseconds: .nan, now: 0)
        #expect(timers.nextDeadline == 1_000_000)
        #expect(timers.takeDue(now: 999_999).isEmpty)
        #expect(timers.takeDue(now: 10_000_000).map(\.id) == [5, 6, 2, 4])
        #expect(timers.nextDeadline == 20_000_000)
        #expect(timers.takeDue(now: 100_000_000).map(\.id) == [3, 1])
        #expect(timers.isEmpty && timers.nextDeadline == nil)
    }

    @Test("plugins have no timers: __jestSetTimeout is undefined unless the runtime is set up for tests")
    func testTimerAbsentByDefault() async throws {
        let (runtime, _) = makeRuntime()
        await runtime.load([
            plugin(1, "export function processEvent(event) { event.properties.timer = typeof __jestSetTimeout; return event }")
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        #expect(result.event?["properties"]?["timer"] == "undefined")
        await runtime.teardownAll()
    }

    @Test("__jestSetTimeout callbacks run after their delays, in deadline order, while the event awaits them")
    func testTimerFiresInOrder() async throws {
        let (runtime, _) = await Self.runtimeWithTestTimer(
            """
            export async function processEvent(event) {
              const order = []
              const started = Date.now()
              await new Promise((resolve) => {
                __jestSetTimeout(() => order.push('c'), 60)
                __jestSetTimeout(() => order.push('a'), 20)
                __jestSetTimeout(() => order.push('b'), 40)
                __jestSetTimeout(() => { order.push('d'); resolve() }, 80)
              })
              event.properties.order = order.join('')
              event.properties.waited = Date.now() - started
              return event
            }
            """)
        let results = await withTaskGroup(of: ChainResult.self) { group in
            for _ in 0..<20 { group.addTask { await runtime.processEventChain(teamId: 2, event: sampleEvent) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 20)
        for result in results {
            #expect(result.event?["properties"]?["order"] == "abcd")
            #expect((result.event?["properties"]?["waited"]?.numberValue ?? 0) >= 79)
        }
        await runtime.teardownAll()
    }

    @Test("a __jestSetTimeout callback that throws is logged; the timers due with it still run")
    func throwingTimerCallback() async throws {
        let (runtime, host) = await Self.runtimeWithTestTimer(
            """
            export async function processEvent(event) {
              await new Promise((resolve) => {
                __jestSetTimeout(() => { throw new Error('timer broke') }, 5)
                __jestSetTimeout(resolve, 5)
              })
              event.properties.done = true
              return event
            }
            """)
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        #expect(result.event?["properties"]?["done"] == true)
        try await settleHost()
        let errors = await host.logs.filter { $0.source == .console && $0.type == .error }.map(\.message)
        #expect(errors.contains { $0.contains("__jestSetTimeout") && $0.contains("timer broke") })
        await runtime.teardownAll()
    }

    /// A runtime whose plugins get `__jestSetTimeout`, with one config of `source` for team 2 loaded.
    static func runtimeWithTestTimer(_ source: String) async -> (PluginRuntime, InMemoryPluginHost) {
        let host = InMemoryPluginHost()
        var settings = PluginRuntimeSettings()
        settings.exposesTestTimer = true
        let runtime = PluginRuntime(workerCount: 1, host: host, settings: settings)
        await runtime.load([plugin(1, source)])
        return (runtime, host)
    }
}
