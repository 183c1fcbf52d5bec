import Foundation
import PostHogEvents
import RedisClient
import Testing

/// The skeleton's promises, through the real binary: Celery messages in Redis, rows in Postgres,
/// no message lost or stored twice whatever happens to the server, Postgres or Redis.
@Suite(.serialized) struct CeleryQueueTests {
    static func event(_ n: Int, distinctId: String = "user") -> [UInt8] {
        CeleryMessages.processEvent(
            distinctId: .string(distinctId),
            data: ["event": "$pageview", "properties": ["n": .number(Double(n)), "$current_url": "https://example.com"]])
    }

    static func push(_ messages: [[UInt8]], to queue: String, redis: RedisClient) async throws {
        for chunk in stride(from: 0, to: messages.count, by: 200) {
            let batch = messages[chunk..<min(chunk + 200, messages.count)]
            _ = try await redis.pipeline(batch.map { ["LPUSH", RedisArgument(queue), RedisArgument($0)] })
        }
    }

    /// Events stored exactly once: as many rows as distinct markers, and all markers present.
    static func storedMarkers(_ database: TestDatabase) throws -> (rows: Int, distinct: Int) {
        let row = try database.rows("SELECT count(*) AS rows, count(DISTINCT properties->>'n') AS distinct FROM posthog_event").first
        return (row?["rows"]?.intValue ?? -1, row?["distinct"]?.intValue ?? -1)
    }

    @Test("Celery messages become events with their person and distinct id")
    func storesEvents() async throws {
        let database = try await TestDatabase.create()
        defer { database.drop() }
        let queue = TestEnvironment.uniqueName("q")
        let redis = try TestEnvironment.redisClient()
        let server = ServerProcess(environment: ServerProcess.environment(database: database, queue: queue))
        try server.start()
        try await Self.push((0..<20).map { Self.event($0, distinctId: "user-\($0 % 4)") }, to: queue, redis: redis)
        #expect(await eventually { (try? database.count("posthog_event")) == 20 }, "\(server.log)")
        #expect(try database.count("posthog_person") == 4)
        #expect(try database.count("posthog_persondistinctid", where: "distinct_id LIKE 'user-%'") == 4)
        let first = try database.rows(
            "SELECT event, distinct_id, team_id, properties, elements, elements_hash FROM posthog_event ORDER BY id LIMIT 1")[0]
        #expect(first["event"] == "$pageview")
        #expect(first["team_id"] == 2)
        #expect(first["properties"]?["$ip"] == "127.0.0.1")
        #expect(first["elements"] == [])
        #expect(first["elements_hash"] == "")
        #expect(try await redis.send("LLEN", [RedisArgument(queue)]).int == 0)
        #expect(await server.terminate() == 0)
        await redis.close()
    }

    @Test("PostHog's own Python Celery client feeds the server unchanged")
    func pythonCeleryClient() async throws {
        let database = try await TestDatabase.create()
        defer { database.drop() }
        let queue = TestEnvironment.uniqueName("q")
        let server = ServerProcess(environment: ServerProcess.environment(database: database, queue: queue))
        try server.start()
        try runCommand(
            "python3",
            [
                TestEnvironment.packageRoot.appendingPathComponent("scripts/send_event.py").path, "--redis-url", TestEnvironment.redisURL,
                "--queue", queue, "--event", "python event", "--distinct-id", "py-user", "--properties", #"{"café": "💻", "n": 1}"#,
                "--count", "5",
            ])
        #expect(await eventually { (try? database.count("posthog_event", where: "event = 'python event'")) == 5 }, "\(server.log)")
        let properties = try database.scalar("SELECT properties FROM posthog_event LIMIT 1")
        #expect(properties?["café"] == "💻")
        #expect(try database.count("posthog_persondistinctid", where: "distinct_id = 'py-user'") == 1)
        #expect(await server.terminate() == 0)
    }

