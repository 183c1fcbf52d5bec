import PostHogEvents
import Testing

@testable import PluginRuntime

/// The configs of one plugin share a JavaScript context per worker, each keeping what the original's
/// VM per config gave it: its own module state, `global`, `meta` and bindings.
@Suite struct SharedContextTests {
    private func config(_ id: Int, pluginId: Int, team: Int, config: JSONObject = [:], _ source: String) -> PluginConfigDescriptor {
        PluginConfigDescriptor(
            id: id, teamId: team, pluginId: pluginId, pluginName: "shared", order: 0, config: config, code: .source(source),
            updatedMarker: "v1")
    }

    private func event(team: Int) -> JSON {
        ["event": "$pageview", "distinct_id": "user1", "team_id": .number(Double(team)), "properties": [:]]
    }

    @Test("configs of one plugin share a context yet keep their own module state, global and config")
    func moduleStatePerConfig() async throws {
        let (runtime, _) = makeRuntime(workers: 2)
        let source = """
            const fetch = require('node-fetch')
            let count = 0
            var label
            function setupPlugin({ config, global }) { label = config.label; global.label = config.label; globalThis.seen = config.label }
            function processEvent(event, { config, global }) {
                count += 1
                event.properties = { count, label, global: global.label, globalThis: globalThis.seen,
                    configured: config.label, fetchType: typeof fetch }
                return event
            }
            """
        await runtime.load(
            (0..<6).map { config(10 + $0, pluginId: 7, team: 20 + $0, config: ["label": .string("team\(20 + $0)")], source) })
        #expect(await runtime.sandboxCounts() == [6, 6])
        #expect(await runtime.contextCounts() == [1, 1])
        for team in 20..<26 {
            for round in 1...3 {
                let properties = await runtime.processEventChain(teamId: team, event: event(team: team)).event?["properties"]
                let label = JSON.string("team\(team)")
                #expect(properties?["label"] == label)
                #expect(properties?["global"] == label)
                #expect(properties?["globalThis"] == label)
                #expect(properties?["configured"] == label)
                #expect(properties?["fetchType"] == "function")
                // Each config counts its own events on the worker that ran it: never more than its own.
                #expect((properties?["count"]?.numberValue ?? 0) >= 1 && (properties?["count"]?.numberValue ?? 99) <= Double(round))
            }
        }
        await runtime.teardownAll()
        #expect(await runtime.contextCounts() == [0, 0])
    }

    @Test("configs loaded together (several chunks on each worker) keep their own outcome, config and attachments")
    func chunkedLoadOutcomes() async throws {
        let (runtime, host) = makeRuntime(workers: 2)
        let source = """
            let label
            async function setupPlugin({ config, cache }) {
                if (config.fail === 'yes') throw new Error('setup failed for ' + config.label)
                // One config waits on the host while the others of its chunk go on loading.
                if (config.wait === 'yes') await cache.set('waited', config.label)
                label = config.label
            }
            function processEvent(event, { config, attachments }) {
                event.properties = { label, configured: config.label, attachment: attachments.file ? attachments.file.contents.toString() : null,
                    frozen: Object.isFrozen(attachments) }
                return event
            }
            """
        let descriptors = (0..<21).map { index -> PluginConfigDescriptor in
            var settings: JSONObject = ["label": .string("c\(index)")]
            if index == 3 || index == 17 { settings["fail"] = "yes" }
            if index == 9 { settings["wait"] = "yes" }
            var descriptor = config(100 + index, pluginId: 8, team: 200 + index, config: settings, source)
            if index == 5 {
                descriptor.attachments = [
                    PluginAttachment(key: "file", contentType: "text/plain", fileName: "f.txt", contents: Array("hello".utf8))
                ]
            }
            return descriptor
        }
        await runtime.load(descriptors)
        #expect(await runtime.sandboxCounts() == [19, 19])
        for index in 0..<21 {
            let loaded = await runtime.capabilities(configId: 100 + index) != nil
            #expect(loaded == !(index == 3 || index == 17))
        }
        #expect(await host.errors[103]?.message == "setup failed for c3")
        #expect(await host.errors[117]?.message == "setup failed for c17")
        #expect(await host.cache["@plugin/8/209/waited"] == "\"c9\"")
        for index in [0, 5, 9, 20] {
            let properties = await runtime.processEventChain(teamId: 200 + index, event: event(team: 200 + index)).event?["properties"]
            #expect(properties?["label"] == .string("c\(index)"))
            #expect(properties?["configured"] == .string("c\(index)"))
            #expect(properties?["attachment"] == (index == 5 ? "hello" : .null))
            #expect(properties?["frozen"] == true)
        }
        await runtime.teardownAll()
    }

    @Test("a plugin writing an undeclared global while loading gets a context per config, its state still per config")
    func globalWritersAreIsolated() async throws {
        let (runtime, _) = makeRuntime()
        let source = """
            function setupPlugin({ config }) { teamLabel = config.label }
            function processEvent(event) { event.properties.label = teamLabel; return event }
            """
        await runtime.load((0..<3).map { config(30 + $0, pluginId: 8, team: 40 + $0, config: ["label": .string("t\($0)")], source) })
        #expect(await runtime.contextCounts() == [3])
        for index in 0..<3 {
            let properties = await runtime.processEventChain(teamId: 40 + index, event: event(team: 40 + index)).event?["properties"]
            #expect(properties?["label"] == .string("t\(index)"))
        }
        await runtime.teardownAll()
    }

