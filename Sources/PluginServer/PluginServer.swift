import Foundation
import Kafka
import Logging
import Metrics
import NIOPosix
import NIOSSL
import PluginRuntime
import PostHogEvents
import Prometheus
import RedisClient
import ServiceLifecycle
import Synchronization

/// Builds the server from its settings and runs it until a shutdown signal: Postgres first, then the
/// services that use it, the queue consumer last (so it stops taking messages first).
public struct PluginServer: Sendable {
    public let settings: ServerSettings
    public let instanceId: String
    let logger: Logger

    public init(settings: ServerSettings, logger: Logger) {
        self.settings = settings
        self.instanceId = UUIDT().uuidString
        self.logger = logger
    }

    public static func redisConfiguration(_ server: ServerSettings) -> RedisConfiguration {
        let settings = server.redis
        var configuration = RedisConfiguration(
            host: settings.host, port: settings.port, username: settings.username, password: settings.password,
            database: settings.database, minimumConnections: settings.minimumConnections,
            maximumConnections: settings.maximumConnections)
        if settings.usesTLS {
            configuration.tls = .client(
                trusting: server.extraTrustRootsFile.map { [$0] } ?? [],
                verification: settings.verifiesCertificate ? .fullVerification : .none)
        }
        return configuration
    }

    /// What stopped `run()` at start-up, for its last log line.
    public func describeStartupFailure(_ error: any Error) -> String {
        PostgresFailure.startupDescription(error, database: settings.postgres.database)
    }

