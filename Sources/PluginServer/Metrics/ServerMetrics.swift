import PluginRuntime
import Prometheus
import Synchronization

/// Every measurement the server takes, sent both as the original's StatsD metrics (names, types and
/// tags of metrics.md, when STATSD_HOST is set) and as Prometheus series with labels for `/metrics`.
/// Call sites say what happened; this type knows how each backend spells it.
final class ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let statsd: StatsDClient?

    /// The per-event flow of ingestion.md §2, with the original's StatsD names (both queue modes).
    enum PipelineStep: String, Sendable, CaseIterable {
        case processEventChain = "process_event_chain"
        case ingestion
        case onEvent = "on_event"
        case onSnapshot = "on_snapshot"
        case eachEvent = "each_event"

        var statsdName: String {
            switch self {
            case .processEventChain: "kafka_queue.single_event"
            case .ingestion: "kafka_queue.single_ingestion"
            case .onEvent: "kafka_queue.single_on_event"
            case .onSnapshot: "kafka_queue.single_on_snapshot"
            case .eachEvent: "kafka_queue.each_event"
            }
        }

        /// The worker task of the original that did this step (`piscina_task.<task>`).
        var workerTask: String? {
            switch self {
            case .processEventChain: "processEvent"
            case .ingestion: "ingestEvent"
            case .onEvent: "onEvent"
            case .onSnapshot: "onSnapshot"
            case .eachEvent: nil
            }
        }
    }

    /// Redis calls the original timed, with its StatsD names (`regisGet` is its spelling).
    enum RedisCall: String, Sendable, CaseIterable {
        case get = "regisGet"
        case set = "redisSet"
        case incr = "redisIncr"
        case expire = "redisExpire"
        case lpush = "redisLPush"
        case brpop = "redisBRPop"

        var command: String {
            switch self {
            case .get: "GET"
            case .set: "SET"
            case .incr: "INCR"
            case .expire: "EXPIRE"
            case .lpush: "LPUSH"
            case .brpop: "BLMOVE"
            }
        }
    }

    static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]

    private let pipelineSteps: [PipelineStep: DurationHistogram]
    private let redisCalls: [RedisCall: DurationHistogram]
    private let webhookTasks: Counter
    private let staleRestarts: Counter
    private let postgresTransactions: DurationHistogram
    private let eventsInFlight: Gauge
    private let pluginSeries = Mutex<[PluginSeriesKey: PluginSeries]>([:])
    private let postgresQueries = Mutex<[String: DurationHistogram]>([:])
    private let logEntries = Mutex<[LogEntryKey: Counter]>([:])
    private let pluginNames = Mutex<[Int: String]>([:])

    init(statsd: StatsDClient?, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.statsd = statsd
        self.registry = registry
        var steps: [PipelineStep: DurationHistogram] = [:]
        for step in PipelineStep.allCases {
            steps[step] = registry.makeDurationHistogram(
                descriptor: .init(
                    metricName: "event_pipeline_step_duration", unitName: "seconds",
                    helpText: "Time of each step of one event's flow: process_event_chain, ingestion, on_event, on_snapshot, each_event"),
                labels: [("step", step.rawValue)], buckets: Self.durationBuckets)
        }
        pipelineSteps = steps
        var calls: [RedisCall: DurationHistogram] = [:]
        for call in RedisCall.allCases {
            calls[call] = registry.makeDurationHistogram(
                descriptor: .init(
                    metricName: "redis_command_duration", unitName: "seconds",
                    helpText: "Redis commands of plugins' cache and of the Celery queue"), labels: [("command", call.command)],
                buckets: Self.durationBuckets)
        }
        redisCalls = calls
        webhookTasks = registry.makeCounter(
            descriptor: .init(metricName: "hooks_send_task", unitName: "total", helpText: "Webhook Celery tasks published"))
        staleRestarts = registry.makeCounter(
            descriptor: .init(
                metricName: "stale_server_restarts", unitName: "total",
                helpText: "Restarts begun because nothing was ingested for STALENESS_RESTART_SECONDS"))
        eventsInFlight = registry.makeGauge(
            descriptor: .init(metricName: "events_in_flight", unitName: "", helpText: "Events taken off the queue and not finished yet"))
        postgresTransactions = registry.makeDurationHistogram(
            descriptor: .init(metricName: "postgres_transaction_duration", unitName: "seconds", helpText: "Postgres transactions"),
            buckets: Self.durationBuckets)
    }

    // MARK: Events

    func pipelineStep(_ step: PipelineStep, seconds: Double) {
        pipelineSteps[step]?.record(.seconds(seconds))
        guard let statsd else { return }
        statsd.timing(step.statsdName, seconds: seconds)
        if let task = step.workerTask { statsd.timing("piscina_task." + task, seconds: seconds) }
    }

    // MARK: Stores

    /// `queryTag` is the label the original gave each query; here the calling function's name.
    func postgresQuery(tag: String, seconds: Double) {
        let histogram = postgresQueries.withLock { queries in
            if let existing = queries[tag] { return existing }
            let created = registry.makeDurationHistogram(
                descriptor: .init(
                    metricName: "postgres_query_duration", unitName: "seconds", helpText: "Postgres queries by the function that ran them"),
                labels: [("query_tag", tag)], buckets: Self.durationBuckets)
            queries[tag] = created
            return created
        }
        histogram.record(.seconds(seconds))
        statsd?.timing("query.postgres", seconds: seconds, tags: ["queryTag": tag])
        statsd?.increment("query.postgres.total", tags: ["queryTag": tag])
    }

    func postgresTransaction(seconds: Double) {
        postgresTransactions.record(.seconds(seconds))
        // The typo is the original's metric name (metrics.md).
        statsd?.timing("query.postgres_transation", seconds: seconds)
        statsd?.increment("query.postgres_transation.total")
    }

    func redisCall(_ call: RedisCall, seconds: Double) {
        redisCalls[call]?.record(.seconds(seconds))
        statsd?.timing("query." + call.rawValue, seconds: seconds)
        statsd?.increment("query." + call.rawValue + ".total")
    }

    /// Times a Redis call of `kind`, also when it throws.
    func time<Result>(_ call: RedisCall, _ body: () async throws -> Result) async rethrows -> Result {
        let start = ContinuousClock.now
        defer { redisCall(call, seconds: (ContinuousClock.now - start).inSeconds) }
        return try await body()
    }

    /// Kafka mode's StatsD timings (metrics.md): `query.kafka_send` and `query.clickhouse` with their
    /// `.total` counters, `kafka_queue.each_batch`.
    enum KafkaTiming: String, Sendable {
        case kafkaSend = "query.kafka_send"
        case clickHouse = "query.clickhouse"
        case eachBatch = "kafka_queue.each_batch"
    }

    func timing(_ timing: KafkaTiming, seconds: Double) {
        statsd?.timing(timing.rawValue, seconds: seconds)
        if timing != .eachBatch { statsd?.increment(timing.rawValue + ".total") }
    }

    /// `kafka_queue.single_save.standard` / `.snapshot`: queueing one event or snapshot for Kafka.
    func singleSave(snapshot: Bool, teamId: Int, seconds: Double) {
        statsd?.timing(
            snapshot ? "kafka_queue.single_save.snapshot" : "kafka_queue.single_save.standard", seconds: seconds,
            tags: ["team_id": String(teamId)])
    }

    func webhookTaskSent() {
        webhookTasks.increment()
        statsd?.increment("hooks.send_task")
    }

    /// A lookup answered on INTERNAL_MMDB_SERVER_PORT.
    func internalGeoIPRequest(seconds: Double) {
        statsd?.timing("mmdb.internal_request", seconds: seconds)
    }

    /// STALENESS_RESTART_SECONDS fired: the server is about to restart.
    func staleServerRestarting() {
        staleRestarts.increment()
        statsd?.increment("alerts.stale_plugin_server_restarted")
    }

    // MARK: Plugins

    /// Remembers plugin names by config id: the runtime reports calls by config, the original's
    /// metric names use the plugin's name.
    func pluginConfigsLoaded(_ descriptors: [PluginConfigDescriptor]) {
        let renamed = pluginNames.withLock { names in
            var renamed: Set<Int> = []
            for descriptor in descriptors {
                if let old = names[descriptor.id], old != descriptor.pluginName { renamed.insert(descriptor.id) }
                names[descriptor.id] = descriptor.pluginName
            }
            return renamed
        }
        // New series under the new name from now on (the old ones stay, no longer updated).
        if !renamed.isEmpty { pluginSeries.withLock { $0 = $0.filter { !renamed.contains($0.key.configId) } } }
    }

    func pluginName(configId: Int) -> String? { pluginNames.withLock { $0[configId] } }

    /// One call into plugin code: the per plugin config series, and the original's StatsD names.
    func pluginInvocation(_ invocation: PluginInvocation) {
        let config = invocation.config
        let key = PluginSeriesKey(configId: config.id, method: invocation.method)
        let series = series(for: key, teamId: config.teamId)
        let plugin = series.plugin
        series.invocations.increment()
        if invocation.failed { series.errors.increment() }
        series.seconds.increment(by: invocation.seconds)
        series.duration.record(.seconds(invocation.seconds))
        if let statsd { Self.sendPluginInvocation(invocation, plugin: plugin, to: statsd) }
    }

    /// One lock on the hot path: the series carries the plugin's name, looked up only once.
    private func series(for key: PluginSeriesKey, teamId: Int?) -> PluginSeries {
        if let existing = pluginSeries.withLock({ $0[key] }) { return existing }
        let plugin = pluginName(configId: key.configId) ?? "unknown"
        return pluginSeries.withLock { all in
            if let existing = all[key] { return existing }
            let created = PluginSeries(registry: registry, key: key, plugin: plugin, teamId: teamId)
            all[key] = created
            return created
        }
    }

    private static func sendPluginInvocation(_ invocation: PluginInvocation, plugin: String, to statsd: StatsDClient) {
        let seconds = invocation.seconds
        let team = invocation.config.teamId.map(String.init) ?? "null"
        let method = invocation.method
        switch method {
        case "processEvent":
            statsd.timing("plugin.process_event", seconds: seconds, tags: ["plugin": plugin, "teamId": team])
            if invocation.failed { statsd.increment("plugin.\(plugin).process_event.ERROR") }
        case "processEventBatch":
            statsd.timing("plugin.\(plugin).process_event_batch", seconds: seconds)
            statsd.timing("plugin.process_event_batch", seconds: seconds, tags: ["plugin": plugin, "teamId": team])
            if invocation.failed { statsd.increment("plugin.\(plugin).process_event_batch.ERROR") }
        case "onEvent", "onSnapshot":
            // onSnapshot shares onEvent's name in the original.
            statsd.timing("plugin.\(plugin).on_event", seconds: seconds)
            if invocation.failed { statsd.increment("plugin.\(plugin).on_event.ERROR") }
        case "runEveryMinute", "runEveryHour", "runEveryDay":
            let name = "plugin.task.schedule.\(method).\(invocation.config.id)"
            statsd.timing(name, seconds: seconds)
            if invocation.failed { statsd.increment(name + ".ERROR") }
        case _ where method.hasPrefix("jobs."):
            let name = "plugin.task.job.\(method.dropFirst("jobs.".count)).\(invocation.config.id)"
            statsd.timing(name, seconds: seconds)
            if invocation.failed { statsd.increment(name + ".ERROR") }
        default:
            break
        }
    }

    func pluginLogEntryCreated(source: String, teamId: Int, pluginId: Int) {
        let key = LogEntryKey(source: source, teamId: teamId, pluginId: pluginId)
        let counter = logEntries.withLock { counters in
            if let existing = counters[key] { return existing }
            let created = registry.makeCounter(
                descriptor: .init(
                    metricName: "plugin_log_entries_created", unitName: "total",
                    helpText: "Plugin log entries written to posthog_pluginlogentry"),
                labels: [("source", source), ("team_id", String(teamId)), ("plugin_id", String(pluginId))])
            counters[key] = created
            return created
        }
        counter.increment()
        statsd?.increment("logs.entries_created", tags: ["source": source, "team_id": String(teamId), "plugin_id": String(pluginId)])
    }

    // MARK: Worker pool

    /// The original's `piscina.*` gauges, every 10 s, for what this server has: its worker threads
    /// and how full the in-flight event slots are (percent).
    func workerPool(threads: Int, inFlight: Int, utilization: Double) {
        eventsInFlight.set(Double(inFlight))
        statsd?.gauge("piscina.threads", value: Double(threads))
        statsd?.gauge("piscina.utilization", value: utilization)
    }
}

