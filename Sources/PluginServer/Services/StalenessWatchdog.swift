import Foundation
import Logging
import PostHogEvents
import ServiceLifecycle

/// STALENESS_RESTART_SECONDS: once the server has stored events, a stretch of that many seconds
/// without storing any is taken for a hang. The watchdog reports it (log, Sentry,
/// `alerts.stale_plugin_server_restarted`) and fails, which shuts the server down gracefully and
/// ends the process with a non-zero code, so that its supervisor starts it again.
///
/// As in the original, a server that has stored nothing since it started is never stale (a quiet
/// instance is not restarted over and over). The original checked every `min(value, 10000)`
/// milliseconds, taking the seconds for milliseconds (configuration.md §3.3, a bug); this checks
/// every `min(value, 10)` seconds.
struct StalenessWatchdog: Service {
    static let forcedExitAfter: Duration = .seconds(120)

    let limit: Duration
    let status: ServerStatus
    let metrics: ServerMetrics
    let errors: SentryReporter
    let instanceId: String
    let logger: Logger

    init?(seconds: Int, status: ServerStatus, metrics: ServerMetrics, errors: SentryReporter, instanceId: String, logger: Logger) {
        guard seconds > 0 else { return nil }
        self.limit = .seconds(seconds)
        self.status = status
        self.metrics = metrics
        self.errors = errors
        self.instanceId = instanceId
        self.logger = logger
    }

    var interval: Duration { min(limit, .seconds(10)) }

    func run() async throws {
        while true {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            if let stale = check() { throw stale }
        }
    }

    /// The error to stop the server with when it is stale; it has been reported by then.
    func check() -> StaleServerError? {
        guard let last = status.lastIngestion, last.elapsed > limit else { return nil }
        let error = StaleServerError(seconds: limit.components.seconds, lastIngestion: last.date)
        let lastIngestion = EventTimestamp(millisecondsSince1970: Int64(last.date.timeIntervalSince1970 * 1000)).isoString
        logger.error(
            "\(error.description)",
            metadata: ["instance_id": "\(instanceId)", "last_ingestion": "\(lastIngestion)", "ingested": "\(status.ingestedCount)"])
        metrics.staleServerRestarting()
        errors.capture(
            SentryReport(
                type: "StaleServerError", message: error.description,
                extra: [
                    "instanceId": .string(instanceId), "lastActivity": .string(lastIngestion), "lastActivityType": "ingestion",
                    "ingested": .number(Double(status.ingestedCount)),
                ]))
        // The original sent itself SIGKILL when its graceful exit took over 120 s.
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(Int(Self.forcedExitAfter.components.seconds))) {
            logger.critical("Still shutting down \(Self.forcedExitAfter) after the staleness restart began: exiting now")
            exit(1)
        }
        return error
    }
}

public struct StaleServerError: Error, CustomStringConvertible {
    public let seconds: Int64
    public let lastIngestion: Date

    public var description: String { "Plugin Server has not ingested events for over \(seconds) seconds! Rebooting." }
}
