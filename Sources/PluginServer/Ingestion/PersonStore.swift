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
/// (postgres-schema.md: posthog_person, posthog_persondistinctid, posthog_cohortpeople). Each
/// change, once stored, is reported to `mirror` (ClickHouse mode).
struct PersonStore: Sendable {
    let store: PostgresStore
    var mirror: (any PersonMirror)? = nil

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
        let (person, rowIds) = try await store.withTransaction { connection in
            let rows = try await connection.query(
                """
                INSERT INTO posthog_person (created_at, properties, team_id, is_user_id, is_identified, uuid)
                VALUES (\(createdAt.isoString)::timestamptz, \(JSON.object(properties).jsonString)::jsonb, \(teamId), NULL, \(isIdentified), \(uuid))
                RETURNING id, uuid, created_at, properties::text, team_id, is_identified
                """, logger: logger)
            var person: Person?
            for try await row in rows.decode((Int, UUID, Date, String, Int, Bool).self) { person = try Self.person(row) }
            guard let person else { throw IngestionError.permanent("person insert returned no row", teamId: teamId) }
            var rowIds: [Int] = []
            for distinctId in distinctIds {
                let rows = try await connection.query(
                    """
                    INSERT INTO posthog_persondistinctid (distinct_id, person_id, team_id)
                    VALUES (\(distinctId), \(person.id), \(teamId)) RETURNING id
                    """, logger: logger)
                for try await id in rows.decode(Int.self) { rowIds.append(id) }
            }
            return (person, rowIds)
        }
        // Mirrored only after commit: one person message, then one per distinct id in order (§9).
        if let mirror {
            try await mirror.personCreated(person)
            for (rowId, distinctId) in zip(rowIds, distinctIds) {
                try await mirror.distinctIdStored(rowId: rowId, distinctId: distinctId, person: person)
            }
        }
        return person
    }

    /// A person capture would create for a distinct id (ingestion.md §7.1): no properties, not
    /// identified.
    struct NewPerson: Sendable {
        var teamId: Int
        var distinctId: String
        var uuid: UUID
        var createdAt: EventTimestamp
    }

    /// Capture's person creation for several distinct ids in one statement: a person for each
    /// distinct id its team does not have yet, holding that distinct id. Returns the persons created,
    /// by the `uuid` asked for; a distinct id that existed gets none. As atomic as `createPerson`'s
    /// transaction: a concurrent insert of one of the distinct ids fails the whole statement with
    /// the unique violation (SQLSTATE 23505), leaving no person behind.
    func createPersonsIfAbsent(_ requests: [NewPerson]) async throws -> [UUID: Person] {
        guard !requests.isEmpty else { return [:] }
        let rows = try await store.write(
            """
            WITH requested AS (
                SELECT * FROM unnest(\(requests.map(\.teamId))::int8[], \(requests.map(\.distinctId))::text[],
                                     \(requests.map(\.uuid))::uuid[], \(requests.map(\.createdAt.isoString))::text[])
                    AS r (team_id, distinct_id, uuid, created_at)
            ), new_person AS (
                INSERT INTO posthog_person (created_at, properties, team_id, is_user_id, is_identified, uuid)
                SELECT r.created_at::timestamptz, '{}'::jsonb, r.team_id, NULL, false, r.uuid FROM requested r
                WHERE NOT EXISTS (
                    SELECT 1 FROM posthog_persondistinctid d WHERE d.team_id = r.team_id AND d.distinct_id = r.distinct_id)
                RETURNING id, uuid, created_at, properties::text, team_id, is_identified
            ), new_distinct_id AS (
                INSERT INTO posthog_persondistinctid (distinct_id, person_id, team_id)
                SELECT r.distinct_id, p.id, p.team_id FROM new_person p JOIN requested r ON r.uuid = p.uuid
                RETURNING id, distinct_id, person_id
            )
            SELECT p.id, p.uuid, p.created_at, p.properties, p.team_id, p.is_identified, d.id, d.distinct_id
            FROM new_person p JOIN new_distinct_id d ON d.person_id = p.id
            ORDER BY p.id
            """)
        var created: [(person: Person, rowId: Int, distinctId: String)] = []
        for row in rows {
            let row = try row.decode((Int, UUID, Date, String, Int, Bool, Int, String).self)
            created.append((try Self.person((row.0, row.1, row.2, row.3, row.4, row.5)), row.6, row.7))
        }
        // Mirrored only after the statement committed, as `createPerson` (§9): the person, then its
        // distinct id.
        if let mirror {
            for (person, rowId, distinctId) in created {
                try await mirror.personCreated(person)
                try await mirror.distinctIdStored(rowId: rowId, distinctId: distinctId, person: person)
            }
        }
        return Dictionary(created.map { ($0.person.uuid, $0.person) }) { first, _ in first }
    }

    func updateProperties(_ person: Person, properties: JSONObject) async throws {
        try await store.execute(
            "UPDATE posthog_person SET properties = \(JSON.object(properties).jsonString)::jsonb WHERE id = \(person.id)")
        var updated = person
        updated.properties = properties
        try await mirror?.personUpdated(updated)
    }

    func setIdentified(_ person: Person) async throws {
        try await store.execute("UPDATE posthog_person SET is_identified = true WHERE id = \(person.id)")
        var updated = person
        updated.isIdentified = true
        try await mirror?.personUpdated(updated)
    }

    func updateCreatedAtAndProperties(_ person: Person, createdAt: Date, properties: JSONObject) async throws {
        try await store.execute(
            """
            UPDATE posthog_person SET created_at = \(createdAt), properties = \(JSON.object(properties).jsonString)::jsonb
            WHERE id = \(person.id)
            """)
        var updated = person
        updated.createdAt = createdAt
        updated.properties = properties
        try await mirror?.personUpdated(updated)
    }

    func addDistinctId(_ person: Person, distinctId: String) async throws {
        let rows = try await store.write(
            """
            INSERT INTO posthog_persondistinctid (distinct_id, person_id, team_id)
            VALUES (\(distinctId), \(person.id), \(person.teamId)) RETURNING id
            """)
        for row in rows {
            let rowId = try row.decode(Int.self)
            try await mirror?.distinctIdStored(rowId: rowId, distinctId: distinctId, person: person)
        }
    }

    /// Moves every distinct id of `source` to `target`, keeping row ids (and so their order).
    func moveDistinctIds(from source: Person, to target: Person) async throws {
        let rows = try await store.query(
            """
            UPDATE posthog_persondistinctid SET person_id = \(target.id)
            WHERE person_id = \(source.id) AND team_id = \(source.teamId)
            RETURNING id, distinct_id
            """)
        var moved: [(Int, String)] = []
        for try await row in rows.decode((Int, String).self) { moved.append(row) }
        for (rowId, distinctId) in moved { try await mirror?.distinctIdStored(rowId: rowId, distinctId: distinctId, person: target) }
    }

    func moveCohortMemberships(from source: Person, to target: Person) async throws {
        try await store.execute("UPDATE posthog_cohortpeople SET person_id = \(target.id) WHERE person_id = \(source.id)")
    }

    /// Deletes a merged-away person. Distinct ids that reached it after the merge moved its ids (a
    /// concurrent alias in another instance) go to `target` instead of being deleted with it: the
    /// original deleted them, leaving those distinct ids without a person.
    func deletePerson(_ person: Person, movingLeftoversTo target: Person) async throws {
        let logger = store.logger
        let moved = try await store.withTransaction { connection in
            let rows = try await connection.query(
                "UPDATE posthog_persondistinctid SET person_id = \(target.id) WHERE person_id = \(person.id) RETURNING id, distinct_id",
                logger: logger)
            var moved: [(Int, String)] = []
            for try await row in rows.decode((Int, String).self) { moved.append(row) }
            try await connection.query("DELETE FROM posthog_person WHERE id = \(person.id)", logger: logger).consume()
            return moved
        }
        guard let mirror else { return }
        for (rowId, distinctId) in moved { try await mirror.distinctIdStored(rowId: rowId, distinctId: distinctId, person: target) }
        try await mirror.personDeleted(person)
    }
}