    public func run() async throws {
        if settings.idle {
            try await idle()
            return
        }
        let observability = Observability(settings: settings.observability, instanceId: instanceId, logger: logger)
        let metrics = observability.metrics
        let postgres = PostgresStore(settings: settings.postgres, logger: logger, metrics: metrics)
        if let file = settings.ignoredExtraTrustRootsFile {
            logger.warning("Ignoring extra certs from NODE_EXTRA_CA_CERTS, load failed", metadata: ["file": "\(file)"])
        }
        if settings.redis.usesTLS && !settings.redis.verifiesCertificate {
            logger.warning("NODE_TLS_REJECT_UNAUTHORIZED is 0: Redis over TLS without certificate verification")
        }
        // One extra connection for the blocking wait on the queue.
        var redisConfiguration = Self.redisConfiguration(settings)
        redisConfiguration.maximumConnections += 1
        let redis = RedisClient(configuration: redisConfiguration, logger: logger)
        let status = ServerStatus()

        let teams = TeamManager(store: postgres, logger: logger)
        let webhooks = CeleryTaskPublisher(redis: redis, defaultQueue: settings.queues.defaultQueue, logger: logger, metrics: metrics)
        // ClickHouse mode: one producer for every topic, flushed before offsets are committed.
        let kafka =
            try settings.kafka.enabled ? KafkaOutputs(settings: settings, instanceId: instanceId, metrics: metrics, logger: logger) : nil
        let ingester = EventIngester(
            store: postgres, teams: teams, webhooks: webhooks, distinctIdCacheSize: settings.plugins.distinctIdCacheSize,
            logger: logger, sink: kafka.map { KafkaEventSink(producer: $0.producer, teams: teams, webhooks: webhooks, metrics: metrics) },
            personMirror: kafka.map { KafkaPersonMirror(producer: $0.producer, clickHouse: $0.clickHouse, logger: logger) })
        let jobQueue = JobQueue(store: postgres, schema: settings.jobs.schema, enabled: settings.jobs.queues.contains("graphile"))
        let geoip = GeoIPLocator(enabled: !settings.observability.disableMMDB)
        let host = ServerPluginHost(
            store: postgres, redis: redis, publisher: webhooks, pluginsQueue: settings.queues.pluginsQueue, jobs: jobQueue,
            fetchTimeout: settings.plugins.fetchTimeoutSeconds, extraTrustRootsFile: settings.extraTrustRootsFile,
            echoConsole: settings.observability.developmentMode, metrics: metrics,
            errors: observability.errors, logger: logger, geoip: geoip,
            kafka: kafka.map { KafkaPluginOutput(producer: $0.producer, consumptionTopic: settings.kafka.consumptionTopic) },
            siteURL: settings.plugins.siteURL)
        let runtime = PluginRuntime(
            workerCount: settings.plugins.workerConcurrency, tasksPerWorker: settings.plugins.tasksPerWorker, host: host,
            settings: PluginRuntimeSettings(
                taskTimeout: settings.plugins.taskTimeoutSeconds, executionTimeLimit: settings.plugins.executionTimeLimitSeconds,
                instanceId: instanceId, loadAttempts: settings.plugins.loadRetries,
                disableOnFailure: settings.plugins.disableOnFailure))
        let loader = PluginConfigLoader(store: postgres, baseDirectory: settings.plugins.baseDirectory, metrics: metrics)
        let pipeline = EventPipeline(ingester: ingester, plugins: runtime, metrics: metrics)
        let maxInFlight = settings.plugins.workerConcurrency * settings.plugins.tasksPerWorker
        // A stop waits for the events in flight until any plugin call has ended on its own; only work
        // stuck on an unreachable Postgres or broker is left, for redelivery.
        let shutdownGrace = Duration.milliseconds(Int((settings.plugins.taskTimeoutSeconds + 5) * 1000))
        let consumer: any Service
        let inFlight: @Sendable () -> Int
        let capacity: Int
        if let kafka {
            let kafkaConsumer = KafkaQueueConsumer(
                consumer: kafka.consumer, producer: kafka.producer, pipeline: pipeline, topic: settings.kafka.consumptionTopic,
                deadLetterTopic: settings.kafka.deadLetterTopic, batchSize: maxInFlight, shutdownGrace: shutdownGrace,
                instanceId: instanceId, status: status,
                metrics: metrics, errors: observability.errors, logger: logger)
            consumer = kafkaConsumer
            inFlight = { kafkaConsumer.inFlight }
            capacity = maxInFlight
        } else {
            // The plugins' slots, as the original's worker tasks, plus one full statement of the event
            // writer: ingestion waits on Postgres, not on the workers, and a statement holds only the
            // rows in flight. With the default 10 tasks per worker, 20 events in flight drained about
            // 7k events/s on 2 cores, where Postgres could take three times as many. The extra room is
            // for small messages: past the slots, claims stop while those in flight hold 16 MB.
            let celeryWindow = maxInFlight + EventRowWriter.statementRows
            let celeryConsumer = CeleryQueueConsumer(
                redis: redis,
                keys: CeleryQueueKeys(
                    queue: settings.queues.pluginsQueue, instanceId: instanceId, deadLetter: settings.queues.deadLetterQueue),
                pipeline: pipeline, maxInFlight: celeryWindow, assuredInFlight: maxInFlight,
                inFlightByteBudget: 16 << 20, leaseSeconds: settings.queues.leaseSeconds,
                shutdownGrace: shutdownGrace, status: status, metrics: metrics,
                errors: observability.errors, jobs: jobQueue, logger: logger)
            consumer = celeryConsumer
            inFlight = { celeryConsumer.limiter.inFlight }
            capacity = celeryWindow
        }

        let intake = StartupGate(
            postgres: postgres, jobQueue: jobQueue, loader: loader, runtime: runtime, status: status, logger: logger, then: consumer,
            geoip: geoip, clickHouse: kafka?.clickHouse)
        let lockTTL = Duration.seconds(settings.jobs.scheduleLockTTLSeconds)
        let readiness = Readiness(status: status, postgres: postgres, redis: redis)
        let group = ServiceGroup(
            configuration: .init(
                services: observability.services + [.init(service: postgres.client)]
                    + (kafka.map { [ServiceGroupConfiguration.ServiceConfiguration(service: $0.producer)] } ?? [])
                    + observability.webServer(readiness: readiness) + [
                        .init(service: HeartbeatService(redis: redis, logger: logger)),
                        .init(
                            service: GeoIPService(
                                locator: geoip, store: postgres, redis: redis, endpoint: settings.observability.mmdbEndpoint,
                                internalPort: settings.observability.internalMMDBServerPort, metrics: metrics, logger: logger)),
                        .init(
                            service: ExportFlushService(
                                runtime: runtime, metricsInterval: .milliseconds(Int(settings.plugins.metricsIntervalSeconds * 1000)))),
                        .init(
                            service: PluginReloadService(
                                redis: redis, channel: settings.queues.reloadChannel, loader: loader, runtime: runtime, logger: logger)),
                        .init(
                            service: PluginScheduler(
                                runtime: runtime, lock: RedisLock(redis: redis, resource: RedisLock.scheduleResource, ttl: lockTTL),
                                minute: .milliseconds(Int(settings.jobs.scheduleMinuteSeconds * 1000)), logger: logger)),
                        .init(
                            service: JobConsumer(
                                queue: jobQueue, runtime: runtime,
                                lock: RedisLock(redis: redis, resource: RedisLock.jobConsumerResource, ttl: lockTTL),
                                instanceId: instanceId,
                                logger: logger, errors: observability.errors, status: status)),
                        .init(
                            service: WorkerPoolGauges(
                                metrics: metrics, threads: settings.plugins.workerConcurrency, capacity: capacity, inFlight: inFlight)),
                        .init(service: intake),
                    ]
                    + (StalenessWatchdog(
                        seconds: settings.observability.stalenessRestartSeconds, status: status, metrics: metrics,
                        errors: observability.errors, instanceId: instanceId, logger: logger
                    ).map { [.init(service: $0, failureTerminationBehavior: .gracefullyShutdownGroup)] } ?? []),
                gracefulShutdownSignals: [.sigterm, .sigint, .sighup],
                logger: logger))
        ForcedExit.installSecondSignalHandler(logger: logger)
        logger.info(
            "Plugin server starting",
            metadata: [
                "version": "\(PluginServerVersion.banner)", "instance_id": "\(instanceId)",
                "postgres": "\(settings.postgres.host):\(settings.postgres.port)/\(settings.postgres.database)",
                "redis": "\(settings.redis.host):\(settings.redis.port)", "queue": "\(settings.queues.pluginsQueue)",
                "workers": "\(settings.plugins.workerConcurrency)", "tasks_per_worker": "\(settings.plugins.tasksPerWorker)",
            ].merging(observability.startupMetadata) { $1 })
        var failure: (any Error)?
        do {
            try await group.run()
        } catch {
            failure = error
        }
        // AsyncHTTPClient traps when a client is released without shutdown.
        await host.shutdown()
        await kafka?.clickHouse?.shutdown()
        await redis.close()
        if let failure { throw failure }
        logger.info("Plugin server stopped", metadata: ["instance_id": "\(instanceId)", "ingested": "\(status.ingestedCount)"])
    }

