import Foundation
import Logging
import PostHogEvents
import PostgresNIO

/// A row of `posthog_person`.
public struct Person: Sendable, Equatable {
    public var id: Int
    public var uuid: UUID
    public var createdAt: Date
    public var properties: JSONObject
    public var teamId: Int
    public var isIdentified: Bool
}

/// Persons and their distinct ids in Postgres, statement for statement as the original's `DB`
/// (postgres-schema.md: posthog_person, posthog_persondistinctid, posthog_cohortpeople).
struct PersonStore: Sendable {
    let store: PostgresStore

    func fetchPerson(teamId: Int, distinctId: String) async throws -> Person? {
        let rows = try await store.query(
            """
            SELECT posthog_person.id, posthog_person.uuid, posthog_person.created_at, posthog_person.properties::text,
                   posthog_person.team_id, posthog_person.is_identified
            FROM posthog_person
            JOIN posthog_persondistinctid ON posthog_persondistinctid.person_id = posthog_person.id
            WHERE posthog_person.team_id = \(teamId) AND posthog_persondistinctid.team_id = \(teamId)
              AND posthog_persondistinctid.distinct_id = \(distinctId)
            LIMIT 1
            """)
        for try await row in rows.decode((Int, UUID, Date, String, Int, Bool).self) {
            return try Self.person(row)
        }
        return nil
    }

    static func person(_ row: (Int, UUID, Date, String, Int, Bool)) throws -> Person {
        let properties = (try JSON(parsing: row.3).objectValue) ?? JSONObject()
        return Person(id: row.0, uuid: row.1, createdAt: row.2, properties: properties, teamId: row.4, isIdentified: row.5)
    }

    /// One transaction: the person, then each distinct id in order (§9). A unique violation on a
    /// distinct id rolls the person back too.
    func createPerson(
        createdAt: EventTimestamp, properties: JSONObject, teamId: Int, isIdentified: Bool, uuid: UUID, distinctIds: [String]
    ) async throws -> Person {
        let logger = store.logger
        return try await store.withTransaction { connection in
            let rows = try await connection.query(
                """
                INSERT INTO posthog_person (created_at, properties, team_id, is_user_id, is_identified, uuid)
                VALUES (\(createdAt.isoString)::timestamptz, \(JSON.object(properties).jsonString)::jsonb, \(teamId), NULL, \(isIdentified), \(uuid))
                RETURNING id, uuid, created_at, properties::text, team_id, is_identified
                """, logger: logger)
            var person: Person?
            for try await row in rows.decode((Int, UUID, Date, String, Int, Bool).self) { person = try Self.person(row) }
            guard let person else { throw IngestionError.permanent("person insert returned no row", teamId: teamId) }
            for distinctId in distinctIds {
                try await connection.query(
                    """
                    INSERT INTO posthog_persondistinctid (distinct_id, person_id, team_id)
                    VALUES (\(distinctId), \(person.id), \(teamId))
                    """, logger: logger
                ).consume()
            }
            return person
        }
    }

    func updateProperties(_ person: Person, properties: JSONObject) async throws {
        try await store.execute(
            "UPDATE posthog_person SET properties = \(JSON.object(properties).jsonString)::jsonb WHERE id = \(person.id)")
    }

    func setIdentified(_ person: Person) async throws {
        try await store.execute("UPDATE posthog_person SET is_identified = true WHERE id = \(person.id)")
    }

    func updateCreatedAtAndProperties(_ person: Person, createdAt: Date, properties: JSONObject) async throws {
        try await store.execute(
            """
            UPDATE posthog_person SET created_at = \(createdAt), properties = \(JSON.object(properties).jsonString)::jsonb
            WHERE id = \(person.id)
            """)
    }

    func addDistinctId(_ person: Person, distinctId: String) async throws {
        try await store.execute(
            """
            INSERT INTO posthog_persondistinctid (distinct_id, person_id, team_id)
            VALUES (\(distinctId), \(person.id), \(person.teamId))
            """)
    }

    /// Moves every distinct id of `source` to `target`, keeping row ids (and so their order).
    func moveDistinctIds(from source: Person, to target: Person) async throws {
        try await store.execute(
            """
            UPDATE posthog_persondistinctid SET person_id = \(target.id)
            WHERE person_id = \(source.id) AND team_id = \(source.teamId)
            """)
    }

    func moveCohortMemberships(from source: Person, to target: Person) async throws {
        try await store.execute("UPDATE posthog_cohortpeople SET person_id = \(target.id) WHERE person_id = \(source.id)")
    }

    /// Deletes a merged-away person. Distinct ids that reached it after the merge moved its ids (a
    /// concurrent alias in another instance) go to `target` instead of being deleted with it: the
    /// original deleted them, leaving those distinct ids without a person.
    func deletePerson(_ person: Person, movingLeftoversTo target: Person) async throws {
        let logger = store.logger
        try await store.withTransaction { connection in
            try await connection.query(
                "UPDATE posthog_persondistinctid SET person_id = \(target.id) WHERE person_id = \(person.id)", logger: logger
            ).consume()
            try await connection.query("DELETE FROM posthog_person WHERE id = \(person.id)", logger: logger).consume()
        }
    }

    func distinctIdExists(teamId: Int, distinctId: String) async throws -> Bool {
        let rows = try await store.query(
            "SELECT COUNT(*) FROM posthog_persondistinctid WHERE team_id = \(teamId) AND distinct_id = \(distinctId)")
        for try await count in rows.decode(Int.self) { return count > 0 }
        return false
    }
}
