import Foundation
import PostHogEvents
import RedisClient
import Testing

/// exportEvents through the real binary (reference §13.2): an exporter posting to a loopback receiver
/// that fails the first attempts, with the server killed in the middle of buffering.
@Suite(.serialized) struct ExportEventsTests {
    static let exporter = """
        import { RetryError } from '@posthog/plugin-scaffold'
        export async function exportEvents(events, { config }) {
            const response = await fetch(config.url, {
                method: 'POST', headers: { 'Content-Type': 'application/json' },
                body: JSON.stringify(events.map((e) => e.properties.n)),
            })
            if (!response.ok) throw new RetryError('receiver answered ' + response.status)
        }
        """

    /// The numbers the receiver accepted (answered 200), in arrival order.
    static func delivered(_ receiver: LoopbackHTTPServer) -> [Int] {
        receiver.received.filter { $0.path == "/export" && $0.status == 200 }.flatMap { request in
            ((try? JSON(parsing: request.body))?.arrayValue ?? []).compactMap(\.intValue)
        }
    }

    @Test("every event arrives exactly once after RetryErrors, across a kill -9 while buffering and a graceful stop")
    func exactlyOnceAcrossCrash() async throws {
        let redis = try PrivateRedis()
        defer { redis.destroy() }
        let database = try await TestDatabase.create()
        defer { database.drop() }
        let receiver = try await LoopbackHTTPServer.start()
        defer { receiver.stop() }
        receiver.failNext(2, path: "/export")
        let configId = try PluginPipelineTests.installSourcePlugin(
            database, name: "exporter",
            config: ["url": .string("http://127.0.0.1:\(receiver.port)/export"), "exportEventsBufferSeconds": "600"],
            source: Self.exporter
        ).1
        let queue = TestEnvironment.uniqueName("q")
        let environment = ServerProcess.environment(database: database, redisURL: redis.url, queue: queue)
        let client = try TestEnvironment.redisClient(url: redis.url)
        func send(_ n: Int) async throws {
            let message = CeleryMessages.processEvent(data: PluginPipelineTests.event("export me", properties: ["n": .number(Double(n))]))
            _ = try await client.send("LPUSH", [RedisArgument(queue), RedisArgument(message)])
        }
        func buffered() async -> Int {
            let keys = (try? await client.send("KEYS", [RedisArgument("@plugin-server/export-buffer/\(configId)/buffer/*")]).array) ?? []
            var total = 0
            for key in keys.compactMap(\.string) { total += (try? await client.send("HLEN", [RedisArgument(key)]).int) ?? 0 }
            return total
        }

        // 1. Three events buffered (600 s age limit, 1 MiB size limit: nothing flushes), then kill -9.
        let first = ServerProcess(environment: environment)
        try first.start()
        for n in 1...3 { try await send(n) }
        #expect(await eventually { await buffered() == 3 }, "\(first.log)")
        #expect(receiver.received.isEmpty)
        await first.kill9()

        // 2. A new instance takes the dead one's buffer over once its liveness key expired; the receiver
        // fails twice (RetryError: retry jobs after 6 s and 12 s), then accepts.
        let second = ServerProcess(environment: environment)
        try second.start()
        #expect(await eventually(timeout: .seconds(90)) { Self.delivered(receiver).count >= 3 }, "\(second.log)")
        #expect(Self.delivered(receiver).sorted() == [1, 2, 3])
        #expect(receiver.received.filter { $0.status == 500 }.count == 2)
        #expect(await buffered() == 0)

        // 3. Two more events, flushed by the graceful stop's teardown.
        for n in 4...5 { try await send(n) }
        #expect(await eventually { await buffered() == 2 }, "\(second.log)")
        #expect(await second.terminate() == 0)
        #expect(await eventually { Self.delivered(receiver).count >= 5 })
        // Nothing twice, however the batches were cut.
        #expect(Self.delivered(receiver).sorted() == [1, 2, 3, 4, 5])
        #expect(try database.count("graphile_worker.jobs") == 0)
        await client.close()
    }
}
