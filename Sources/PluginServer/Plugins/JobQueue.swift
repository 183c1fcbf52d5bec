import Foundation
import Logging
import PluginRuntime
import PostHogEvents
import PostgresNIO

/// The persistent job queue: a table the server owns in JOB_QUEUE_GRAPHILE_SCHEMA, in the shape
/// postgres-schema.md proposes. Plugins enqueue with `meta.jobs.<name>(payload).runNow()`.
struct JobQueue: Sendable {
    let store: PostgresStore
    let schema: String
    let enabled: Bool

    var table: String { "\"\(schema.replacingOccurrences(of: "\"", with: ""))\".jobs" }

    func prepare() async throws {
        guard enabled else { return }
        try await store.execute(
            PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \"\(schema.replacingOccurrences(of: "\"", with: ""))\""))
        try await store.execute(
            PostgresQuery(
                unsafeSQL: """
                    CREATE TABLE IF NOT EXISTS \(table) (
                        id bigserial PRIMARY KEY,
                        task_identifier text NOT NULL,
                        payload json NOT NULL,
                        run_at timestamptz NOT NULL DEFAULT now(),
                        attempts int NOT NULL DEFAULT 0,
                        max_attempts int NOT NULL DEFAULT 1,
                        last_error text,
                        locked_at timestamptz,
                        locked_by text,
                        created_at timestamptz NOT NULL DEFAULT now(),
                        updated_at timestamptz NOT NULL DEFAULT now()
                    )
                    """))
        try await store.execute(PostgresQuery(unsafeSQL: "CREATE INDEX IF NOT EXISTS jobs_run_at ON \(table) (run_at, id)"))
    }

    func enqueue(_ job: PluginJob) async throws {
        guard enabled else { throw PluginHostError("No JobQueue available") }
        var bindings = PostgresBindings()
        bindings.append(job.json.jsonString)
        bindings.append(EventTimestamp(millisecondsSince1970: Int64(job.timestamp)).isoString)
        try await store.execute(
            PostgresQuery(
                unsafeSQL:
                    "INSERT INTO \(table) (task_identifier, payload, run_at, max_attempts) VALUES ('pluginJob', $1::json, $2::timestamptz, 1)",
                binds: bindings))
    }
}
