import Foundation
import PostHogEvents
import RedisClient
import Testing

@Suite(.serialized) struct IngestionConcurrencyTests {
    @Test("5,000 events for 500 distinct ids with interleaved identify and alias: stored once, one person per distinct id, no orphans")
    func concurrentIdentifyAndAlias() async throws {
        let harness = try await IngestionHarness.start(environment: ["WORKER_CONCURRENCY": "4", "TASKS_PER_WORKER": "25"])
        // 250 users, each seen anonymously (anon-i) and identified (user-i): 500 distinct ids.
        var messages: [[UInt8]] = []
        for round in 0..<20 {
            for user in 0..<250 {
                let anonymous = "anon-\(user)"
                let identified = "user-\(user)"
                let n = round * 250 + user
                let data: JSON
                let distinctId: String
                switch (round + user) % 5 {
                case 0:
                    data = [
                        "event": "$identify",
                        "properties": [
                            "$anon_distinct_id": .string(anonymous), "n": .number(Double(n)), "$set": ["round": .number(Double(round))],
                        ],
                    ]
                    distinctId = identified
                case 1:
                    data = ["event": "$create_alias", "properties": ["alias": .string(anonymous), "n": .number(Double(n))]]
                    distinctId = identified
                case 2:
                    data = ["event": "$pageview", "properties": ["n": .number(Double(n))]]
                    distinctId = identified
                default:
                    data = ["event": "$pageview", "properties": ["n": .number(Double(n))]]
                    distinctId = anonymous
                }
                messages.append(CeleryMessages.processEvent(distinctId: .string(distinctId), data: data))
            }
        }
        // Several producers at once, as many web workers would.
        try await withThrowingTaskGroup { group in
            for producer in 0..<5 {
                let slice = Array(messages[(producer * 1000)..<((producer + 1) * 1000)])
                group.addTask {
                    let redis = try TestEnvironment.redisClient()
                    for chunk in stride(from: 0, to: slice.count, by: 100) {
                        _ = try await redis.pipeline(
                            slice[chunk..<min(chunk + 100, slice.count)].map { ["LPUSH", RedisArgument(harness.queue), RedisArgument($0)] })
                    }
                    await redis.close()
                }
            }
            try await group.waitForAll()
        }
        try await harness.waitUntilProcessed(timeout: .seconds(180))
        let database = harness.database
        let events = try database.rows("SELECT count(*) AS rows, count(DISTINCT properties->>'n') AS distinct FROM posthog_event")[0]
        #expect(events["rows"] == 5000 && events["distinct"] == 5000)
        #expect(try await harness.deadLetterReasons().isEmpty)
        #expect(try database.count("posthog_persondistinctid") == 500)
        #expect(
            try database.scalar(
                "SELECT count(*) FROM (SELECT distinct_id FROM posthog_persondistinctid GROUP BY distinct_id HAVING count(*) > 1) d") == 0)
        #expect(
            try database.count("posthog_person p", where: "NOT EXISTS (SELECT 1 FROM posthog_persondistinctid d WHERE d.person_id = p.id)")
                == 0)
        // anon-i and user-i end up as one person.
        #expect(try database.count("posthog_person") == 250)
        #expect(
            try database.scalar(
                """
                SELECT count(*) FROM posthog_persondistinctid a JOIN posthog_persondistinctid u
                  ON u.distinct_id = 'user-' || substr(a.distinct_id, 6) WHERE a.distinct_id LIKE 'anon-%' AND a.person_id <> u.person_id
                """) == 0)
        await harness.stop()
    }

    @Test("a team with a Slack webhook gets the webhook task, accepted by a real Python Celery worker")
    func webhookTaskReachesCeleryWorker() async throws {
        let harness = try await IngestionHarness.start(prepare: {
            try $0.execute("UPDATE posthog_team SET slack_incoming_webhook = 'https://hooks.slack.com/services/x' WHERE id = 2")
        })
        let output = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("webhooks") + ".jsonl")
        let worker = Process()
        worker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        worker.arguments = [
            "python3", "-m", "celery", "-A", "webhook_worker", "worker", "--pool", "solo", "--concurrency", "1", "-Q", harness.webhookQueue,
            "--loglevel", "WARNING",
        ]
        worker.currentDirectoryURL = TestEnvironment.packageRoot.appendingPathComponent("Tests/IntegrationTests/Fixtures")
        var environment = ProcessInfo.processInfo.environment
        environment["WEBHOOK_BROKER_URL"] = TestEnvironment.redisURL
        environment["WEBHOOK_QUEUE"] = harness.webhookQueue
        environment["WEBHOOK_OUTPUT"] = output.path
        environment["PYTHONPATH"] = worker.currentDirectoryURL!.path
        worker.environment = environment
        worker.standardOutput = FileHandle.nullDevice
        worker.standardError = FileHandle.nullDevice
        try worker.run()
        defer { killHelper(worker) }

        try await harness.send(["event": "$pageview", "properties": ["x": 1], "uuid": .string(UUIDT().uuidString)], distinctId: "hooked")
        let eventId = try harness.events()[0]["id"]!
        var received: JSON?
        #expect(
            await eventually(timeout: .seconds(60)) {
                guard let text = try? String(contentsOf: output, encoding: .utf8), let line = text.split(separator: "\n").first else {
                    return false
                }
                received = try? JSON(parsing: String(line))
                return received != nil
            })
        #expect(received?["task"] == "posthog.tasks.webhooks.post_event_to_webhook")
        #expect(received?["args"] == [eventId, "http://localhost:8000"])
        #expect(received?["kwargs"] == [:])
        await harness.stop()
    }
}
