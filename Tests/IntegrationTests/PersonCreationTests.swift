import Foundation
import Logging
import PostHogEvents
import Testing

@testable import PluginServer

/// Capture's grouped person creation (`PersonCreationBatcher` over `createPersonsIfAbsent`) against
/// a real Postgres: one person per new distinct id, none for a distinct id that exists, and a group
/// that hits the unique constraint still creates the persons of its other requests.
@Suite(.serialized) struct PersonCreationTests {
    func withStore(_ body: (TestDatabase, PersonStore) async throws -> Void) async throws {
        try await TestDatabase.withStore { database, store in try await body(database, PersonStore(store: store)) }
    }

    static func request(_ distinctId: String, teamId: Int = 2) -> PersonStore.NewPerson {
        PersonStore.NewPerson(
            teamId: teamId, distinctId: distinctId, uuid: UUIDT().uuid,
            createdAt: EventTimestamp.parseISO8601("2021-05-01T12:00:00.000Z")!)
    }

    @Test("one statement creates a person per new distinct id and none for an existing one")
    func groupStatement() async throws {
        try await withStore { database, persons in
            try database.execute(
                """
                WITH p AS (INSERT INTO posthog_person (created_at, properties, team_id, is_identified, uuid)
                           VALUES (now(), '{"a": 1}', 2, false, '\(UUIDT().uuidString)') RETURNING id)
                INSERT INTO posthog_persondistinctid (distinct_id, person_id, team_id) SELECT 'existing', id, 2 FROM p
                """)
            let requests = [Self.request("new-1"), Self.request("existing"), Self.request("new-2")]
            let created = try await persons.createPersonsIfAbsent(requests)
            #expect(Set(created.keys) == [requests[0].uuid, requests[2].uuid])
            #expect(created[requests[0].uuid]?.properties == JSONObject())
            #expect(created[requests[0].uuid]?.isIdentified == false)
            #expect(try database.count("posthog_person") == 3)
            let existing = try database.scalar("SELECT uuid::text FROM posthog_person WHERE properties = '{\"a\": 1}'")
            let rows = try database.rows(
                "SELECT d.distinct_id, p.uuid::text AS uuid FROM posthog_persondistinctid d JOIN posthog_person p ON p.id = d.person_id ORDER BY d.distinct_id"
            )
            #expect(rows.map { $0["distinct_id"] } == ["existing", "new-1", "new-2"])
            #expect(
                rows.map { $0["uuid"] } == [
                    existing, .string(requests[0].uuid.uuidString.lowercased()), .string(requests[2].uuid.uuidString.lowercased()),
                ])
            #expect(
                try database.scalar(
                    "SELECT created_at = '2021-05-01T12:00:00Z'::timestamptz FROM posthog_person WHERE uuid = '\(requests[0].uuid)'")
                    == true)
        }
    }

    @Test("concurrent requests share statements; a unique violation in a group leaves the others' persons created, no orphans")
    func batcherUnderConcurrency() async throws {
        try await withStore { database, persons in
            let batcher = PersonCreationBatcher(persons: persons, maximumStatements: 1)
            // 300 distinct ids, each asked for twice at once: the second ask of an id either finds it
            // (false) or collides with the first in one group (unique violation, then one by one).
            let ids = (0..<300).map { "user-\($0)" }
            let results = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                for id in ids + ids { group.addTask { (id, try await batcher.createIfAbsent(Self.request(id))) } }
                var results: [String: [Bool]] = [:]
                for try await (id, created) in group { results[id, default: []].append(created) }
                return results
            }
            #expect(results.count == 300)
            #expect(results.values.allSatisfy { $0.filter { $0 }.count == 1 })
            #expect(try database.count("posthog_persondistinctid") == 300)
            #expect(try database.count("posthog_person") == 300)
            #expect(
                try database.count(
                    "posthog_person p", where: "NOT EXISTS (SELECT 1 FROM posthog_persondistinctid d WHERE d.person_id = p.id)") == 0)
        }
    }
}
