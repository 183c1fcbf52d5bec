import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Writes the posthog_event rows of concurrent ingestions together: rows arriving while a statement
/// runs go into the next one, one multi-row INSERT (with their message keys claimed in the same
/// statement) instead of one round trip each. Each caller still waits for its own row to be stored,
/// so nothing is acknowledged early. A batch that fails for a reason other than a lost connection is
/// written again row by row, so one bad row fails only its own event.
final class EventRowWriter: Sendable {
    struct Row: Sendable {
        var messageKey: UUID
        var timestamp: String
        var event: String
        var distinctId: String
        var properties: String
        var teamId: Int
        var elements: String
        var elementsHash: String
    }

    /// For each row: its event id when stored now, `nil` when its key was already stored.
    typealias Outcome = Int?

    private struct Waiting {
        var row: Row
        var continuation: CheckedContinuation<Outcome, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var statementsRunning = 0
        var mostStatementsRunning = 0
    }

    private let store: PostgresStore
    private let ownSchema: String
    private let maximumRows: Int
    private let maximumStatements: Int
    private let logger: Logger
    private let state = Mutex(State())

    /// The most rows one statement writes.
    static let statementRows = 500

    /// At most `maximumStatements` statements at once, which leaves the rest of the pool to persons and
    /// definitions; more than one only while more rows wait than a statement takes.
    init(store: PostgresStore, ownSchema: String, maximumRows: Int = statementRows, maximumStatements: Int, logger: Logger) {
        self.store = store
        self.ownSchema = ownSchema
        self.maximumRows = maximumRows
        self.maximumStatements = max(1, maximumStatements)
        self.logger = logger
    }

    /// The most statements that ran at once (for tests).
    var mostStatementsRunning: Int { state.withLock { $0.mostStatementsRunning } }

    func write(_ row: Row) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { state -> Bool in
                state.waiting.append(Waiting(row: row, continuation: continuation))
                // One statement at a time while its next batch fits in one: fewer, fuller statements
                // cost the database less CPU per row. Another starts only for a backlog beyond that.
                guard
                    state.statementsRunning == 0
                        || (state.waiting.count > maximumRows && state.statementsRunning < maximumStatements)
                else { return false }
                state.statementsRunning += 1
                state.mostStatementsRunning = max(state.mostStatementsRunning, state.statementsRunning)
                return true
            }
            if start { Task { await self.drain() } }
        }
    }

    /// Writes batches until nothing waits.
    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Waiting] in
                guard !state.waiting.isEmpty else {
                    state.statementsRunning -= 1
                    return []
                }
                let batch = Array(state.waiting.prefix(maximumRows))
                state.waiting.removeFirst(batch.count)
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                let outcomes = try await insert(batch.map(\.row))
                for (waiting, outcome) in zip(batch, outcomes) { waiting.continuation.resume(returning: outcome) }
            } catch  where batch.count > 1 && !PostgresFailure.isTransient(error) {
                logger.debug(
                    "A multi-row event insert failed; writing its rows one by one", metadata: ["error": .failure(error)]
                )
                for waiting in batch {
                    do {
                        let outcome = try await insert([waiting.row])
                        waiting.continuation.resume(returning: outcome[0])
                    } catch {
                        waiting.continuation.resume(throwing: error)
                    }
                }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }

    /// One statement: claims the keys, inserts the rows whose key it claimed (in input order, so the
    /// n-th inserted id belongs to the n-th claimed row) and returns each claimed key with its id.
    private func insert(_ rows: [Row]) async throws -> [Outcome] {
        var bindings = PostgresBindings()
        bindings.append(rows.map(\.messageKey))
        bindings.append(rows.map(\.timestamp))
        bindings.append(rows.map(\.event))
        bindings.append(rows.map(\.distinctId))
        bindings.append(rows.map(\.properties))
        bindings.append(rows.map(\.teamId))
        bindings.append(rows.map(\.elements))
        bindings.append(rows.map(\.elementsHash))
        let sql = """
            WITH input AS (
              SELECT DISTINCT ON (key) *
              FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[])
                WITH ORDINALITY AS t(key, ts, event, distinct_id, properties, team_id, elements, elements_hash, ord)
              ORDER BY key, ord
            ),
            claimed AS (
              INSERT INTO \(ownSchema).ingested_messages (key) SELECT key FROM input ON CONFLICT DO NOTHING RETURNING key
            ),
            chosen AS (
              SELECT input.*, row_number() OVER (ORDER BY ord) AS n FROM input JOIN claimed USING (key)
            ),
            inserted AS (
              INSERT INTO posthog_event (created_at, event, distinct_id, properties, team_id, timestamp, elements, elements_hash)
              SELECT ts::timestamptz, event, distinct_id, properties::jsonb, team_id, ts::timestamptz, elements::jsonb, elements_hash
              FROM chosen ORDER BY n
              RETURNING id
            )
            SELECT chosen.key, numbered.id
            FROM chosen JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM inserted) AS numbered USING (n)
            """
        var ids: [UUID: Int] = [:]
        for row in try await store.write(PostgresQuery(unsafeSQL: sql, binds: bindings)) {
            let (key, id) = try row.decode((UUID, Int).self)
            ids[key] = id
        }
        // A key twice in one batch (a redelivery) is stored once: the first row gets the id.
        var outcomes: [Outcome] = []
        for row in rows { outcomes.append(ids.removeValue(forKey: row.messageKey)) }
        return outcomes
    }
}
