import Foundation
import Logging
import PostHogEvents
import Testing

@testable import PluginServer

/// The multi-row event insert: concurrent rows share statements, each caller learns its own event id,
/// a key already stored (or twice in one batch) is stored once, and a bad row fails only itself.
@Suite(.serialized) struct EventRowWriterTests {
    static func row(_ key: UUID, properties: String = #"{"a": 1}"#, distinctId: String = "d") -> EventRowWriter.Row {
        EventRowWriter.Row(
            messageKey: key, timestamp: "2021-06-01T12:00:00.000Z", event: "$pageview", distinctId: distinctId, properties: properties,
            teamId: 2, elements: "[]", elementsHash: "")
    }

    @Test("concurrent rows are stored once each with their own ids; duplicates and stored keys are recognised; a bad row fails alone")
    func batchedInsert() async throws {
        let logger = Logger(label: "test")
        try await TestDatabase.withStore { database, store in
            // One statement at a time, so rows written together end up in the same batch.
            let writer = EventRowWriter(store: store, ownSchema: SchemaMigrator.ownSchema, maximumStatements: 1, logger: logger)
            let keys = (0..<300).map { _ in UUID() }
            let ids = try await withThrowingTaskGroup(of: (Int, Int?).self) { writes in
                for (index, key) in keys.enumerated() {
                    writes.addTask { (index, try await writer.write(Self.row(key, distinctId: "user-\(index)"))) }
                }
                var ids: [Int: Int?] = [:]
                for try await (index, id) in writes { ids[index] = id }
                return ids
            }
            #expect(ids.count == 300 && ids.values.allSatisfy { $0 != nil })
            // Every caller got the id of its own row.
            for (index, id) in ids {
                #expect(try database.scalar("SELECT distinct_id FROM posthog_event WHERE id = \(id!)")?.stringValue == "user-\(index)")
            }
            // A redelivered key is not stored again, also when it comes twice in one batch.
            let again = UUID()
            async let first = writer.write(Self.row(again))
            async let second = writer.write(Self.row(again))
            async let old = writer.write(Self.row(keys[0]))
            let outcomes = try await [first, second, old]
            #expect(outcomes.compactMap { $0 }.count == 1)
            #expect(try database.count("posthog_event") == 301)
            // A row Postgres refuses (\u0000 in jsonb) fails alone; its batch neighbours are stored.
            let bad = Task { try await writer.write(Self.row(UUID(), properties: #"{"a": "\u0000"}"#)) }
            let good = Task { try await writer.write(Self.row(UUID(), distinctId: "neighbour")) }
            await #expect(throws: (any Error).self) { _ = try await bad.value }
            #expect(try await good.value != nil)
            #expect(try database.count("posthog_event", where: "distinct_id = 'neighbour'") == 1)
        }
    }

    @Test("one statement at a time while the waiting rows fit in one; a backlog beyond that gets more, up to the limit")
    func statementsAtOnce() async throws {
        let logger = Logger(label: "test")
        try await TestDatabase.withStore { database, store in
            func writeConcurrently(_ writer: EventRowWriter, count: Int) async throws -> [Int?] {
                try await withThrowingTaskGroup(of: Int?.self) { writes in
                    for index in 0..<count { writes.addTask { try await writer.write(Self.row(UUID(), distinctId: "user-\(index)")) } }
                    return try await writes.reduce(into: []) { $0.append($1) }
                }
            }
            let fitting = EventRowWriter(store: store, ownSchema: SchemaMigrator.ownSchema, maximumStatements: 4, logger: logger)
            let stored = try await writeConcurrently(fitting, count: 300)
            #expect(stored.allSatisfy { $0 != nil })
            #expect(fitting.mostStatementsRunning == 1)
            let small = EventRowWriter(
                store: store, ownSchema: SchemaMigrator.ownSchema, maximumRows: 10, maximumStatements: 3, logger: logger)
            let more = try await writeConcurrently(small, count: 300)
            #expect(more.allSatisfy { $0 != nil })
            #expect(small.mostStatementsRunning > 1 && small.mostStatementsRunning <= 3)
            #expect(try database.count("posthog_event") == 600)
        }
    }
}
