import PostHogEvents
import Testing

@testable import PluginRuntime

/// Host calls settle in batches (one entry into JavaScript for many results) and calls are made in one
/// entry that also attaches to a returned promise: these pin what plugin code sees of both.
@Suite struct HostCallTests {
    @Test("hundreds of host calls in flight at once each resolve with their own result; a failing one rejects")
    func concurrentHostCalls() async throws {
        let (runtime, host) = makeRuntime()
        await host.setFetchHandler { request in
            if request.url.hasSuffix("/fail") { throw PluginHostError("connection refused") }
            return FetchResponse(status: 200, body: Array(request.url.utf8))
        }
        await runtime.load([
            plugin(
                1,
                """
                async function processEvent(event, { cache }) {
                  const keys = [...Array(300)].map((_, i) => 'k' + i)
                  await Promise.all(keys.map((key, i) => cache.set(key, i * 2)))
                  const values = await Promise.all(keys.map((key) => cache.get(key)))
                  event.properties.inOrder = values.every((value, i) => value === i * 2)
                  event.properties.sum = values.reduce((a, b) => a + b, 0)
                  const [ok, failed] = await Promise.allSettled([fetch('https://example.com/ok'), fetch('https://example.com/fail')])
                  event.properties.okBody = await ok.value.text()
                  event.properties.failure = failed.reason.message
                  return event
                }
                """)
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let properties = try #require(result.event?["properties"]?.objectValue)
        #expect(properties["inOrder"] == true)
        #expect(properties["sum"] == .number(Double((0..<300).reduce(0) { $0 + $1 * 2 })))
        #expect(properties["okBody"] == "https://example.com/ok")
        #expect(properties["failure"]?.stringValue?.contains("connection refused") == true)
        #expect(await host.errors[1] == nil)
    }

    @Test("an async export that never waits returns its value; one that throws keeps the event's mutations")
    func asyncExportsSettlingDuringTheCall() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(1, order: 1, "async function processEvent(e) { e.properties.first = 1; return e }"),
            plugin(2, order: 2, "async function processEvent(e) { e.properties.second = 2; throw new TypeError('late') }"),
            plugin(3, order: 3, "function processEvent(e) { e.properties.third = 3; return Promise.resolve(e) }"),
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let properties = try #require(result.event?["properties"]?.objectValue)
        #expect(properties["first"] == 1)
        #expect(properties["second"] == 2)
        #expect(properties["third"] == 3)
        #expect(properties["$plugins_succeeded"] == ["plugin1 (1)", "plugin3 (3)"])
        #expect(properties["$plugins_failed"] == ["plugin2 (2)"])
        let error = try #require(await host.errors[2])
        #expect(error.name == "TypeError")
        #expect(error.message == "late")
    }

    @Test("calls whose promises settle in time are not failed by the deadlines left behind; a stuck one is")
    func deadlinesOfSettledCalls() async throws {
        let (runtime, host) = makeRuntime(taskTimeout: 1, tasksPerWorker: 50)
        await runtime.load([
            plugin(
                1,
                """
                async function processEvent(e, { cache }) {
                  if (e.properties.stuck) await new Promise(() => {})
                  await cache.get('x')
                  e.properties.done = true
                  return e
                }
                """)
        ])
        let results = await withTaskGroup(of: ChainResult.self) { group in
            for index in 0..<40 {
                group.addTask {
                    var event = sampleEvent
                    event["properties"]?["stuck"] = .bool(index == 0)
                    return await runtime.processEventChain(teamId: 2, event: event)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let done = results.filter { $0.event?["properties"]?["done"] == true }
        #expect(done.count == 39)
        let error = try #require(await host.errors[1])
        #expect(error.message == "Script execution timed out after promise waited for 1 second")
    }
}
