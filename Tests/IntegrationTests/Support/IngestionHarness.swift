import Foundation
import PostHogEvents
import RedisClient

/// One server consuming its own queue into its own fresh database: send events as Celery messages,
/// wait until the server has taken every one, then read the rows.
final class IngestionHarness: @unchecked Sendable {
    // @unchecked: all members are immutable references; each is Sendable or only used from the test.
    let database: TestDatabase
    let queue: String
    let redis: RedisClient
    let server: ServerProcess

    private init(database: TestDatabase, queue: String, redis: RedisClient, server: ServerProcess) {
        self.database = database
        self.queue = queue
        self.redis = redis
        self.server = server
    }

    static func start(environment extra: [String: String] = [:], prepare: (TestDatabase) throws -> Void = { _ in }) async throws
        -> IngestionHarness
    {
        let database = try await TestDatabase.create()
        try prepare(database)
        let queue = TestEnvironment.uniqueName("q")
        var environment = ServerProcess.environment(database: database, queue: queue)
        environment.merge(extra) { $1 }
        let server = ServerProcess(environment: environment)
        try server.start()
        return IngestionHarness(database: database, queue: queue, redis: try TestEnvironment.redisClient(), server: server)
    }

    var deadLetterQueue: String { queue + ":dead-letter" }
    var webhookQueue: String { queue + ":celery" }

    /// Sends one event (the client's `data`) and waits until the server is done with it.
    func send(
        _ data: JSON, distinctId: JSON = "distinct_id", ip: JSON = "127.0.0.1", teamId: Int = 2,
        now: String = EventTimestamp.now().isoString, sentAt: JSON? = nil
    ) async throws {
        let message = CeleryMessages.processEvent(distinctId: distinctId, ip: ip, data: data, teamId: teamId, now: now, sentAt: sentAt)
        try await push([message])
    }

    func push(_ messages: [[UInt8]]) async throws {
        for message in messages { _ = try await redis.send("LPUSH", [RedisArgument(queue), RedisArgument(message)]) }
        try await waitUntilProcessed()
    }

    func waitUntilProcessed(timeout: Duration = .seconds(30)) async throws {
        let done = await eventually(timeout: timeout, every: .milliseconds(20)) {
            guard (try? await redis.send("LLEN", [RedisArgument(queue)]).int) == 0 else { return false }
            let lists = (try? await redis.send("KEYS", [RedisArgument("@posthog-plugin-server/processing/\(queue)/*")]).array) ?? []
            for list in lists {
                guard let name = list.string, !name.hasSuffix("/lease") else { continue }
                if (try? await redis.send("LLEN", [RedisArgument(name)]).int) != 0 { return false }
            }
            return true
        }
        if !done { throw HarnessError(message: "messages not processed in time; server log:\n\(server.log)") }
    }

    func deadLetterReasons() async throws -> [String] {
        let entries = try await redis.send("LRANGE", [RedisArgument(deadLetterQueue), 0, -1]).array ?? []
        return try entries.reversed().compactMap { try JSON(parsing: $0.bytes ?? [])["reason"]?.stringValue }
    }

    // MARK: Reading and seeding rows

    @discardableResult
    func createPerson(
        distinctIds: [String], properties: JSON = [:], teamId: Int = 2, createdAt: String = "now()", isIdentified: Bool = false
    )
        throws -> Int
    {
        let created = createdAt == "now()" ? "now()" : "'\(createdAt)'"
        let id =
            try database.scalar(
                """
                INSERT INTO posthog_person (created_at, properties, team_id, is_user_id, is_identified, uuid)
                VALUES (\(created), '\(properties.jsonString.replacingOccurrences(of: "'", with: "''"))', \(teamId), NULL, \(isIdentified), '\(UUIDT().uuidString)')
                RETURNING id
                """)?.intValue ?? -1
        for distinctId in distinctIds {
            try database.execute(
                "INSERT INTO posthog_persondistinctid (distinct_id, person_id, team_id) VALUES ('\(distinctId)', \(id), \(teamId))")
        }
        return id
    }

    /// Persons of a team with their distinct ids in row order.
    func persons(teamId: Int = 2) throws -> [JSON] {
        try database.rows(
            """
            SELECT p.id, p.properties, p.is_identified, p.created_at,
                   (SELECT coalesce(json_agg(d.distinct_id ORDER BY d.id), '[]') FROM posthog_persondistinctid d WHERE d.person_id = p.id) AS distinct_ids
            FROM posthog_person p WHERE p.team_id = \(teamId) ORDER BY p.id
            """)
    }

    func events() throws -> [JSON] {
        try database.rows(
            "SELECT id, event, distinct_id, properties, timestamp, created_at, elements, elements_hash, team_id FROM posthog_event ORDER BY id"
        )
    }

    func stop() async {
        _ = await server.terminate()
        await redis.close()
        database.drop()
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
