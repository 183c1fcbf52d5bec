import Foundation
import PostHogEvents
import Testing

/// The command line as users meet it: --help, --version, bad settings, idle mode, migrate.
@Suite struct CommandLineTests {
    func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32?, output: String) {
        let process = ServerProcess(environment: environment, arguments: arguments)
        try process.start()
        let status = await process.waitForExit(timeout: .seconds(20))
        return (status, process.log)
    }

    /// A database with no tables at all (not the test template's copy of PostHog's).
    func emptyDatabase() throws -> TestDatabase {
        let name = TestEnvironment.uniqueName("empty")
        try runCommand("psql", [TestEnvironment.adminPostgresURL, "-X", "-q", "-c", "CREATE DATABASE \(name)"])
        let url = TestDatabase.url(TestEnvironment.adminPostgresURL, database: name)
        return TestDatabase(name: name, url: url, adminURL: TestEnvironment.adminPostgresURL)
    }

    @Test("--help lists every configuration variable with its default")
    func help() async throws {
        let (status, output) = try await run(["--help"])
        #expect(status == 0)
        #expect(output.contains("Supported configuration environment variables:"))
        for name in [
            "DATABASE_URL", "REDIS_URL", "WORKER_CONCURRENCY", "TASKS_PER_WORKER", "PLUGINS_CELERY_QUEUE", "KAFKA_HOSTS", "STATSD_PREFIX",
            "PLUGIN_SERVER_IDLE",
        ] {
            #expect(output.contains("- \(name) - "), "\(name)")
        }
    }

    @Test("--version prints the banner")
    func version() async throws {
        let (status, output) = try await run(["--version"])
        #expect(status == 0)
        #expect(output.contains("@posthog/plugin-server v0.20.3"))
    }

    @Test("an invalid setting stops start-up naming the variable and the expected form")
    func invalidSettings() async throws {
        let (status, output) = try await run([], environment: ["WORKER_CONCURRENCY": "abc", "DATABASE_URL": "not a url"])
        #expect(status != 0 && status != nil)
        #expect(output.contains("WORKER_CONCURRENCY=\"abc\": expected a whole number"))
        #expect(output.contains("DATABASE_URL=\"not a url\": expected postgres://"))
    }

    @Test("PLUGIN_SERVER_IDLE keeps the process up and consuming nothing, and SIGTERM stops it")
    func idle() async throws {
        let database = try await TestDatabase.create()
        defer { database.drop() }
        let queue = TestEnvironment.uniqueName("q")
        var environment = ServerProcess.environment(database: database, queue: queue)
        environment["PLUGIN_SERVER_IDLE"] = "true"
        environment["LOG_LEVEL"] = "info"
        let server = ServerProcess(environment: environment)
        try server.start()
        let redis = try TestEnvironment.redisClient()
        _ = try await redis.send("LPUSH", [.init(queue), .init(CeleryMessages.processEvent(data: ["event": "x"]))])
        try await Task.sleep(for: .seconds(2))
        #expect(server.isRunning)
        #expect(try await redis.send("LLEN", [.init(queue)]).int == 1)
        #expect(server.log.contains("PLUGIN_SERVER_IDLE"))
        #expect(await server.terminate() == 0)
        await redis.close()
    }

    @Test("a database without PostHog's tables stops start-up with exit 1, saying what is missing and what to do")
    func unmigratedDatabase() async throws {
        let database = try emptyDatabase()
        defer { database.drop() }
        let name = database.name
        var environment = ServerProcess.environment(database: database, queue: TestEnvironment.uniqueName("q"))
        environment["LOG_LEVEL"] = "info"
        let (status, output) = try await run([], environment: environment)
        #expect(status == 1, "\(output)")
        #expect(
            output.contains("Launchpad failure! error=Postgres database \"\(name)\" lacks PostHog's tables (relation \"posthog_"),
            "\(output)")
        #expect(output.contains("`plugin-server migrate` creates them"))
        // Postgres's words, not the driver's whole error with its statement and binds.
        #expect(!output.contains("PSQLError"), "\(output)")
    }

    @Test("a database or role Postgres refuses stops start-up at once with exit 1 (an unreachable server is waited for: CeleryQueueTests)")
    func refusedDatabase() async throws {
        let missing = TestDatabase.url(TestEnvironment.adminPostgresURL, database: TestEnvironment.uniqueName("missing"))
        var environment = ["DATABASE_URL": missing, "REDIS_URL": TestEnvironment.redisURL, "DISABLE_WEB": "true", "DISABLE_MMDB": "true"]
        let (status, output) = try await run([], environment: environment)
        #expect(status == 1, "\(output)")
        #expect(
            output.contains("Launchpad failure! error=Postgres refused the connection of DATABASE_URL: database \"missing"), "\(output)")

        var role = try #require(URLComponents(string: TestEnvironment.adminPostgresURL))
        role.user = TestEnvironment.uniqueName("nobody")
        environment["DATABASE_URL"] = role.string
        let refused = try await run([], environment: environment)
        #expect(refused.status == 1, "\(refused.output)")
        #expect(refused.output.contains("Postgres refused the connection of DATABASE_URL: role \"nobody"), "\(refused.output)")
        #expect(refused.output.contains("(check the user and password of DATABASE_URL)"))
    }

    @Test("migrate creates PostHog's tables in an empty database, and is idempotent")
    func migrate() async throws {
        let database = try emptyDatabase()
        defer { database.drop() }
        let url = database.url
        for _ in 0..<2 {
            let (status, output) = try await run(["migrate"], environment: ["DATABASE_URL": url])
            #expect(status == 0, "\(output)")
        }
        for table in [
            "posthog_team", "posthog_event", "posthog_person", "posthog_persondistinctid", "posthog_pluginconfig", "ee_hook",
            "posthog_plugin_server.ingested_messages",
        ] {
            #expect(try database.count(table) == 0, "\(table)")
        }
    }
}