    @Test("kill -9 with 3,000 events queued, then a restart: all 3,000 stored, none twice")
    func killNineLosesNothing() async throws {
        let database = try await TestDatabase.create()
        defer { database.drop() }
        let queue = TestEnvironment.uniqueName("q")
        let redis = try TestEnvironment.redisClient()
        try await Self.push((0..<3000).map { Self.event($0, distinctId: "user-\($0 % 50)") }, to: queue, redis: redis)
        let environment = ServerProcess.environment(database: database, queue: queue)
        let first = ServerProcess(environment: environment)
        try first.start()
        #expect(await eventually(every: .milliseconds(10)) { ((try? database.count("posthog_event")) ?? 0) >= 150 })
        await first.kill9()
        let afterKill = try Self.storedMarkers(database).rows
        #expect(afterKill < 3000, "the kill should land mid-stream")

        let second = ServerProcess(environment: environment)
        try second.start()
        #expect(await eventually(timeout: .seconds(60)) { (try? Self.storedMarkers(database).rows) == 3000 }, "\(second.log)")
        try await Task.sleep(for: .seconds(3))  // a late duplicate would show up here
        let stored = try Self.storedMarkers(database)
        #expect(stored.rows == 3000 && stored.distinct == 3000)
        #expect(try await redis.send("LLEN", [RedisArgument(queue)]).int == 0)
        #expect(await second.terminate() == 0)
        await redis.close()
    }

