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
        await runtime.load((0..<6).map { config(10 + $0, pluginId: 7, team: 20 + $0, config: ["label": .string("team\(20 + $0)")], source) })
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
