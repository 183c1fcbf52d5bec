import Foundation
import Logging
import PluginRuntime
import PostHogEvents
import PostgresNIO
import ServiceLifecycle

/// Runs queued plugin jobs on the instance holding `plugin-server:locks:job-queue-consumer`
/// (plugin-runtime.md §10.2): due rows are claimed with FOR UPDATE SKIP LOCKED, run one at a time,
/// deleted once run, kept with `last_error` when the plugin threw. Jobs survive restarts.
struct JobConsumer: Service {
    let queue: JobQueue
    let runtime: PluginRuntime
    let lock: RedisLock
    let instanceId: String
    let logger: Logger
    /// Job queue failures go to Sentry as the original's did, once per streak of five failed polls.
    var errors: SentryReporter? = nil
    /// Consumption starts once plugins are loaded, which is after the job table was prepared.
    var status: ServerStatus? = nil

    func run() async throws {
        guard queue.enabled else {
            // Returning would end the whole service group: stay until shutdown.
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while let status, !status.arePluginsLoaded, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
            }
            await lock.runAsLeader(logger: logger) { await self.consume() }
        }
    }

    private func consume() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let ran = try await runNextJob()
                failures = 0
                if ran { continue }
            } catch {
                logger.warning("Job queue poll failed", metadata: ["error": .failure(error)])
                failures += 1
                // Not the first failures: at start the table may not be prepared yet.
                if failures == 5 { errors?.capture(error, tags: ["job_queue": queue.table]) }
                try? await Task.sleep(for: .seconds(1))
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Claims and runs one due job; false when none is due.
    private func runNextJob() async throws -> Bool {
        let table = queue.table
        var bindings = PostgresBindings()
        bindings.append(instanceId)
        let claimed = try await queue.store.query(
            PostgresQuery(
                unsafeSQL: """
                    UPDATE \(table) SET attempts = attempts + 1, locked_at = now(), locked_by = $1, updated_at = now()
                    WHERE id = (
                        SELECT id FROM \(table)
                        WHERE run_at <= now() AND attempts < max_attempts AND (locked_at IS NULL OR locked_at < now() - interval '4 hours')
                        ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
                    RETURNING id, payload::text
                    """, binds: bindings))
        var job: (Int, String)?
        for try await row in claimed.decode((Int, String).self) { job = row }
        guard let (id, payloadText) = job else { return false }
        let record = (try? JSON(parsing: payloadText)) ?? .null
        var error: String?
        if let configId = record["pluginConfigId"]?.intValue, let type = record["type"]?.stringValue {
            do {
                try await runtime.runJob(configId: configId, type: type, payload: record["payload"] ?? .null)
            } catch let failure {
                error = failure.message
            }
        } else {
            error = "job has no pluginConfigId or type: \(payloadText)"
        }
        if let error {
            var failed = PostgresBindings()
            failed.append(error)
            try await queue.store.execute(
                PostgresQuery(
                    unsafeSQL: "UPDATE \(table) SET last_error = $1, locked_at = NULL, locked_by = NULL WHERE id = \(id)", binds: failed))
            logger.warning("Plugin job failed", metadata: ["job_id": "\(id)", "error": "\(error)"])
        } else {
            try await queue.store.execute(PostgresQuery(unsafeSQL: "DELETE FROM \(table) WHERE id = \(id)"))
        }
        return true
    }
}
