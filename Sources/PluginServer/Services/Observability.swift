import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization

/// The server's metrics, error reporting and operations endpoint, built from their settings:
/// StatsD only with STATSD_HOST, Sentry only with SENTRY_DSN, the web server unless DISABLE_WEB.
struct Observability: Sendable {
    let settings: ServerSettings.Observability
    let metrics: ServerMetrics
    let statsd: StatsDClient?
    let errors: SentryReporter
    let logger: Logger

    init(settings: ServerSettings.Observability, instanceId: String, logger: Logger) {
        self.settings = settings
        self.logger = logger
        let errors = SentryReporter(
            dsn: settings.sentryDSN.flatMap(SentryDSN.init), release: "posthog-plugin-server@\(PluginServerVersion.compatible)",
            defaultTags: ["instance_id": instanceId], logger: logger)
        self.errors = errors
        statsd = settings.statsdHost.map {
            StatsDClient(host: $0, port: settings.statsdPort, prefix: settings.statsdPrefix, errors: errors, logger: logger)
        }
        metrics = ServerMetrics(statsd: statsd)
        Self.bootstrapMetricsSystem(metrics.registry)
    }

    /// Sentry and StatsD first in the group: they stop last, after everything they could report on.
    var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if errors.isEnabled { services.append(.init(service: errors)) }
        if let statsd { services.append(.init(service: statsd)) }
        return services
    }

    /// The web server, to sit right after Postgres: it answers until the rest has stopped.
    func webServer(readiness: Readiness) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        guard !settings.disableWeb else { return [] }
        let server = OperationsServer(
            hostname: settings.webHostname, port: settings.webPort, readiness: readiness, registry: metrics.registry, logger: logger)
        return [.init(service: server)]
    }

    /// Where each part reports, for the start-up line.
    var startupMetadata: Logger.Metadata {
        [
            "web":
                "\(settings.disableWeb ? "off (DISABLE_WEB)" : "http://\(settings.webHostname):\(settings.webPort) (/_health /_ready /metrics)")",
            "statsd": "\(settings.statsdHost.map { "\($0):\(settings.statsdPort) prefix \(settings.statsdPrefix)" } ?? "off")",
            "sentry": "\(errors.dsn.map { "\($0.base) project \($0.projectId)" } ?? "off")",
            "log_level": "\(settings.logLevel.rawValue)",
        ]
    }

    /// swift-metrics users (the queue consumer's counters, libraries) land on `/metrics` too.
    /// The metrics system can be bootstrapped once per process.
    private static let bootstrapped = Mutex(false)
    private static func bootstrapMetricsSystem(_ registry: PrometheusCollectorRegistry) {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        if first { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
    }
}