    @Test("an undeclared global written while handling an event is the config's own, as in the original's VM per config")
    func runtimeGlobalWritesStayPerConfig() async throws {
        let (runtime, _) = makeRuntime()
        let source = """
            function processEvent(event, { config }) {
                if (config.writer) leaked = event.properties.secret
                event.properties.seen = typeof leaked === 'undefined' ? null : leaked
                parts = event.event.split(':')
                event.properties.first = parts[0]
                return event
            }
            """
        await runtime.load([config(70, pluginId: 11, team: 80, config: ["writer": true], source)])
        await runtime.load([config(71, pluginId: 11, team: 81, source)])
        #expect(await runtime.contextCounts() == [2])
        var secretEvent = event(team: 80)
        secretEvent["event"] = "a:b"
        secretEvent["properties"] = ["secret": "s3cret"]
        let written = await runtime.processEventChain(teamId: 80, event: secretEvent).event?["properties"]
        #expect(written?["seen"] == "s3cret" && written?["first"] == "a")
        #expect(written?["$plugins_failed"] == [])
        let other = await runtime.processEventChain(teamId: 81, event: event(team: 81)).event?["properties"]
        #expect(other?["seen"] == .null && other?["first"] == "$pageview")
        await runtime.teardownAll()
    }

    @Test("a later config whose load needs an undeclared global is loaded in a context of its own")
    func referenceErrorRetriesAlone() async throws {
        let (runtime, host) = makeRuntime()
        let source = """
            function setupPlugin({ config }) { if (config.late) { lateGlobal = 1; lateGlobal += 1 } }
            function processEvent(event) { event.properties.late = typeof lateGlobal === 'undefined' ? null : lateGlobal; return event }
            """
        await runtime.load([config(90, pluginId: 12, team: 100, source)])
        await runtime.load([config(91, pluginId: 12, team: 101, config: ["late": true], source)])
        #expect(await runtime.capabilities(configId: 91) != nil)
        #expect(await host.errors[91] == nil)
        #expect(await runtime.contextCounts() == [2])
        #expect(await runtime.processEventChain(teamId: 101, event: event(team: 101)).event?["properties"]?["late"] == 2)
        #expect(await runtime.processEventChain(teamId: 100, event: event(team: 100)).event?["properties"]?["late"] == .null)
        await runtime.teardownAll()
    }

    @Test("builtins work in a shared context after its global object is sealed")
    func builtinsAfterSeal() async throws {
        let (runtime, _) = makeRuntime()
        let source = """
            function processEvent(event) {
                const parts = [new Intl.NumberFormat('en-US').format(1234.5), new Map([[1, 2]]).get(1), typeof Symbol('s'),
                    new Date(0).toISOString(), new Proxy({}, { get: () => 'p' }).x, new URL('https://a.test/b?c=1').searchParams.get('c'),
                    Buffer.from('hi').toString('base64'), JSON.stringify([Math.max(1, 2)]), typeof WeakRef, new TextEncoder().encode('é').length,
                    Array.from(new Set([1, 1, 2])).length, typeof Promise.allSettled, 'abc'.replaceAll('b', 'x'), Object.fromEntries([['k', 'v']]).k]
                event.properties.parts = parts
                return event
            }
            """
        await runtime.load((0..<2).map { config(110 + $0, pluginId: 13, team: 120 + $0, source) })
        #expect(await runtime.contextCounts() == [1])
        for team in 120..<122 {
            let parts = await runtime.processEventChain(teamId: team, event: event(team: team)).event?["properties"]?["parts"]
            #expect(
                parts == [
                    "1,234.5", 2, "symbol", "1970-01-01T00:00:00.000Z", "p", "1", "aGk=", "[2]", "function", 2, 2, "function", "axc", "v",
                ])
        }
        await runtime.teardownAll()
    }

    @Test("unloading one config leaves the others of its context working; another plugin gets its own context")
    func unloadOneKeepsOthers() async throws {
        let (runtime, _) = makeRuntime()
        let shared = "function processEvent(event, { config }) { event.properties.by = config.name; return event }"
        let configs = [
            config(50, pluginId: 9, team: 60, config: ["name": "a"], shared),
            config(51, pluginId: 9, team: 61, config: ["name": "b"], shared),
            config(52, pluginId: 10, team: 62, config: ["name": "c"], shared),
        ]
        await runtime.load(configs)
        #expect(await runtime.contextCounts() == [2])
        await runtime.reload(Array(configs.dropFirst()))
        #expect(await runtime.sandboxCounts() == [2])
        #expect(await runtime.contextCounts() == [2])
        #expect(await runtime.processEventChain(teamId: 61, event: event(team: 61)).event?["properties"]?["by"] == "b")
        #expect(await runtime.processEventChain(teamId: 62, event: event(team: 62)).event?["properties"]?["by"] == "c")
        #expect(await runtime.processEventChain(teamId: 60, event: event(team: 60)).event?["properties"]?["by"] == nil)
        await runtime.teardownAll()
        #expect(await runtime.contextCounts() == [0])
    }
}