    /// PLUGIN_SERVER_IDLE: process nothing, say so every 30 s (configuration.md §4).
    private func idle() async throws {
        logger.info("Plugin server disengaged with PLUGIN_SERVER_IDLE, processing nothing")
        let signals = ServiceGroup(
            configuration: .init(
                services: [.init(service: IdleService(logger: logger))], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await signals.run()
    }
}

/// ClickHouse mode's clients: the consumer of KAFKA_CONSUMPTION_TOPIC, the one producer of every
/// topic, and ClickHouse's HTTP interface for person deletions.
struct KafkaOutputs: Sendable {
    let consumer: KafkaConsumer
    let producer: KafkaBatchProducer
    let clickHouse: ClickHouseClient?

    init(settings: ServerSettings, instanceId: String, metrics: ServerMetrics, logger: Logger) throws {
        let configuration = try Self.configuration(settings.kafka, instanceId: instanceId)
        consumer = try KafkaConsumer(
            configuration: configuration, groupId: settings.kafka.consumerGroupId,
            // A crashed instance's partitions move on after 10 s rather than librdkafka's 45 s.
            properties: ["auto.offset.reset": settings.kafka.offsetReset, "session.timeout.ms": "10000"])
        producer = KafkaBatchProducer(
            producer: try KafkaProducer(configuration: configuration), settings: settings.kafka, metrics: metrics, logger: logger)
        clickHouse = try ClickHouseClient(
            settings: settings.clickHouse, baseDirectory: settings.plugins.baseDirectory,
            extraTrustRootsFile: settings.extraTrustRootsFile, metrics: metrics)
    }

    /// wire-formats.md §3.1: TLS only when all three base64 PEM values are set.
    static func configuration(_ settings: ServerSettings.Kafka, instanceId: String) throws -> KafkaConfiguration {
        var tls: KafkaConfiguration.TLS?
        if let certificate = settings.clientCertificateBase64, let key = settings.clientKeyBase64,
            let trusted = settings.trustedCertificateBase64
        {
            func decode(_ text: String, _ name: String) throws -> String {
                guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else {
                    throw ConfigError(problems: [.init(variable: name, value: "(base64)", expected: "base64 of a PEM file")])
                }
                return String(decoding: data, as: UTF8.self)
            }
            tls = KafkaConfiguration.TLS(
                clientCertificatePEM: try decode(certificate, "KAFKA_CLIENT_CERT_B64"),
                clientKeyPEM: try decode(key, "KAFKA_CLIENT_CERT_KEY_B64"),
                trustedCertificatePEM: try decode(trusted, "KAFKA_TRUSTED_CERT_B64"))
        }
        return KafkaConfiguration(
            brokers: settings.hosts, clientId: "plugin-server-v\(PluginServerVersion.compatible)-\(instanceId)", tls: tls)
    }
}

/// Waits for Postgres, prepares the server's own tables and loads plugins before the consumer
/// starts; tears plugins down once it has stopped.
struct StartupGate: Service {
    let postgres: PostgresStore
    let jobQueue: JobQueue
    let loader: PluginConfigLoader
    let runtime: PluginRuntime
    let status: ServerStatus
    let logger: Logger
    let then: any Service
    /// Plugins load once the GeoIP database is prepared, as the original's workers started after it.
    let geoip: GeoIPLocator
    /// ClickHouse mode: checked once (a warning when it does not answer), inside the service group so
    /// that a signal during the check is not lost.
    let clickHouse: ClickHouseClient?

    func run() async throws {
        // A stop during start-up (Postgres still unreachable, plugins loading) ends it at once: nothing
        // was taken from the queue yet. The waits below would otherwise hold the stop for up to an hour.
        do {
            try await cancelWhenGracefulShutdown { try await prepare() }
        } catch  where Task.isShuttingDownGracefully {
            logger.info("Stopped during start-up, before consuming", metadata: ["step_error": "\(error)"])
            await runtime.teardownAll()
            return
        }
        try await then.run()
        await runtime.flushPluginMetrics()
        await runtime.teardownAll()
    }

    private func prepare() async throws {
        await clickHouse?.checkReachable(logger: logger)
        try await postgres.waitUntilReachable(timeout: .seconds(3600))
        try await SchemaMigrator(store: postgres).prepareServerTables()
        try await jobQueue.prepare()
        await geoip.waitUntilPrepared()
        status.pluginsLoaded(false)
        let descriptors = try await loader.loadDescriptors()
        await runtime.load(descriptors)
        try Task.checkCancellation()
        status.pluginsLoaded(true)
        logger.info("Plugins loaded", metadata: ["plugin_configs": "\(descriptors.count)"])
    }
}

struct IdleService: Service {
    let logger: Logger
    func run() async throws {
        while !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(30)) }
            if !Task.isShuttingDownGracefully { logger.info("Plugin server still disengaged with PLUGIN_SERVER_IDLE...") }
        }
    }
}

/// The second SIGINT/SIGTERM ends the process at once, with a non-zero code (configuration.md §4).
enum ForcedExit {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func installSecondSignalHandler(logger: Logger) {
        let counter = SignalCounter()
        for signalNumber in [SIGINT, SIGTERM] {
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                if counter.increment() >= 2 {
                    logger.warning("Second signal: exiting without finishing")
                    exit(1)
                }
                logger.info("Shutting down: intake stops, in-flight events finish (a second signal exits at once)")
            }
            source.resume()
            sources.append(source)
        }
    }
}

private final class SignalCounter: Sendable {
    private let count = Mutex(0)
    func increment() -> Int {
        count.withLock {
            $0 += 1; return $0
        }
    }
}
