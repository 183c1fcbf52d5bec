// End-to-end cells against the real `plugin-server` binary, Postgres and Redis (`make benchmark`
// starts them): events queued by PostHog's own Celery client, drained into posthog_event; and the
// start-up of a server holding 10,000 plugin configs across 2,000 teams.

import Foundation

/// Where the services and the server are: `scripts/services.sh` exports TEST_POSTGRES_URL and
/// TEST_REDIS_URL; the server is the release build beside this binary.
struct EndToEndBench {
    let adminURL: String
    let redisURL: String
    let serverBinary: URL
    let producerScript: URL

    init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let admin = environment["TEST_POSTGRES_URL"], let redis = environment["TEST_REDIS_URL"] else { return nil }
        adminURL = admin
        redisURL = redis
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.deletingLastPathComponent()
        serverBinary = directory.appendingPathComponent("plugin-server")
        let root = directory.deletingLastPathComponent().deletingLastPathComponent()
        producerScript = root.appendingPathComponent("Benchmarks/celery_producer.py")
    }

    /// The trivial plugin of the Postgres-mode cell: the anchor's `simple` variant.
    static let trivialPlugin = """
        function processEvent (event, meta) {
            event.properties = { ...event.properties, "somewhere": "over the rainbow" };
            return event
        }
        """

    // MARK: cells

    /// `e2e.celery_pg.*`: `events` events for `distinctIds` distinct ids queued by a Celery client,
    /// then drained by a server with a pool of 8 Postgres connections. Timed by Postgres itself, from
    /// the first storing statement to the last (each stored message's `stored_at` is its statement's
    /// start): the events stored before the last statement, over that time. Start-up and the producer
    /// are outside the measurement, and the benchmark only polls 4 times a second (a `psql` per poll
    /// competes with the server for the 2 cores).
    func celeryToPostgres(events: Int, distinctIds: Int, withPlugin: Bool) throws -> Double {
        let database = try createDatabase()
        defer { dropDatabase(database) }
        if withPlugin { try installSourcePlugin(database, name: "bench-trivial", code: Self.trivialPlugin, teams: "SELECT 2") }
        let queue = "bench-e2e-\(UInt32.random(in: 0...UInt32.max))"
        try produce(queue: queue, count: events, distinctIds: distinctIds, teams: [2])
        try checkpoint()
        let server = try startServer(database: database, queue: queue)
        defer { stop(server) }
        // The rate comes from the rows' storing times, not from this poll, which only has to notice
        // the end: each poll starts a psql and counts the table, CPU taken from the server measured.
        _ = try waitForEvents(database, atLeast: events, server: server, timeout: 600, every: 1)
        let stored = try count(database, "SELECT count(*) FROM posthog_event")
        guard stored == events else { throw BenchmarkError(description: "expected \(events) events, found \(stored)") }
        let span = try psql(
            database,
            """
            SELECT extract(epoch FROM max(stored_at) - min(stored_at)),
                   count(*) FILTER (WHERE stored_at < (SELECT max(stored_at) FROM posthog_plugin_server.ingested_messages))
            FROM posthog_plugin_server.ingested_messages
            """
        ).split(separator: "|")
        guard span.count == 2, let seconds = Double(span[0]), let before = Double(span[1]), seconds > 0 else {
            throw BenchmarkError(description: "could not read the storing times: \(span)")
        }
        return before / seconds
    }

    /// `vmmem.10000.*`: 10,000 configs of the memory benchmark's plugin across 2,000 teams (five per
    /// team); one event queued for one of the teams before the server starts. Returns the seconds from
    /// the server's start until that event is stored, and the server's RSS then (MB).
    func startupAtScale(configs: Int, teams: Int, timeout: TimeInterval) throws -> (readySeconds: Double, rssMB: Double, ready: Bool) {
        let database = try createDatabase()
        defer { dropDatabase(database) }
        try psql(
            database,
            """
            CREATE TEMP TABLE bench_team AS SELECT * FROM posthog_team WHERE id = 2;
            DO $$ BEGIN
              FOR g IN 3..\(teams + 1) LOOP
                UPDATE bench_team SET id = g, api_token = 'bench token ' || g, uuid = md5(g::text)::uuid, name = 'bench ' || g;
                INSERT INTO posthog_team SELECT * FROM bench_team;
              END LOOP;
            END $$;
            """)
        let perTeam = max(1, configs / teams)
        try installSourcePlugin(
            database, name: "bench-memory", code: memoryPluginCode,
            teams: "SELECT t.id FROM posthog_team t, generate_series(1, \(perTeam)) k")
        let queue = "bench-e2e-\(UInt32.random(in: 0...UInt32.max))"
        try produce(queue: queue, count: 1, distinctIds: 1, teams: [teams + 1])
        let started = Date()
        let server = try startServer(database: database, queue: queue)
        defer { stop(server) }
        do {
            let ready = try waitForEvents(database, atLeast: 1, server: server, timeout: timeout)
            return (ready.timeIntervalSince(started), residentMB(pid: server.processIdentifier), true)
        } catch let error as BenchmarkError where error.isTimeout {
            // Not ingesting yet: the time waited is a lower bound, the RSS is what it had reached.
            return (Date().timeIntervalSince(started), residentMB(pid: server.processIdentifier), false)
        }
    }

    // MARK: services

    func createDatabase() throws -> String {
        let name = "bench_e2e_\(UInt32.random(in: 0...UInt32.max))"
        try psql(nil, "CREATE DATABASE \(name)")
        let migrate = Process()
        migrate.executableURL = serverBinary
        migrate.arguments = ["migrate", "--seed"]
        migrate.environment = ProcessInfo.processInfo.environment.merging(["DATABASE_URL": url(of: name), "LOG_LEVEL": "error"]) { $1 }
        migrate.standardOutput = FileHandle.nullDevice
        try migrate.run()
        migrate.waitUntilExit()
        guard migrate.terminationStatus == 0 else { throw BenchmarkError(description: "plugin-server migrate failed for \(name)") }
        return name
    }

    func dropDatabase(_ name: String) {
        _ = try? psql(nil, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    func url(of database: String) -> String {
        guard let slash = adminURL.lastIndex(of: "/") else { return adminURL }
        return adminURL[..<slash] + "/" + database
    }

    func installSourcePlugin(_ database: String, name: String, code: String, teams: String) throws {
        let quoted = code.replacingOccurrences(of: "'", with: "''")
        try psql(
            database,
            """
            WITH plugin AS (
              INSERT INTO posthog_plugin (name, description, url, config_schema, tag, archive, from_json, from_web, error, plugin_type,
                source, organization_id, created_at, updated_at, is_global, is_preinstalled)
              VALUES ('\(name)', '', 'source:\(name)', '{}', NULL, NULL, false, false, NULL, 'source', '\(quoted)',
                'ca30f2ec-e9a4-4001-bf27-3ef194086068', now(), now(), false, false)
              RETURNING id)
            INSERT INTO posthog_pluginconfig (enabled, "order", config, error, plugin_id, team_id, created_at, updated_at)
            SELECT true, 0, '{}', NULL, plugin.id, team.id, now(), now() FROM plugin, (\(teams)) AS team(id)
            """)
    }

    /// Writes out what Postgres holds in memory, as the anchor starts each Postgres cell: the database a
    /// cell has just made and seeded is written before the measurement, not during it.
    func checkpoint() throws {
        try psql(nil, "CHECKPOINT")
    }

    @discardableResult
    private func psql(_ database: String?, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", database.map(url(of:)) ?? adminURL, "-v", "ON_ERROR_STOP=1", "-qtAc", sql]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchmarkError(description: "psql failed: \(sql.prefix(120))") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func count(_ database: String, _ sql: String) throws -> Int {
        Int(try psql(database, sql)) ?? 0
    }

    /// PostHog's own Celery client (`send_task`), as the Django app queues events.
    private func produce(queue: String, count: Int, distinctIds: Int, teams: [Int]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", producerScript.path, "--redis-url", redisURL, "--queue", queue, "--count", String(count),
            "--distinct-ids", String(distinctIds), "--teams", teams.map(String.init).joined(separator: ","),
        ]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchmarkError(description: "the Celery producer failed") }
    }

    private func startServer(database: String, queue: String) throws -> Process {
        let process = Process()
        process.executableURL = serverBinary
        process.environment = ProcessInfo.processInfo.environment.merging([
            "DATABASE_URL": url(of: database), "REDIS_URL": redisURL, "PLUGINS_CELERY_QUEUE": queue,
            "CELERY_DEAD_LETTER_QUEUE": queue + ":dead-letter", "CELERY_DEFAULT_QUEUE": queue + ":celery",
            "POSTGRES_MAX_CONNECTIONS": "8", "TASKS_PER_WORKER": "100", "LOG_LEVEL": "warn", "DISABLE_WEB": "true",
            "DISABLE_MMDB": "true",
        ]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    func stop(_ process: Process) {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Polls posthog_event until it holds `atLeast` rows; returns when it did.
    private func waitForEvents(
        _ database: String, atLeast target: Int, server: Process, timeout: TimeInterval, every interval: TimeInterval = 0.02
    ) throws -> Date {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try count(database, "SELECT count(*) FROM posthog_event") >= target { return Date() }
            guard server.isRunning else { throw BenchmarkError(description: "the server exited (status \(server.terminationStatus))") }
            usleep(useconds_t(interval * 1e6))
        }
        throw BenchmarkError(description: "fewer than \(target) events stored after \(Int(timeout)) s", isTimeout: true)
    }

    private func residentMB(pid: Int32) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
            return kb / 1024
        }
        return 0
    }
}