private struct PluginSeriesKey: Hashable {
    var configId: Int
    var method: String
}

private struct LogEntryKey: Hashable {
    var source: String
    var teamId: Int
    var pluginId: Int
}

/// The Prometheus series of one plugin config and method.
private struct PluginSeries: Sendable {
    let plugin: String
    let invocations: Counter
    let errors: Counter
    let seconds: Counter
    let duration: DurationHistogram

    init(registry: PrometheusCollectorRegistry, key: PluginSeriesKey, plugin: String, teamId: Int?) {
        self.plugin = plugin
        let labels = [
            ("plugin_config_id", String(key.configId)), ("plugin", plugin), ("team_id", teamId.map(String.init) ?? ""),
            ("method", key.method),
        ]
        invocations = registry.makeCounter(
            descriptor: .init(
                metricName: "plugin_config_invocations", unitName: "total", helpText: "Calls into plugin code, per plugin config and method"
            ), labels: labels)
        errors = registry.makeCounter(
            descriptor: .init(
                metricName: "plugin_config_errors", unitName: "total", helpText: "Calls into plugin code that threw or timed out"),
            labels: labels)
        seconds = registry.makeCounter(
            descriptor: .init(
                metricName: "plugin_config_duration_seconds", unitName: "total",
                helpText: "Time spent in plugin code, per plugin config and method"), labels: labels)
        // A histogram per config would be 16 series per config and method: the distribution is kept
        // per method, the per-config mean is duration_seconds_total / invocations_total.
        duration = registry.makeDurationHistogram(
            descriptor: .init(
                metricName: "plugin_call_duration", unitName: "seconds", helpText: "Duration of calls into plugin code, per method"),
            labels: [("method", key.method)], buckets: ServerMetrics.durationBuckets)
    }
}

extension Duration {
    /// Whole and fractional seconds as a `Double`.
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