    @Test("1,000 malformed messages among 1,000 good ones: 1,000 stored, 1,000 dead-lettered with reasons, server still up")
    func malformedMessagesAreSetAside() async throws {
        let database = try await TestDatabase.create()
        defer { database.drop() }
        let queue = TestEnvironment.uniqueName("q")
        let redis = try TestEnvironment.redisClient()
        let malformed: [[UInt8]] = [
            Array("not json at all".utf8),
            Array(#"{"body": 1}"#.utf8),
            CeleryMessages.envelope(task: "posthog.tasks.unknown", args: []),
            CeleryMessages.envelope(args: ["only", "three", "args"]),
            CeleryMessages.envelope(args: ["id", nil, nil, "data is not an object", 2, "2021-05-11T10:00:00Z", nil]),
            CeleryMessages.processEvent(data: ["event": "$pageview", "properties": [:]], teamId: 1337),
            Array(
                #"{"body":"e30=","content-type":"application/x-python-serialize","content-encoding":"binary","headers":{},"properties":{"body_encoding":"base64"}}"#
                    .utf8),
            CeleryMessages.processEvent(data: ["event": "x", "uuid": "this is not an uuid"]),
        ]
        var messages: [[UInt8]] = []
        for n in 0..<1000 {
            messages.append(Self.event(n))
            var bad = malformed[n % malformed.count]
            bad.append(contentsOf: Array(" ".utf8))  // unique bytes (JSON ignores trailing space) so each is its own message
            bad.append(contentsOf: Array(repeating: UInt8(ascii: " "), count: n % 7))
            messages.append(n % malformed.count == 0 ? Array("not json at all #\(n)".utf8) : bad)
        }
        let server = ServerProcess(environment: ServerProcess.environment(database: database, queue: queue))
        try server.start()
        try await Self.push(messages, to: queue, redis: redis)
        let deadLetter = queue + ":dead-letter"
        #expect(await eventually(timeout: .seconds(60)) { (try? await redis.send("LLEN", [RedisArgument(deadLetter)]).int) == 1000 })
        #expect(await eventually { (try? Self.storedMarkers(database).rows) == 1000 })
        #expect(server.isRunning)
        let entries = try await redis.send("LRANGE", [RedisArgument(deadLetter), 0, -1]).array ?? []
        var reasons = Set<String>()
        for entry in entries {
            let parsed = try JSON(parsing: entry.bytes ?? [])
            #expect(parsed["message"]?.stringValue?.isEmpty == false)
            if let reason = parsed["reason"]?.stringValue { reasons.insert(String(reason.prefix(30))) }
        }
        #expect(reasons.contains { $0.hasPrefix("envelope is not valid JSON") })
        #expect(reasons.contains { $0.hasPrefix("unknown task posthog.tasks.unk") })
        #expect(reasons.contains { $0.hasPrefix("No team found with ID 1337") })
        #expect(reasons.contains { $0.hasPrefix("Not a valid UUID: \"this is no") })
        #expect(reasons.contains { $0.hasPrefix("unsupported content type appl") })
        #expect(await server.terminate() == 0)
        await redis.close()
    }

    @Test(
        "rows refused by a foreign key when they commit (a team deleted while cached, a snapshot of no team) are dead-lettered; the rest are stored"
    )
    func foreignKeyAtCommit() async throws {
        let database = try await TestDatabase.create()
        defer { database.drop() }
        let queue = TestEnvironment.uniqueName("q")
        let redis = try TestEnvironment.redisClient()
        try database.insertTeam(3)
        let server = ServerProcess(environment: ServerProcess.environment(database: database, queue: queue))
        try server.start()
        // Team 3 is looked up, and kept in the server's cache, with its first event; then it goes.
        try await Self.push([CeleryMessages.processEvent(distinctId: "t3", data: ["event": "first"], teamId: 3)], to: queue, redis: redis)
        #expect(await eventually { (try? database.count("posthog_event", where: "team_id = 3")) == 1 })
        try database.execute(
            """
            BEGIN;
            DELETE FROM posthog_event WHERE team_id = 3; DELETE FROM posthog_persondistinctid WHERE team_id = 3;
            DELETE FROM posthog_person WHERE team_id = 3; DELETE FROM posthog_eventdefinition WHERE team_id = 3;
            DELETE FROM posthog_propertydefinition WHERE team_id = 3; DELETE FROM posthog_team WHERE id = 3;
            COMMIT;
            """)
        var messages: [[UInt8]] = []
        for n in 0..<300 {
            messages.append(Self.event(n, distinctId: "user-\(n % 7)"))
            if n % 30 == 0 {
                messages.append(CeleryMessages.processEvent(distinctId: "t3", data: ["event": .string("gone \(n)")], teamId: 3))
                let snapshot: JSON = ["event": "$snapshot", "properties": ["$session_id": .string("s\(n)"), "$snapshot_data": [:]]]
                messages.append(CeleryMessages.processEvent(distinctId: "snap", data: snapshot, teamId: 999))
            }
        }
        try await Self.push(messages, to: queue, redis: redis)
        let deadLetter = queue + ":dead-letter"
        #expect(await eventually(timeout: .seconds(60)) { (try? Self.storedMarkers(database).distinct) == 300 }, "\(server.log)")
        #expect(await eventually { (try? await redis.send("LLEN", [RedisArgument(deadLetter)]).int) == 20 }, "\(server.log)")
        #expect(try Self.storedMarkers(database).rows == 300)
        let reasons = try await (redis.send("LRANGE", [RedisArgument(deadLetter), 0, -1]).array ?? []).map {
            try JSON(parsing: $0.bytes ?? [])["reason"]?.stringValue ?? ""
        }
        #expect(reasons.allSatisfy { $0.contains("violates foreign key constraint") }, "\(reasons)")
        #expect(server.isRunning)
        #expect(await server.terminate() == 0)
        await redis.close()
    }

    @Test("Postgres restarted, then Redis restarted, while events flow: the server carries on and loses nothing")
    func survivesRestarts() async throws {
        let postgres = try PrivatePostgres()
        defer { postgres.destroy() }
        let redisServer = try PrivateRedis()
        defer { redisServer.destroy() }
        let database = try await TestDatabase.create(adminURL: postgres.adminURL)
        let queue = TestEnvironment.uniqueName("q")
        let redis = try TestEnvironment.redisClient(url: redisServer.url)
        var environment = ServerProcess.environment(database: database, redisURL: redisServer.url, queue: queue)
        // A stop that hangs shows in the log which service the shutdown waits for.
        environment["LOG_LEVEL"] = "debug"
        let server = ServerProcess(environment: environment)
        try server.start()

        var sent = 0
        func send(_ count: Int) async {
            var remaining = Array(sent..<(sent + count))
            sent += count
            while !remaining.isEmpty {
                let n = remaining[0]
                if (try? await redis.send("LPUSH", [RedisArgument(queue), RedisArgument(Self.event(n))])) != nil {
                    remaining.removeFirst()
                } else {
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        await send(100)
        #expect(await eventually { (try? database.count("posthog_event")) == 100 }, "\(server.log)")

        try postgres.stop()
        await send(100)  // queued while Postgres is down
        try await Task.sleep(for: .seconds(2))
        try postgres.start()
        await send(100)
        #expect(await eventually(timeout: .seconds(60)) { (try? database.count("posthog_event")) == 300 }, "\(server.log)")

        redisServer.stop()
        try await Task.sleep(for: .seconds(2))
        try redisServer.start()
        await send(100)
        #expect(await eventually(timeout: .seconds(60)) { (try? Self.storedMarkers(database).rows) == 400 }, "\(server.log)")
        let stored = try Self.storedMarkers(database)
        #expect(stored.rows == 400 && stored.distinct == 400)
        #expect(server.isRunning)
        let status = await server.terminate()
        #expect(status == 0, "exit status \(status.map(String.init) ?? "none: still running after 30 s"); log:\n\(server.log)")
        await redis.close()
    }

    @Test("A stop while Postgres is down: what is in flight is left for redelivery after the grace, exit 0, nothing lost or doubled")
    func stopWhilePostgresDown() async throws {
        let postgres = try PrivatePostgres()
        defer { postgres.destroy() }
        let database = try await TestDatabase.create(adminURL: postgres.adminURL)
        let queue = TestEnvironment.uniqueName("q")
        let redis = try TestEnvironment.redisClient()
        var environment = ServerProcess.environment(database: database, queue: queue)
        environment["LOG_LEVEL"] = "info"
        // The stop's grace is TASK_TIMEOUT and 5 s: 10 s here.
        environment["TASK_TIMEOUT"] = "5"
        let first = ServerProcess(environment: environment)
        try first.start()
        try await Self.push((0..<100).map { Self.event($0) }, to: queue, redis: redis)
        #expect(await eventually { (try? Self.storedMarkers(database).rows) == 100 }, "\(first.log)")

        try postgres.stop()
        try await Self.push((100..<200).map { Self.event($0) }, to: queue, redis: redis)
        #expect(await eventually { ((try? await redis.send("LLEN", [RedisArgument(queue)]).int) ?? -1) == 0 })
        // Each store now waits for a connection, a minute a try: the stop cuts that short.
        let status = await first.terminate()
        #expect(status == 0, "exit status \(status.map(String.init) ?? "none: still running after 30 s"); log:\n\(first.log)")
        #expect(first.log.contains("left for redelivery"), "\(first.log)")

        try postgres.start()
        let second = ServerProcess(environment: environment)
        try second.start()
        #expect(await eventually(timeout: .seconds(60)) { (try? Self.storedMarkers(database).rows) == 200 }, "\(second.log)")
        let stored = try Self.storedMarkers(database)
        #expect(stored.rows == 200 && stored.distinct == 200)
        #expect(await second.terminate() == 0, "\(second.log)")
        await redis.close()
    }

    @Test("Redis over TLS (rediss://): the certificate checked against NODE_EXTRA_CA_CERTS, events consumed")
    func redisOverTLS() async throws {
        let redisServer = try PrivateRedis(tls: true)
        defer { redisServer.destroy() }
        let database = try await TestDatabase.create()
        defer { database.drop() }
        let queue = TestEnvironment.uniqueName("q")
        // The test pushes over the plain port; the server only knows the TLS one.
        let redis = try TestEnvironment.redisClient(url: redisServer.url)
        let tlsURL = try #require(redisServer.tlsURL)

        // Without the test authority the server cannot trust the certificate, and says so.
        let untrusting = ServerProcess(environment: ServerProcess.environment(database: database, redisURL: tlsURL, queue: queue))
        try untrusting.start()
        #expect(await eventually { untrusting.log.uppercased().contains("CERTIFICATE_VERIFY_FAILED") }, "\(untrusting.log)")
        _ = await untrusting.terminate()

        var environment = ServerProcess.environment(database: database, redisURL: tlsURL, queue: queue)
        environment["NODE_EXTRA_CA_CERTS"] = PrivateRedis.testAuthority
        let server = ServerProcess(environment: environment)
        try server.start()
        try await Self.push((0..<50).map { Self.event($0) }, to: queue, redis: redis)
        #expect(await eventually { (try? Self.storedMarkers(database).rows) == 50 }, "\(server.log)")
        #expect(try Self.storedMarkers(database).distinct == 50)
        #expect(try await redis.send("LLEN", [RedisArgument(queue)]).int == 0)
        #expect(await server.terminate() == 0, "\(server.log)")
        await redis.close()
    }

    @Test("Postgres over TLS: sslmode=verify-full checks the certificate (NODE_EXTRA_CA_CERTS trusted), require does not")
    func postgresOverTLS() async throws {
        let postgres = try PrivatePostgres(tls: true)
        defer { postgres.destroy() }
        let database = try await TestDatabase.create(adminURL: postgres.adminURL)
        let redis = try TestEnvironment.redisClient()
        let url = database.url.replacingOccurrences(of: "@127.0.0.1:", with: "@localhost:")

        func run(sslMode: String, trusting: Bool, events: Range<Int>) async throws -> ServerProcess {
            let queue = TestEnvironment.uniqueName("q")
            var environment = ServerProcess.environment(database: database, queue: queue)
            environment["DATABASE_URL"] = url + "?sslmode=" + sslMode
            if trusting { environment["NODE_EXTRA_CA_CERTS"] = PrivateRedis.testAuthority }
            // The pool's connection failures, with their reason, are logged at info.
            environment["LOG_LEVEL"] = "info"
            let server = ServerProcess(environment: environment)
            try server.start()
            try await Self.push(events.map { Self.event($0) }, to: queue, redis: redis)
            return server
        }

        // The test authority is not trusted: nothing is stored, and the log says why.
        let untrusting = try await run(sslMode: "verify-full", trusting: false, events: 0..<10)
        #expect(await eventually { untrusting.log.uppercased().contains("CERTIFICATE_VERIFY_FAILED") }, "\(untrusting.log)")
        #expect(await untrusting.terminate() == 0, "\(untrusting.log)")
        #expect(try Self.storedMarkers(database).rows == 0)

        let verified = try await run(sslMode: "verify-full", trusting: true, events: 10..<30)
        #expect(await eventually { (try? Self.storedMarkers(database).rows) == 20 }, "\(verified.log)")
        #expect(await verified.terminate() == 0, "\(verified.log)")

        // `require`: encrypted, the certificate not checked (libpq's meaning).
        let unverified = try await run(sslMode: "require", trusting: false, events: 30..<40)
        #expect(await eventually { (try? Self.storedMarkers(database).rows) == 30 }, "\(unverified.log)")
        // The server's connections are encrypted (the test's own are not).
        let encrypted = try database.rows(
            "SELECT count(*) AS n FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND datname = current_database()"
        ).first?["n"]?.intValue
        #expect((encrypted ?? 0) >= 1)
        #expect(await unverified.terminate() == 0, "\(unverified.log)")
        await redis.close()
    }

    @Test(
        "SIGTERM during start-up stops the server at once, exit 0",
        arguments: [
            // Postgres unreachable: the start-up waits for it (up to an hour), and says so after 5 s.
            ([:], "Postgres not reachable yet, still trying"),
            // ClickHouse mode, the signal during the ClickHouse check (a port that never answers: the
            // check's 5 s), before the broker or Postgres are reached.
            (["KAFKA_ENABLED": "true", "KAFKA_HOSTS": "127.0.0.1:9", "CLICKHOUSE_HOST": "silent"], "Plugin server starting"),
        ] as [([String: String], String)])
    func stopDuringStartup(extra: [String: String], marker: String) async throws {
        let silent = try SilentListener()
        let database = try await TestDatabase.create()
        defer { database.drop() }
        var environment = ServerProcess.environment(database: database, queue: TestEnvironment.uniqueName("q"))
        // A port nothing listens on.
        environment["DATABASE_URL"] = "postgres://postgres@127.0.0.1:9/posthog"
        environment["LOG_LEVEL"] = "info"
        environment.merge(extra) { $1 }
        if environment["CLICKHOUSE_HOST"] == "silent" { environment["CLICKHOUSE_HOST"] = "127.0.0.1:\(silent.port)" }
        let server = ServerProcess(environment: environment)
        try server.start()
        #expect(await eventually { server.log.contains(marker) }, "\(server.log)")
        if extra.isEmpty {
            // Why it waits: the connection's own error, from a try outside the pool.
            #expect(server.log.contains("still trying: start-up waits for it reason=connectionError: "), "\(server.log)")
        }
        let status = await server.terminate()
        #expect(status == 0, "exit status \(status.map(String.init) ?? "none: still running after 30 s"); log:\n\(server.log)")
        #expect(server.log.contains("Stopped during start-up"), "\(server.log)")
    }

    @Test("SIGTERM finishes what is in flight, leaves nothing claimed, and exits 0")
    func gracefulShutdown() async throws {
        let database = try await TestDatabase.create()
        defer { database.drop() }
        let queue = TestEnvironment.uniqueName("q")
        let redis = try TestEnvironment.redisClient()
        let server = ServerProcess(environment: ServerProcess.environment(database: database, queue: queue))
        try server.start()
        try await Self.push((0..<2000).map { Self.event($0) }, to: queue, redis: redis)
        #expect(await eventually(every: .milliseconds(10)) { ((try? database.count("posthog_event")) ?? 0) > 20 })
        #expect(await server.terminate() == 0)
        let stored = try Self.storedMarkers(database).rows
        let queued = try await redis.send("LLEN", [RedisArgument(queue)]).int ?? -1
        #expect(stored + queued == 2000, "every message is either stored or still queued")
        let processing = try await redis.send("KEYS", [RedisArgument("@posthog-plugin-server/processing/\(queue)/*")]).array ?? []
        for key in processing {
            #expect(try await redis.send("LLEN", [RedisArgument(key.bytes ?? [])]).int == 0)
        }
        await redis.close()
    }

    @Test("large messages: past the slots, claims stop once the messages in flight hold 16 MB")
    func largeMessagesStayWithinTheByteBudget() async throws {
        let database = try await TestDatabase.create()
        defer { database.drop() }
        let queue = TestEnvironment.uniqueName("q")
        let redis = try TestEnvironment.redisClient()
        // 100 events of 256 KB (half a session recording chunk): 4 slots, then about 47 within 16 MB,
        // where small messages could fill the whole window of 504.
        let padding = String(repeating: "x", count: 256 << 10)
        let messages = (0..<100).map { n in
            CeleryMessages.processEvent(
                distinctId: "user", data: ["event": "$pageview", "properties": ["n": .number(Double(n)), "padding": .string(padding)]])
        }
        try await Self.push(messages, to: queue, redis: redis)
        var environment = ServerProcess.environment(database: database, queue: queue)
        environment["WORKER_CONCURRENCY"] = "1"
        environment["TASKS_PER_WORKER"] = "4"
        let server = ServerProcess(environment: environment)
        try server.start()
        var most = 0
        let done = try await eventually(timeout: .seconds(60), every: .milliseconds(5)) {
            let lists = try await redis.send("KEYS", [RedisArgument("@posthog-plugin-server/processing/\(queue)/*")]).array ?? []
            // The pattern also matches each list's lease key.
            for list in lists where !(list.string ?? "").hasSuffix("/lease") {
                most = max(most, try await redis.send("LLEN", [RedisArgument(list.bytes ?? [])]).int ?? 0)
            }
            return try database.count("posthog_event") == 100
        }
        #expect(done, "\(server.log)")
        // The claim that crosses the budget takes the message that crosses it.
        let bound = 4 + (16 << 20) / messages[0].count + 1
        #expect(most > 4 && most <= bound, "at most \(bound) messages in flight, saw \(most)")
        #expect(await server.terminate() == 0)
        await redis.close()
    }

    @Test("healthcheck exits 0 while an instance refreshes the ping key, 1 without one")
    func healthcheck() async throws {
        let redisServer = try PrivateRedis()
        defer { redisServer.destroy() }
        let database = try await TestDatabase.create()
        defer { database.drop() }
        let environment = ServerProcess.environment(database: database, redisURL: redisServer.url, queue: TestEnvironment.uniqueName("q"))
        let before = ServerProcess(environment: environment, arguments: ["healthcheck"])
        try before.start()
        #expect(await before.waitForExit() == 1)
        let server = ServerProcess(environment: environment)
        try server.start()
        let redis = try TestEnvironment.redisClient(url: redisServer.url)
        #expect(await eventually { (try? await redis.send("EXISTS", ["@posthog-plugin-server/ping"]).int) == 1 })
        #expect(try await redis.send("GET", ["@posthog-plugin-server/version"]).string == "0.20.3")
        let ping = try await redis.send("GET", ["@posthog-plugin-server/ping"]).string ?? ""
        #expect(EventTimestamp.parseISO8601(ping) != nil && ping.hasSuffix("Z"))
        let ttl = try await redis.send("TTL", ["@posthog-plugin-server/ping"]).int ?? 0
        #expect(ttl > 0 && ttl <= 60)
        let check = ServerProcess(environment: environment, arguments: ["healthcheck"])
        try check.start()
        #expect(await check.waitForExit() == 0)
        #expect(await server.terminate() == 0)
        await redis.close()
    }
}
