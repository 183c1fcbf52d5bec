import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import PostHogEvents
import ServiceLifecycle
import Synchronization

/// Sends errors to Sentry's envelope endpoint when SENTRY_DSN is set (metrics.md). `capture` only
/// queues, so no caller waits for the network; `run()` posts one envelope at a time and, at
/// shutdown, sends what is queued for a few seconds more.
final class SentryReporter: Service, Sendable {
    /// Reports beyond this many waiting are dropped: a flood of one error says nothing new.
    static let maximumQueued = 100

    let dsn: SentryDSN?
    let release: String
    let defaultTags: [String: String]
    let logger: Logger
    private let reports: AsyncStream<SentryReport>
    private let continuation: AsyncStream<SentryReport>.Continuation
    private let lastWarning = Mutex<ContinuousClock.Instant?>(nil)
    private let shutdownStarted = Mutex<ContinuousClock.Instant?>(nil)

    init(dsn: SentryDSN?, release: String, defaultTags: [String: String], logger: Logger) {
        self.dsn = dsn
        self.release = release
        self.defaultTags = defaultTags
        self.logger = logger
        (reports, continuation) = AsyncStream.makeStream(of: SentryReport.self, bufferingPolicy: .bufferingNewest(Self.maximumQueued))
    }

    var isEnabled: Bool { dsn != nil }

    func capture(_ report: SentryReport) {
        guard dsn != nil else { return }
        continuation.yield(report)
    }

    func capture(_ error: any Error, tags: [String: String] = [:], extra: [String: String] = [:]) {
        guard dsn != nil else { return }
        var extraObject = JSONObject()
        for (key, value) in extra.sorted(by: { $0.key < $1.key }) { extraObject[key] = .string(value) }
        // The reflecting form: PSQLError's plain description is generic on purpose, useless here.
        capture(SentryReport(type: String(describing: type(of: error)), message: String(reflecting: error), tags: tags, extra: extraObject))
    }

    func run() async throws {
        guard let dsn else { return }
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        let serverName = ProcessInfo.processInfo.hostName
        logger.info("Reporting errors to Sentry", metadata: ["sentry": "\(dsn.base)", "project": "\(dsn.projectId)"])
        await withGracefulShutdownHandler {
            for await report in reports {
                // Queued reports get five seconds after the shutdown signal; the rest are dropped.
                if let started = shutdownStarted.withLock({ $0 }), ContinuousClock.now - started > .seconds(5) { continue }
                await post(report, dsn: dsn, client: client, serverName: serverName)
            }
        } onGracefulShutdown: {
            self.shutdownStarted.withLock { $0 = .now }
            self.continuation.finish()
        }
        try? await client.shutdown()
    }

    private func post(_ report: SentryReport, dsn: SentryDSN, client: HTTPClient, serverName: String) async {
        var request = HTTPClientRequest(url: dsn.envelopeURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-sentry-envelope")
        request.headers.add(
            name: "X-Sentry-Auth", value: dsn.authHeader(client: "posthog-plugin-server-swift/\(PluginServerVersion.compatible)"))
        let body = report.envelope(dsn: dsn, release: release, serverName: serverName, defaultTags: defaultTags)
        request.body = .bytes(ByteBuffer(bytes: body))
        // Shorter at shutdown, so an unreachable Sentry cannot hold the process up for long.
        let timeout: TimeAmount = Task.isShuttingDownGracefully ? .seconds(2) : .seconds(10)
        do {
            let response = try await client.execute(request, timeout: timeout)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            if !(200..<300).contains(response.status.code) {
                warn("Sentry refused an error report", metadata: ["status": "\(response.status.code)"])
            }
        } catch {
            warn("Error report not sent to Sentry", metadata: ["error": .failure(error)])
        }
    }

    private func warn(_ message: Logger.Message, metadata: Logger.Metadata) {
        let now = ContinuousClock.now
        let shouldLog = lastWarning.withLock { last in
            if let previous = last, now - previous < .seconds(60) { return false }
            last = now
            return true
        }
        if shouldLog { logger.warning(message, metadata: metadata) }
    }
}
