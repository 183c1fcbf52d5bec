import Foundation
import PostHogEvents
import RedisClient
import Testing

/// The scheduler and the job queue through the real binary, each on its own Redis so the leader
/// locks belong to the test.
@Suite(.serialized) struct ScheduleAndJobsTests {
    static func environment(_ database: TestDatabase, redis: PrivateRedis, queue: String) -> [String: String] {
        var environment = ServerProcess.environment(database: database, redisURL: redis.url, queue: queue)
        environment["SCHEDULE_MINUTE_SECONDS"] = "1"
        environment["SCHEDULE_LOCK_TTL"] = "2"
        return environment
    }

    @Test("runEveryMinute runs on one instance only, and another takes over when it stops")
    func scheduleHasOneLeader() async throws {
        let redis = try PrivateRedis()
        defer { redis.destroy() }
        let database = try await TestDatabase.create()
        defer { database.drop() }
        try PluginPipelineTests.installSourcePlugin(
            database, name: "ticker", source: "export function runEveryMinute() { console.log('tick') }")
        let queue = TestEnvironment.uniqueName("q")
        let first = ServerProcess(environment: Self.environment(database, redis: redis, queue: queue))
        try first.start()
        #expect(await eventually { (try? database.count("posthog_pluginlogentry", where: "message = 'tick'")) ?? 0 >= 2 }, "\(first.log)")
        let second = ServerProcess(environment: Self.environment(database, redis: redis, queue: queue))
        try second.start()
        try await Task.sleep(for: .seconds(4))
        let whileBoth = try database.rows("SELECT DISTINCT instance_id FROM posthog_pluginlogentry WHERE message = 'tick'")
        #expect(whileBoth.count == 1, "only the leader runs the schedule")
        let leader = whileBoth.first?["instance_id"]

        #expect(await first.terminate() == 0)
        #expect(
            await eventually(timeout: .seconds(20)) {
                (try? database.count("posthog_pluginlogentry", where: "message = 'tick' AND instance_id <> '\(leader?.stringValue ?? "")'"))
                    ?? 0 >= 1
            }, "\(second.log)")
        #expect(await second.terminate() == 0)
    }

    @Test("runNow and runIn jobs run, and a queued job survives a restart")
    func jobs() async throws {
        let redis = try PrivateRedis()
        defer { redis.destroy() }
        let database = try await TestDatabase.create()
        defer { database.drop() }
        let configId = try PluginPipelineTests.installSourcePlugin(
            database, name: "jobber",
            source: """
                export const jobs = {
                    record: async (payload, { storage }) => { await storage.set(payload.key, payload.value) }
                }
                export async function processEvent(event, { jobs }) {
                    await jobs.record({ key: 'now', value: event.event }).runNow()
                    await jobs.record({ key: 'later', value: event.event }).runIn(4, 'seconds')
                    return event
                }
                """
        ).1
        let queue = TestEnvironment.uniqueName("q")
        let environment = Self.environment(database, redis: redis, queue: queue)
        let first = ServerProcess(environment: environment)
        try first.start()
        let client = try TestEnvironment.redisClient(url: redis.url)
        _ = try await client.send(
            "LPUSH", [RedisArgument(queue), RedisArgument(CeleryMessages.processEvent(data: ["event": "queued job"]))])
        func stored(_ key: String) throws -> JSON? {
            try database.scalar("SELECT value FROM posthog_pluginstorage WHERE plugin_config_id = \(configId) AND key = '\(key)'")
        }
        #expect(await eventually { (try? stored("now")) == "\"queued job\"" }, "\(first.log)")
        #expect(try stored("later") == nil)
        #expect(await first.terminate() == 0)
        #expect(try database.count("graphile_worker.jobs") == 1, "the runIn job waits in the table across the restart")

        let second = ServerProcess(environment: environment)
        try second.start()
        #expect(await eventually(timeout: .seconds(20)) { (try? stored("later")) == "\"queued job\"" }, "\(second.log)")
        #expect(await eventually { (try? database.count("graphile_worker.jobs")) == 0 })
        #expect(await second.terminate() == 0)
        await client.close()
    }
}
