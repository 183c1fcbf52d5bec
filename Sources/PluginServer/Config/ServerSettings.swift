import Foundation
import NIOSSL
import PluginRuntime

/// All settings, parsed once at start-up from the environment (configuration.md). Each part of the
/// server receives only its slice.
public struct ServerSettings: Sendable {
    public struct Postgres: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
        /// Heroku (`DYNO`): TLS without certificate verification, as the original did.
        public var requireTLS: Bool
        public var maximumConnections: Int
        /// With TLS: what of the server's certificate is checked (`sslmode=verify-ca`/`verify-full`).
        public var certificateCheck = CertificateCheck.none
        /// Authorities trusted beside the system's: `sslrootcert` of the URL, `NODE_EXTRA_CA_CERTS`.
        public var trustRootFiles: [String] = []
    }

    /// How much of a server's TLS certificate is verified.
    public enum CertificateCheck: Sendable, Equatable {
        case none
        /// Signed by a trusted authority.
        case authority
        /// Signed by a trusted authority and naming the host connected to.
        case authorityAndHostname
    }

    public struct Redis: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var username: String?
        public var password: String?
        public var database: Int
        public var minimumConnections: Int
        public var maximumConnections: Int
        /// TLS (`rediss://`), its certificate checked against the system's trust roots and
        /// `ServerSettings.extraTrustRootsFile`, unless `verifiesCertificate` is off.
        public var usesTLS = false
        /// False with `NODE_TLS_REJECT_UNAUTHORIZED=0`, Node's switch that the original's Redis client obeyed.
        public var verifiesCertificate = true
    }

    public struct Queues: Sendable, Equatable {
        /// Incoming events (Celery) and plugin captures.
        public var pluginsQueue: String
        /// Outgoing webhook tasks.
        public var defaultQueue: String
        public var deadLetterQueue: String
        public var reloadChannel: String
        public var leaseSeconds: Int
    }

    public struct Kafka: Sendable, Equatable {
        public var enabled: Bool
        public var hosts: [String]
        public var clientCertificateBase64: String?
        public var clientKeyBase64: String?
        public var trustedCertificateBase64: String?
        public var consumptionTopic: String
        /// Consumed messages that can never be ingested, with the reason in a header.
        public var deadLetterTopic: String
        /// All instances share it (the original's `clickhouse-ingestion`).
        public var consumerGroupId: String
        /// `latest` (default) or `earliest`: where a group without committed offsets starts.
        public var offsetReset: String
        public var producerMaxQueueSize: Int
        public var maxMessageBatchSize: Int
        public var flushFrequencyMilliseconds: Int
    }

    public struct ClickHouse: Sendable, Equatable {
        public var host: String
        public var database: String
        public var user: String
        public var password: String?
        public var certificateAuthorityPath: String?
        public var secure: Bool
    }

    public struct Plugins: Sendable, Equatable {
        public var baseDirectory: String
        /// Resolved: never 0 (0 in the environment means one per core).
        public var workerConcurrency: Int
        public var tasksPerWorker: Int
        public var taskTimeoutSeconds: Double
        public var executionTimeLimitSeconds: Double
        public var fetchTimeoutSeconds: Double
        public var loadRetries: Int
        public var disableOnFailure: Bool
        public var shutdownTimeoutSeconds: Double
        public var distinctIdCacheSize: Int
        /// `SITE_URL`: PostHog's address for `posthog.api` calls made without keys; nil = app.posthog.com.
        public var siteURL: String?
        /// `PLUGIN_METRICS_INTERVAL`: seconds between `$$plugin_metrics` captures (the original: 30 min).
        public var metricsIntervalSeconds: Double
    }

    public struct Jobs: Sendable, Equatable {
        public var queues: [String]
        public var databaseURL: String?
        public var schema: String
        public var preparedStatements: Bool
        public var crashIfNoPersistentQueue: Bool
        public var scheduleLockTTLSeconds: Int
        public var scheduleMinuteSeconds: Double
    }

    public struct Observability: Sendable, Equatable {
        public var disableWeb: Bool
        public var webHostname: String
        public var webPort: Int
        public var logLevel: LogLevel
        public var logFormat: String
        public var sentryDSN: String?
        public var statsdHost: String?
        public var statsdPort: Int
        public var statsdPrefix: String
        public var disableMMDB: Bool
        public var internalMMDBServerPort: Int
        /// Where the GeoIP database is downloaded from when missing or stale.
        public var mmdbEndpoint: String
        public var stalenessRestartSeconds: Int
        public var developmentMode: Bool
    }

    public var postgres: Postgres
    public var redis: Redis
    public var queues: Queues
    public var kafka: Kafka
    public var clickHouse: ClickHouse
    public var plugins: Plugins
    public var jobs: Jobs
    public var observability: Observability
    public var idle: Bool
    public var isTestEnvironment: Bool
    /// `NODE_EXTRA_CA_CERTS`: a PEM file of more certificate authorities trusted by every TLS
    /// connection (Redis, Postgres, ClickHouse, plugins' `fetch`), as Node trusted them for the original.
    public var extraTrustRootsFile: String?
    /// `NODE_EXTRA_CA_CERTS` when it named no readable PEM file of certificates: ignored with a
    /// warning at start-up, as Node does.
    public var ignoredExtraTrustRootsFile: String?

    /// Parses `environment`; throws one `ConfigError` listing every invalid variable.
    public init(environment: [String: String], processorCount: Int = ProcessInfo.processInfo.activeProcessorCount) throws(ConfigError) {
        var reader = EnvironmentReader(environment: environment)

        // Postgres: the POSTHOG_DB_* fields win over DATABASE_URL when POSTHOG_DB_NAME is set.
        let maximumPostgresConnections = reader.integer("POSTGRES_MAX_CONNECTIONS", minimum: 1)
        let dyno = reader.optionalString("DYNO") != nil
        if let name = reader.optionalString("POSTHOG_DB_NAME") {
            postgres = Postgres(
                host: reader.string("POSTHOG_POSTGRES_HOST"), port: reader.integer("POSTHOG_POSTGRES_PORT", minimum: 1, maximum: 65535),
                username: reader.string("POSTHOG_DB_USER"), password: reader.optionalString("POSTHOG_DB_PASSWORD"),
                database: name, requireTLS: dyno, maximumConnections: maximumPostgresConnections)
        } else {
            let url = reader.string("DATABASE_URL")
            if let parsed = PostgresURL(url) {
                postgres = Postgres(
                    host: parsed.host, port: parsed.port, username: parsed.username, password: parsed.password,
                    database: parsed.database, requireTLS: dyno || parsed.requireTLS, maximumConnections: maximumPostgresConnections,
                    certificateCheck: parsed.certificateCheck, trustRootFiles: parsed.rootCertificateFile.map { [$0] } ?? [])
            } else {
                reader.report("DATABASE_URL", expected: "postgres://[user[:password]@]host[:port]/database")
                postgres = Postgres(
                    host: "localhost", port: 5432, username: "postgres", password: nil, database: "posthog", requireTLS: false,
                    maximumConnections: maximumPostgresConnections)
            }
        }

        // Redis: POSTHOG_REDIS_HOST wins over REDIS_URL when non-empty.
        let redisMinimum = reader.integer("REDIS_POOL_MIN_SIZE", minimum: 0)
        let redisMaximum = reader.integer("REDIS_POOL_MAX_SIZE", minimum: 1)
        if let host = reader.optionalString("POSTHOG_REDIS_HOST") {
            redis = Redis(
                host: host, port: reader.integer("POSTHOG_REDIS_PORT", minimum: 1, maximum: 65535), username: nil,
                password: reader.optionalString("POSTHOG_REDIS_PASSWORD"), database: 0,
                minimumConnections: redisMinimum, maximumConnections: redisMaximum)
        } else if let parsed = RedisURL(reader.string("REDIS_URL")) {
            redis = Redis(
                host: parsed.host, port: parsed.port, username: parsed.username, password: parsed.password,
                database: parsed.database, minimumConnections: redisMinimum, maximumConnections: redisMaximum,
                usesTLS: parsed.usesTLS)
        } else {
            reader.report("REDIS_URL", expected: "redis[s]://[[user]:password@]host[:port][/database]")
            redis = Redis(
                host: "127.0.0.1", port: 6379, username: nil, password: nil, database: 0, minimumConnections: redisMinimum,
                maximumConnections: redisMaximum)
        }
        if redisMinimum > redisMaximum {
            reader.report("REDIS_POOL_MIN_SIZE", expected: "at most REDIS_POOL_MAX_SIZE (\(redisMaximum))")
        }
        for file in postgres.trustRootFiles where !FileManager.default.isReadableFile(atPath: file) {
            reader.report("DATABASE_URL", expected: "an sslrootcert that is a readable PEM file of certificate authorities")
        }
        // Node's variable applied to every TLS connection of the original, Postgres's included.
        if let file = reader.optionalString("NODE_EXTRA_CA_CERTS") {
            if (try? NIOSSLCertificate.fromPEMFile(file))?.isEmpty == false {
                extraTrustRootsFile = file
                postgres.trustRootFiles.append(file)
            } else {
                ignoredExtraTrustRootsFile = file
            }
        }
        redis.verifiesCertificate = reader.string("NODE_TLS_REJECT_UNAUTHORIZED") != "0"

        queues = Queues(
            pluginsQueue: reader.string("PLUGINS_CELERY_QUEUE"), defaultQueue: reader.string("CELERY_DEFAULT_QUEUE"),
            deadLetterQueue: reader.string("CELERY_DEAD_LETTER_QUEUE"), reloadChannel: reader.string("PLUGINS_RELOAD_PUBSUB_CHANNEL"),
            leaseSeconds: reader.integer("CONSUMER_LEASE_SECONDS", minimum: 2))
        for name in ["PLUGINS_CELERY_QUEUE", "CELERY_DEFAULT_QUEUE", "CELERY_DEAD_LETTER_QUEUE"] where reader.string(name).isEmpty {
            reader.report(name, expected: "a non-empty Redis list name")
        }

        kafka = Kafka(
            enabled: reader.bool("KAFKA_ENABLED"),
            hosts: (reader.optionalString("KAFKA_HOSTS") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty },
            clientCertificateBase64: reader.optionalString("KAFKA_CLIENT_CERT_B64"),
            clientKeyBase64: reader.optionalString("KAFKA_CLIENT_CERT_KEY_B64"),
            trustedCertificateBase64: reader.optionalString("KAFKA_TRUSTED_CERT_B64"),
            consumptionTopic: reader.string("KAFKA_CONSUMPTION_TOPIC"),
            deadLetterTopic: reader.string("KAFKA_DEAD_LETTER_TOPIC"),
            consumerGroupId: reader.string("KAFKA_CONSUMER_GROUP_ID"),
            offsetReset: reader.string("KAFKA_CONSUMER_OFFSET_RESET").lowercased(),
            producerMaxQueueSize: reader.integer("KAFKA_PRODUCER_MAX_QUEUE_SIZE"),
            maxMessageBatchSize: reader.integer("KAFKA_MAX_MESSAGE_BATCH_SIZE", minimum: 1),
            flushFrequencyMilliseconds: reader.integer("KAFKA_FLUSH_FREQUENCY_MS", minimum: 1))
        if !["latest", "earliest"].contains(kafka.offsetReset) {
            reader.report("KAFKA_CONSUMER_OFFSET_RESET", expected: "latest or earliest")
        }
        if kafka.enabled && (kafka.deadLetterTopic.isEmpty || kafka.deadLetterTopic == kafka.consumptionTopic) {
            reader.report("KAFKA_DEAD_LETTER_TOPIC", expected: "a topic name other than KAFKA_CONSUMPTION_TOPIC")
        }
        if kafka.enabled && kafka.hosts.isEmpty {
            reader.report("KAFKA_HOSTS", expected: "a broker list: You must set KAFKA_HOSTS to process events from Kafka!")
        }

        clickHouse = ClickHouse(
            host: reader.string("CLICKHOUSE_HOST"), database: reader.string("CLICKHOUSE_DATABASE"), user: reader.string("CLICKHOUSE_USER"),
            password: reader.optionalString("CLICKHOUSE_PASSWORD"), certificateAuthorityPath: reader.optionalString("CLICKHOUSE_CA"),
            secure: reader.bool("CLICKHOUSE_SECURE"))

        let taskTimeout = reader.number("TASK_TIMEOUT", integer: false, minimum: 0.001)
        let workers = reader.integer("WORKER_CONCURRENCY")
        plugins = Plugins(
            baseDirectory: reader.string("BASE_DIR"),
            workerConcurrency: workers == 0 ? max(1, processorCount) : workers,
            tasksPerWorker: max(1, reader.integer("TASKS_PER_WORKER")),
            taskTimeoutSeconds: taskTimeout,
            executionTimeLimitSeconds: reader.environment["PLUGIN_EXECUTION_TIME_LIMIT"] == nil
                ? PluginRuntimeSettings.defaultExecutionTimeLimit(taskTimeout: taskTimeout)
                : reader.number("PLUGIN_EXECUTION_TIME_LIMIT", integer: false, minimum: 0.001),
            fetchTimeoutSeconds: reader.environment["PLUGIN_FETCH_TIMEOUT"] == nil
                ? taskTimeout : reader.number("PLUGIN_FETCH_TIMEOUT", integer: false, minimum: 0.001),
            loadRetries: reader.integer("PLUGIN_LOAD_RETRIES", minimum: 1),
            disableOnFailure: reader.bool("PLUGIN_DISABLE_ON_FAILURE"),
            shutdownTimeoutSeconds: reader.number("SHUTDOWN_TIMEOUT", integer: false),
            distinctIdCacheSize: reader.integer("DISTINCT_ID_LRU_SIZE"),
            siteURL: reader.optionalString("SITE_URL").flatMap { $0.isEmpty ? nil : $0 },
            metricsIntervalSeconds: reader.number("PLUGIN_METRICS_INTERVAL", integer: false, minimum: 0.1))

        let jobQueues = reader.string("JOB_QUEUES").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        for kind in jobQueues where kind != "graphile" {
            reader.report("JOB_QUEUES", expected: "a list of job queue kinds (graphile); Unknown job queue \"\(kind)\"")
        }
        jobs = Jobs(
            queues: jobQueues, databaseURL: reader.optionalString("JOB_QUEUE_GRAPHILE_URL"),
            schema: reader.string("JOB_QUEUE_GRAPHILE_SCHEMA"), preparedStatements: reader.bool("JOB_QUEUE_GRAPHILE_PREPARED_STATEMENTS"),
            crashIfNoPersistentQueue: reader.bool("CRASH_IF_NO_PERSISTENT_JOB_QUEUE"),
            scheduleLockTTLSeconds: reader.integer("SCHEDULE_LOCK_TTL", minimum: 1),
            scheduleMinuteSeconds: reader.number("SCHEDULE_MINUTE_SECONDS", integer: false, minimum: 0.5))
        if let url = jobs.databaseURL, PostgresURL(url) == nil {
            reader.report("JOB_QUEUE_GRAPHILE_URL", expected: "postgres://[user[:password]@]host[:port]/database")
        }

        let levelText = reader.string("LOG_LEVEL")
        let logLevel = LogLevel(rawValue: levelText.lowercased())
        if logLevel == nil { reader.report("LOG_LEVEL", expected: "one of debug, info, log, warn, error, none") }
        let logFormat = reader.string("LOG_FORMAT")
        if logFormat != "text" && logFormat != "json" { reader.report("LOG_FORMAT", expected: "text or json") }
        let nodeEnv = reader.optionalString("NODE_ENV") ?? ""
        observability = Observability(
            disableWeb: reader.bool("DISABLE_WEB"), webHostname: reader.string("WEB_HOSTNAME"),
            webPort: reader.integer("WEB_PORT", maximum: 65535), logLevel: logLevel ?? .info, logFormat: logFormat,
            sentryDSN: reader.optionalString("SENTRY_DSN"), statsdHost: reader.optionalString("STATSD_HOST"),
            statsdPort: reader.integer("STATSD_PORT", minimum: 1, maximum: 65535), statsdPrefix: reader.string("STATSD_PREFIX"),
            disableMMDB: reader.bool("DISABLE_MMDB"), internalMMDBServerPort: reader.integer("INTERNAL_MMDB_SERVER_PORT", maximum: 65535),
            mmdbEndpoint: reader.string("MMDB_ENDPOINT"),
            stalenessRestartSeconds: reader.integer("STALENESS_RESTART_SECONDS"),
            developmentMode: nodeEnv.hasPrefix("dev") || (nodeEnv != "test" && reader.bool("DEBUG")))
        let mmdbURL = URL(string: observability.mmdbEndpoint)
        if !["http", "https"].contains(mmdbURL?.scheme?.lowercased() ?? "") || mmdbURL?.host == nil {
            reader.report("MMDB_ENDPOINT", expected: "an http:// or https:// URL")
        }
        if let dsn = observability.sentryDSN, SentryDSN(dsn) == nil {
            reader.report("SENTRY_DSN", expected: "a Sentry DSN, https://<public key>@<host>[/<path>]/<project id>")
        }
        idle = reader.bool("PLUGIN_SERVER_IDLE")
        isTestEnvironment = nodeEnv == "test"

        if !reader.problems.isEmpty { throw ConfigError(problems: reader.problems) }
    }
}

/// The original's LOG_LEVEL values; `log` sits between info and warn (configuration.md §3.3).
public enum LogLevel: String, Sendable, Comparable, CaseIterable {
    case debug, info, log, warn, error, none

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rank < rhs.rank }
}
