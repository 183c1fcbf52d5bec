import Foundation
import PostHogEvents
import Testing

@testable import PluginRuntime

/// The 0.20.3 `processEventBatch` task (reference §9.3): a team's batch piped through each config in
/// order, as one task on one worker.
@Suite struct BatchTaskTests {
    static func events(_ count: Int) -> [JSON] {
        (0..<count).map { i in ["event": .string("e\(i)"), "distinct_id": "user1", "team_id": 2, "properties": ["i": .number(Double(i))]] }
    }

    @Test("batches go through processEvent-only, batch-only and mixed plugins in order; falsy events are dropped")
    func pipesThroughEachConfig() async throws {
        let (runtime, host) = makeRuntime(workers: 2)
        await runtime.load([
            plugin(
                1, order: 1, name: "single",
                "function processEvent(e) { if (e.properties.i % 3 === 0) return null; e.properties.seen = ['single']; return e }"),
            plugin(
                2, order: 2, name: "batch",
                "async function processEventBatch(events) { return events.map((e) => { e.properties.seen.push('batch'); return e }) }"),
        ])
        let out = await runtime.processEventBatch(teamId: 2, events: Self.events(10))
        #expect(out.map { $0["event"]?.stringValue } == ["e1", "e2", "e4", "e5", "e7", "e8"])
        for event in out {
            #expect(event["properties"]?["seen"] == ["single", "batch"])
            #expect(event["properties"]?["$plugins_succeeded"] == ["single (1)", "batch (2)"])
            #expect(event["properties"]?["$plugins_failed"] == [])
        }
        #expect(runtime.tasksInFlight == [0, 0])
        await runtime.teardownAll()
        #expect(await host.errors.isEmpty)
    }

    @Test("a batch derived from processEvent waits only for the promises among the results, in order")
    func derivedBatchWithSomePromises() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1, order: 1, name: "mixed",
                """
                function processEvent(e, { cache }) {
                  const i = e.properties.i
                  if (i === 4) return null
                  e.properties.late = i % 2 === 1
                  return i % 2 === 1 ? cache.get('k' + i).then(() => e) : e
                }
                """),
            plugin(2, order: 2, name: "sync", "function processEvent(e) { e.properties.sync = true; return e }"),
        ])
        let out = await runtime.processEventBatch(teamId: 2, events: Self.events(8))
        #expect(out.map { $0["event"]?.stringValue } == ["e0", "e1", "e2", "e3", "e5", "e6", "e7"])
        #expect(out.map { $0["properties"]?["late"] } == [false, true, false, true, true, false, true])
        #expect(out.allSatisfy { $0["properties"]?["sync"] == true })
        #expect(out.allSatisfy { $0["properties"]?["$plugins_succeeded"] == ["mixed (1)", "sync (2)"] })
        #expect(await host.errors.isEmpty)
    }

    @Test("a failing plugin keeps the batch it was handed; a falsy result empties it; team_id cannot move")
    func failuresAndTeamMoves() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(1, order: 1, name: "thrower", "function processEventBatch(events) { throw new Error('batch boom') }"),
            plugin(2, order: 2, name: "mover", "function processEventBatch(events) { events[0].team_id = 99; return events }"),
        ])
        let out = await runtime.processEventBatch(teamId: 2, events: Self.events(2))
        #expect(out.count == 2)
        #expect(out.allSatisfy { $0["team_id"] == 2 })
        #expect(out.first?["properties"]?["$plugins_failed"] == ["thrower (1)", "mover (2)"])
        #expect(await host.errors[1]?.message == "batch boom")
        #expect(await host.errors[2]?.name == "IllegalOperationError")

        await runtime.load([plugin(3, order: 3, name: "dropper", "function processEventBatch(events) { return null }")])
        #expect(await runtime.processEventBatch(teamId: 2, events: Self.events(3)).isEmpty)
        // Another team's events are untouched.
        #expect(await runtime.processEventBatch(teamId: 5, events: Self.events(3)) == Self.events(3))
        await runtime.teardownAll()
    }
}
