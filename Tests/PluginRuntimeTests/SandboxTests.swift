import PostHogEvents
import Testing

@testable import PluginRuntime

@Suite struct SandboxTests {
    @Test("a JS processEvent transforms the event and the chain lists it as succeeded")
    func processEventTransforms() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(1, "function processEvent(event, meta) { event.properties.hello = meta.config.greeting; return event }", )
                .with(config: ["greeting": "world"])
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let properties = try #require(result.event?["properties"]?.objectValue)
        #expect(properties.keys == ["a", "b", "hello", "$plugins_succeeded", "$plugins_failed"])
        #expect(properties["hello"] == "world")
        #expect(properties["$plugins_succeeded"] == ["plugin1 (1)"])
        let logs = await host.logs
        #expect(logs.map(\.message) == ["Plugin loaded (instance ID instance-1)."])
    }

    @Test("TypeScript with ES exports, async functions and export default load; top-level functions count beside exports, as in 0.20.3")
    func typeScriptExports() async throws {
        let (runtime, _) = makeRuntime()
        await runtime.load([
            plugin(
                1, order: 1,
                """
                import { Plugin } from '@posthog/plugin-scaffold'
                interface Meta { config: Record<string, string> }
                export async function processEvent(event: any, { config }: Meta) { event.properties.ts = 1; return event }
                """),
            plugin(
                2, order: 2,
                """
                export default { processEvent: async (event: any) => ({ ...event, properties: { ...event.properties, def: true } }) }
                """),
            plugin(3, order: 3, "module.exports = { processEvent: (e) => { e.properties.cjs = 'yes'; return e } }"),
            // Exports a helper, leaves its entry points top-level (PostHog's event-sequence-timer plugin).
            plugin(
                4, order: 4,
                """
                export function helper(): number { return 4 }
                function processEvent(e: any) { e.properties.helped = helper(); return e }
                function runEveryMinute() {}
                """),
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let properties = try #require(result.event?["properties"]?.objectValue)
        #expect(properties["ts"] == 1)
        #expect(properties["def"] == true)
        #expect(properties["cjs"] == "yes")
        #expect(properties["helped"] == 4)
        #expect(await runtime.capabilities(configId: 4)?.scheduledTasks == ["runEveryMinute"])
        // Plugin 2 returned a new object: the original lost the $plugins_* lists (ingestion §2 quirk).
        #expect(properties["$plugins_succeeded"] == nil)
    }

    @Test("a falsy result drops the event and stops the chain")
    func falsyDrops() async throws {
        let (runtime, _) = makeRuntime()
        await runtime.load([
            plugin(1, order: 1, "function processEvent(e) { e.properties.x = 1 }"),
            plugin(2, order: 2, "function processEvent(e) { throw new Error('never') }"),
        ])
        #expect(await runtime.processEventChain(teamId: 2, event: sampleEvent) == .dropped(byConfigId: 1))
    }

    @Test("a throwing plugin is recorded and the chain continues with its mutations")
    func throwingPlugin() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(1, order: 1, "function processEvent(e) { e.properties.touched = true; throw new TypeError('bad thing') }"),
            plugin(2, order: 2, "function processEvent(e) { e.properties.second = true; return e }"),
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let properties = try #require(result.event?["properties"]?.objectValue)
        #expect(properties["touched"] == true)
        #expect(properties["second"] == true)
        #expect(properties["$plugins_failed"] == ["plugin1 (1)"])
        #expect(properties["$plugins_succeeded"] == ["plugin2 (2)"])
        let error = try #require(await host.errors[1])
        #expect(error.name == "TypeError")
        #expect(error.message == "bad thing")
        #expect(error.stack?.hasPrefix("TypeError: bad thing") == true)
        #expect(error.event?["event"] == "$pageview")
    }

    @Test("a thrown value that is not an Error is recorded as its String() with the event, and no name or stack")
    func thrownNonErrors() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(1, order: 1, "function processEvent(e) { throw 'oops' }"),
            plugin(2, order: 2, "async function processEvent(e) { throw 42 }"),
            plugin(3, order: 3, "function processEvent(e) { throw { message: 'shaped like an Error' } }"),
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        #expect(result.event?["properties"]?["$plugins_failed"] == ["plugin1 (1)", "plugin2 (2)", "plugin3 (3)"])
        for (id, message) in [(1, "oops"), (2, "42")] {
            let error = try #require(await host.errors[id])
            #expect(error.message == message)
            #expect(error.name == nil && error.stack == nil)
            #expect(error.json["event"]?["event"] == "$pageview")
            #expect(error.json["name"] == nil)
        }
        // An object with a message is taken for an Error, as the original read `error.message`.
        #expect(await host.errors[3]?.message == "shaped like an Error")
        #expect(await host.errors[3]?.name == "Error")
    }

    @Test("a plugin changing team_id is restored and counted failed")
    func teamIdRestored() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([plugin(1, "function processEvent(e) { e.team_id = 99; return e }")])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        #expect(result.event?["team_id"] == 2)
        #expect(result.event?["properties"]?["$plugins_failed"] == ["plugin1 (1)"])
        #expect(await host.errors[1]?.name == "IllegalOperationError")
    }

    @Test("a result that is not an event (string, array, number, function, sync or async) fails the plugin; the chain goes on")
    func nonEventResults() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(1, order: 1, "function processEvent(e) { e.properties.one = true; return 'not an event' }"),
            plugin(2, order: 2, "async function processEvent(e) { e.properties.two = true; return [e] }"),
            plugin(3, order: 3, "function processEvent(e) { return 42 }"),
            plugin(4, order: 4, "function processEvent(e) { return () => e }"),
            plugin(5, order: 5, "function processEvent(e) { e.properties.five = true; return e }"),
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let properties = try #require(result.event?["properties"]?.objectValue)
        // Each failing plugin's mutations stay, as for a throw.
        #expect(properties["one"] == true && properties["two"] == true && properties["five"] == true)
        #expect(properties["$plugins_failed"] == ["plugin1 (1)", "plugin2 (2)", "plugin3 (3)", "plugin4 (4)"])
        #expect(properties["$plugins_succeeded"] == ["plugin5 (5)"])
        for (id, what) in [(1, "a string"), (2, "an array"), (3, "a number"), (4, "a function")] {
            let error = try #require(await host.errors[id])
            #expect(error.name == "TypeError")
            #expect(
                error.message == "processEvent returned \(what) instead of the event: return the event object, or a falsy value to drop it")
        }
    }

    @Test("an event whose toJSON turns it into something else fails the plugin; the chain goes on with the event as it was")
    func eventTurnedIntoOtherJSON() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(1, order: 1, "function processEvent(e) { e.properties.one = true; e.toJSON = () => 'pwned'; return e }"),
            plugin(2, order: 2, "function processEvent(e) { Object.prototype.toJSON = function () { return [1] }; return e }"),
            plugin(3, order: 3, "function processEvent(e) { e.properties.three = true; return e }"),
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let event = try #require(result.event?.objectValue)
        #expect(event["team_id"] == 2 && event["event"] == sampleEvent["event"])
        #expect(event["properties"]?["one"] == nil && event["properties"]?["three"] == true)
        #expect(event["properties"]?["$plugins_failed"] == ["plugin1 (1)", "plugin2 (2)"])
        #expect(event["properties"]?["$plugins_succeeded"] == ["plugin3 (3)"])
        for (id, what) in [(1, "a string"), (2, "an array")] {
            let error = try #require(await host.errors[id])
            #expect(error.name == "TypeError")
            #expect(error.message.hasPrefix("processEvent returned an event whose toJSON gives \(what) instead of an object"))
        }
    }

    @Test("a returned event whose toJSON never ends is stopped by the execution time limit, sync or async")
    func endlessToJSON() async throws {
        let (runtime, host) = makeRuntime(taskTimeout: 5, executionLimit: 0.3)
        await runtime.load([
            plugin(1, order: 1, "function processEvent(e) { e.properties.x = { toJSON() { while (true) {} } }; return e }"),
            plugin(2, order: 2, "async function processEvent(e) { await null; e.properties.y = { toJSON() { for (;;) {} } }; return e }"),
            plugin(3, order: 3, "function processEvent(e) { e.properties.ok = true; return e }"),
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let properties = try #require(result.event?["properties"]?.objectValue)
        #expect(properties["ok"] == true && properties["x"] == nil && properties["y"] == nil)
        #expect(properties["$plugins_failed"] == ["plugin1 (1)", "plugin2 (2)"])
        try await expectTimedOut(host, configs: [1, 2], after: "0.3")
    }

    @Test("synchronous endless loops are stopped by the execution time limit; other plugins keep working")
    func syncTimeout() async throws {
        let (runtime, host) = makeRuntime(taskTimeout: 5, executionLimit: 0.3)
        await runtime.load([
            plugin(1, order: 1, "function processEvent(e) { while (true) {} }"),
            plugin(2, order: 2, "function processEvent(e) { e.properties.ok = true; return e }"),
            // Loops spending their time inside the engine's builtins, where a stop request used to
            // wait for a moment in compiled code that never came.
            plugin(3, order: 3, "function processEvent(e) { while (true) { Date.now() } }"),
            plugin(4, order: 4, "function processEvent(e) { for (;;) JSON.stringify(e) }"),
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        #expect(result.event?["properties"]?["ok"] == true)
        for id in [1, 3, 4] {
            let error = try #require(await host.errors[id])
            #expect(error.message == "Script execution timed out after 0.3 seconds")
            #expect(error.name == "TimeoutError")
        }
        // The sandbox survives and runs again.
        let again = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        #expect(again.event?["properties"]?["$plugins_failed"] == ["plugin1 (1)", "plugin3 (3)", "plugin4 (4)"])
    }

    @Test("endless chains of promise callbacks are stopped by the execution time limit; other plugins keep working")
    func endlessMicrotasks() async throws {
        let (runtime, host) = makeRuntime(taskTimeout: 5, executionLimit: 0.3)
        await runtime.load([
            plugin(1, order: 1, "async function processEvent(e) { while (true) await null }"),
            plugin(2, order: 2, "function processEvent(e) { function f() { Promise.resolve().then(f) }; f(); return e }"),
            plugin(3, order: 3, "function processEvent(e) { e.properties.ok = true; return e }"),
        ])
        for _ in 0..<3 {
            let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
            let properties = try #require(result.event?["properties"]?.objectValue)
            #expect(properties["ok"] == true)
            #expect(properties["$plugins_succeeded"] == ["plugin3 (3)"])
            #expect(properties["$plugins_failed"] == ["plugin1 (1)", "plugin2 (2)"])
        }
        try await expectTimedOut(host, configs: [1, 2], after: "0.3")
    }

    /// Each config's recorded error is the execution time limit's `TimeoutError`.
    private func expectTimedOut(_ host: InMemoryPluginHost, configs: [Int], after seconds: String) async throws {
        for id in configs {
            let error = try #require(await host.errors[id])
            #expect(error.name == "TimeoutError")
            #expect(error.message == "Script execution timed out after \(seconds) seconds")
        }
    }

    @Test("a plugin filling memory in a loop is stopped once the process passes the memory limit; the server goes on")
    func memoryLimit() async throws {
        let limit = try #require(Watchdog.residentBytes()) + (256 << 20)
        let (runtime, host) = makeRuntime(executionLimit: 60, memoryLimitBytes: limit)
        await runtime.load([
            plugin(1, order: 1, "function processEvent(e) { const keep = []; while (true) keep.push(new Array(1e6).fill(e.event)) }"),
            plugin(2, order: 2, "function processEvent(e) { e.properties.ok = true; return e }"),
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        #expect(result.event?["properties"]?["ok"] == true)
        #expect(result.event?["properties"]?["$plugins_failed"] == ["plugin1 (1)"])
        let error = try #require(await host.errors[1])
        #expect(error.name == "RangeError")
        #expect(error.message == "Out of memory: stopped while the server's memory passed its limit of \(limit >> 20) MB")
        await runtime.collectGarbage()
        await runtime.teardownAll()
    }

    @Test("memory a stopped plugin still holds is not blamed on the next plugin that runs long")
    func memoryLimitBlamesTheGrowth() async throws {
        let limit = try #require(Watchdog.residentBytes()) + (256 << 20)
        let (runtime, host) = makeRuntime(executionLimit: 60, memoryLimitBytes: limit)
        await runtime.load([
            // Keeps what it filled: the process stays above the limit after it is stopped.
            plugin(
                1, order: 1,
                "const kept = []; function processEvent(e) { if (e.event === 'hog') { while (true) kept.push(new Array(1e6).fill(1)) } return e }"
            ),
            plugin(
                2, order: 2,
                """
                function processEvent(e) {
                    const end = Date.now() + 400
                    let n = 0
                    for (const _ of Array(1e9).keys()) { if (Date.now() > end) break; n++ }
                    e.properties.busy = n > 0
                    return e
                }
                """),
        ])
        var hog = sampleEvent
        hog["event"] = "hog"
        _ = await runtime.processEventChain(teamId: 2, event: hog)
        #expect(await host.errors[1]?.name == "RangeError")
        #expect(try #require(Watchdog.residentBytes()) > limit, "the test needs the process above the limit")
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        #expect(result.event?["properties"]?["busy"] == true)
        #expect(await host.errors[2] == nil)
        await runtime.teardownAll()
    }

    @Test("a never-resolving promise times out after TASK_TIMEOUT with the original text")
    func promiseTimeout() async throws {
        let (runtime, host) = makeRuntime(taskTimeout: 1)
        await runtime.load([
            plugin(1, order: 1, "async function processEvent(e) { await new Promise(() => {}); return e }"),
            plugin(2, order: 2, "function processEvent(e) { e.properties.ok = true; return e }"),
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        #expect(result.event?["properties"]?["ok"] == true)
        let error = try #require(await host.errors[1])
        #expect(error.message == "Script execution timed out after promise waited for 1 second")
        #expect(error.name == "TimeoutError")
    }

    @Test("console formats arguments per the reference and writes CONSOLE entries")
    func consoleFormatting() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                function setupPlugin() {
                  console.log(); console.info('number =', 987); console.warn(new Error('something'));
                  console.error({1: 'ein', 2: 'zwei'}); console.debug([99, 79]);
                  const cyclic = {}; cyclic.self = cyclic; console.log(cyclic);
                }
                """)
        ])
        try await settleHost()
        let entries = await host.logs.filter { $0.source == .console }
        #expect(
            entries.map(\.message) == ["", "number = 987", "Error: something", #"{"1":"ein","2":"zwei"}"#, "[99,79]", "[object Object]"])
        #expect(entries.map(\.type) == [.log, .info, .warn, .error, .debug, .log])
    }
}

extension PluginConfigDescriptor {
    func with(config: JSONObject) -> PluginConfigDescriptor {
        var copy = self
        copy.config = config
        return copy
    }
}
