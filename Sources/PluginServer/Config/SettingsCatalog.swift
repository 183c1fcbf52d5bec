/// Every environment variable the server reads: name, default, meaning. The one list behind parsing,
/// `--help` and the README, so they cannot drift apart (configuration.md §3, §7).
package struct SettingDescription: Sendable {
    package enum Kind: Sendable { case string, number, boolean }
    package var name: String
    package var kind: Kind
    /// The default as text, exactly as a user would write it; `nil` when the setting is unset by default.
    package var defaultValue: String?
    package var meaning: String
}

package enum SettingsCatalog {
    package static let all: [SettingDescription] = [
        // Databases and queues
        .init(
            name: "DATABASE_URL", kind: .string, defaultValue: "postgres://localhost:5432/posthog",
            meaning: "Postgres URL of PostHog's database; ?sslmode=require, verify-ca or verify-full (&sslrootcert=FILE) for TLS"),
        .init(
            name: "POSTHOG_DB_NAME", kind: .string, defaultValue: nil,
            meaning: "if set, connect with the POSTHOG_DB_* / POSTHOG_POSTGRES_* fields instead of DATABASE_URL"),
        .init(name: "POSTHOG_DB_USER", kind: .string, defaultValue: "postgres", meaning: "Postgres user (only with POSTHOG_DB_NAME)"),
        .init(name: "POSTHOG_DB_PASSWORD", kind: .string, defaultValue: "", meaning: "Postgres password (only with POSTHOG_DB_NAME)"),
        .init(
            name: "POSTHOG_POSTGRES_HOST", kind: .string, defaultValue: "localhost", meaning: "Postgres host (only with POSTHOG_DB_NAME)"),
        .init(name: "POSTHOG_POSTGRES_PORT", kind: .number, defaultValue: "5432", meaning: "Postgres port (only with POSTHOG_DB_NAME)"),
        .init(name: "POSTGRES_MAX_CONNECTIONS", kind: .number, defaultValue: "10", meaning: "size of the Postgres connection pool"),
        .init(
            name: "REDIS_URL", kind: .string, defaultValue: "redis://127.0.0.1",
            meaning: "Redis URL (must be the one PostHog's Django app uses); rediss:// for TLS"),
        .init(
            name: "POSTHOG_REDIS_HOST", kind: .string, defaultValue: "",
            meaning: "if non-empty, connect to this Redis host instead of REDIS_URL"),
        .init(name: "POSTHOG_REDIS_PORT", kind: .number, defaultValue: "6379", meaning: "Redis port (only with POSTHOG_REDIS_HOST)"),
        .init(name: "POSTHOG_REDIS_PASSWORD", kind: .string, defaultValue: "", meaning: "Redis password (only with POSTHOG_REDIS_HOST)"),
        .init(name: "REDIS_POOL_MIN_SIZE", kind: .number, defaultValue: "1", meaning: "minimum number of pooled Redis connections"),
        .init(name: "REDIS_POOL_MAX_SIZE", kind: .number, defaultValue: "3", meaning: "maximum number of pooled Redis connections"),
        .init(
            name: "KAFKA_ENABLED", kind: .boolean, defaultValue: "false",
            meaning: "consume from Kafka and produce for ClickHouse instead of Celery in, Postgres out"),
        .init(
            name: "KAFKA_HOSTS", kind: .string, defaultValue: nil, meaning: "comma-separated Kafka brokers (required with KAFKA_ENABLED)"),
        .init(name: "KAFKA_CLIENT_CERT_B64", kind: .string, defaultValue: nil, meaning: "base64 PEM Kafka client certificate"),
        .init(name: "KAFKA_CLIENT_CERT_KEY_B64", kind: .string, defaultValue: nil, meaning: "base64 PEM Kafka client key"),
        .init(
            name: "KAFKA_TRUSTED_CERT_B64", kind: .string, defaultValue: nil,
            meaning: "base64 PEM Kafka CA (TLS only when all three are set)"),
        .init(
            name: "KAFKA_CONSUMPTION_TOPIC", kind: .string, defaultValue: "events_plugin_ingestion",
            meaning: "Kafka topic consumed with KAFKA_ENABLED"),
        .init(
            name: "KAFKA_DEAD_LETTER_TOPIC", kind: .string, defaultValue: "events_plugin_ingestion_dead_letter",
            meaning: "Kafka topic where consumed messages that can never be ingested are set aside, reason in the dead_letter_reason header"
        ),
        .init(
            name: "KAFKA_CONSUMER_GROUP_ID", kind: .string, defaultValue: "clickhouse-ingestion",
            meaning: "Kafka consumer group of every instance consuming KAFKA_CONSUMPTION_TOPIC"),
        .init(
            name: "KAFKA_CONSUMER_OFFSET_RESET", kind: .string, defaultValue: "latest",
            meaning: "where a consumer group without committed offsets starts: latest (the original's) or earliest"),
        .init(
            name: "KAFKA_PRODUCER_MAX_QUEUE_SIZE", kind: .number, defaultValue: "1000",
            meaning: "Kafka producer flushes when this many messages are queued (0 in NODE_ENV=test)"),
        .init(
            name: "KAFKA_MAX_MESSAGE_BATCH_SIZE", kind: .number, defaultValue: "900000",
            meaning: "Kafka producer flushes before the queued bytes would exceed this"),
        .init(
            name: "KAFKA_FLUSH_FREQUENCY_MS", kind: .number, defaultValue: "500", meaning: "Kafka producer flushes at least this often (ms)"
        ),
        .init(name: "CLICKHOUSE_HOST", kind: .string, defaultValue: "localhost", meaning: "ClickHouse HTTP host (KAFKA_ENABLED only)"),
        .init(
            name: "CLICKHOUSE_DATABASE", kind: .string, defaultValue: "default",
            meaning: "ClickHouse database (posthog_test in NODE_ENV=test)"),
        .init(name: "CLICKHOUSE_USER", kind: .string, defaultValue: "default", meaning: "ClickHouse user"),
        .init(name: "CLICKHOUSE_PASSWORD", kind: .string, defaultValue: nil, meaning: "ClickHouse password"),
        .init(name: "CLICKHOUSE_CA", kind: .string, defaultValue: nil, meaning: "ClickHouse CA file, relative to BASE_DIR"),
        .init(
            name: "CLICKHOUSE_SECURE", kind: .boolean, defaultValue: "false",
            meaning: "ClickHouse over https on port 8443 instead of http on 8123"),
        .init(name: "CELERY_DEFAULT_QUEUE", kind: .string, defaultValue: "celery", meaning: "Redis list for outgoing webhook Celery tasks"),
        .init(
            name: "PLUGINS_CELERY_QUEUE", kind: .string, defaultValue: "posthog-plugins",
            meaning: "Redis list of incoming events (Celery) and of plugin captures"),
        .init(
            name: "PLUGINS_RELOAD_PUBSUB_CHANNEL", kind: .string, defaultValue: "reload-plugins",
            meaning: "Redis pub/sub channel; any message reloads plugins"),
        .init(
            name: "CELERY_DEAD_LETTER_QUEUE", kind: .string, defaultValue: "@posthog-plugin-server/dead-letter",
            meaning: "Redis list where messages that can never be ingested are set aside, with the reason"),
        .init(
            name: "CONSUMER_LEASE_SECONDS", kind: .number, defaultValue: "10",
            meaning:
                "how long a crashed instance's in-flight messages stay claimed before another instance (or its restart) takes them back"),
        // Plugins, workers, jobs
        .init(name: "BASE_DIR", kind: .string, defaultValue: ".", meaning: "base folder for file: plugin urls and CLICKHOUSE_CA"),
        .init(name: "WORKER_CONCURRENCY", kind: .number, defaultValue: "0", meaning: "plugin worker threads; 0 = one per CPU core"),
        .init(name: "TASKS_PER_WORKER", kind: .number, defaultValue: "10", meaning: "events in flight per worker thread"),
        .init(name: "TASK_TIMEOUT", kind: .number, defaultValue: "30", meaning: "seconds a plugin call or an awaited promise may take"),
        .init(
            name: "SCHEDULE_LOCK_TTL", kind: .number, defaultValue: "60",
            meaning: "seconds; TTL of the scheduler and job-consumer Redis locks"),
        .init(
            name: "JOB_QUEUES", kind: .string, defaultValue: "graphile",
            meaning: "comma-separated job queue kinds, tried in order (graphile = the Postgres job table)"),
        .init(
            name: "JOB_QUEUE_GRAPHILE_URL", kind: .string, defaultValue: "",
            meaning: "separate Postgres URL for the job queue; empty = the main database"),
        .init(
            name: "JOB_QUEUE_GRAPHILE_SCHEMA", kind: .string, defaultValue: "graphile_worker",
            meaning: "Postgres schema of the job queue table"),
        .init(
            name: "JOB_QUEUE_GRAPHILE_PREPARED_STATEMENTS", kind: .boolean, defaultValue: "false",
            meaning: "allow prepared statements for the job queue"),
        .init(
            name: "CRASH_IF_NO_PERSISTENT_JOB_QUEUE", kind: .boolean, defaultValue: "false",
            meaning: "exit when the job queue cannot connect"),
        .init(name: "DISTINCT_ID_LRU_SIZE", kind: .number, defaultValue: "10000", meaning: "size of the seen-distinct-id cache"),
        .init(
            name: "PLUGIN_EXECUTION_TIME_LIMIT", kind: .number, defaultValue: nil,
            meaning:
                "seconds of synchronous plugin code before it is stopped (default TASK_TIMEOUT + 1, so the loop guard, naming the loop, acts first)"
        ),
        .init(
            name: "PLUGIN_FETCH_TIMEOUT", kind: .number, defaultValue: nil,
            meaning: "seconds per plugin fetch request (default TASK_TIMEOUT)"),
        .init(
            name: "SITE_URL", kind: .string, defaultValue: nil,
            meaning: "PostHog's address for posthog.api calls made without keys (default https://app.posthog.com)"),
        .init(
            name: "PLUGIN_METRICS_INTERVAL", kind: .number, defaultValue: "1800",
            meaning: "seconds between $$plugin_metrics captures of meta.metrics values"),
        .init(
            name: "PLUGIN_LOAD_RETRIES", kind: .number, defaultValue: "10", meaning: "plugin load attempts with back-off before giving up"),
        .init(
            name: "PLUGIN_DISABLE_ON_FAILURE", kind: .boolean, defaultValue: "false",
            meaning: "disable a plugin config after its last failed load attempt"),
        .init(
            name: "SCHEDULE_MINUTE_SECONDS", kind: .number, defaultValue: "60",
            meaning: "for tests only: the length of a scheduler minute (runEveryMinute period)"),
        .init(name: "SHUTDOWN_TIMEOUT", kind: .number, defaultValue: "5", meaning: "seconds allowed for plugin teardown at shutdown"),
        // Services, observability, lifecycle
        .init(name: "DISABLE_WEB", kind: .boolean, defaultValue: "false", meaning: "do not serve /_health, /_ready and /metrics"),
        .init(name: "WEB_PORT", kind: .number, defaultValue: "3008", meaning: "port of the operations web server"),
        .init(name: "WEB_HOSTNAME", kind: .string, defaultValue: "0.0.0.0", meaning: "bind address of the operations web server"),
        .init(name: "DISABLE_MMDB", kind: .boolean, defaultValue: "false", meaning: "no GeoIP database (true in NODE_ENV=test)"),
        .init(
            name: "INTERNAL_MMDB_SERVER_PORT", kind: .number, defaultValue: "0",
            meaning: "loopback port answering GeoIP lookups, one address per line (0 = none; plugins look up in-process)"),
        .init(
            name: "MMDB_ENDPOINT", kind: .string, defaultValue: "https://mmdb.posthog.net/",
            meaning: "URL the GeoIP database (.mmdb.br) is downloaded from when missing or older than 45 days"),
        .init(name: "LOG_LEVEL", kind: .string, defaultValue: "info", meaning: "minimum log level: debug, info, log, warn, error, none"),
        .init(name: "LOG_FORMAT", kind: .string, defaultValue: "text", meaning: "text or json log lines"),
        .init(name: "SENTRY_DSN", kind: .string, defaultValue: nil, meaning: "Sentry DSN; unset = no error reporting"),
        .init(name: "STATSD_HOST", kind: .string, defaultValue: nil, meaning: "StatsD host; unset = no StatsD metrics"),
        .init(name: "STATSD_PORT", kind: .number, defaultValue: "8125", meaning: "StatsD UDP port"),
        .init(name: "STATSD_PREFIX", kind: .string, defaultValue: "plugin-server.", meaning: "prefix of every StatsD metric name"),
        .init(name: "PLUGIN_SERVER_IDLE", kind: .boolean, defaultValue: "false", meaning: "start disengaged: process nothing"),
        .init(
            name: "STALENESS_RESTART_SECONDS", kind: .number, defaultValue: "0",
            meaning: "exit (for a restart) when nothing was ingested for this long; 0 = off"),
        .init(name: "NODE_ENV", kind: .string, defaultValue: nil, meaning: "test = test defaults; dev* = echo plugin console lines"),
        .init(name: "DEBUG", kind: .boolean, defaultValue: "false", meaning: "development mode when NODE_ENV is not test or dev"),
        .init(
            name: "DYNO", kind: .string, defaultValue: nil, meaning: "when set (Heroku), Postgres over TLS without certificate verification"
        ),
        .init(
            name: "NODE_EXTRA_CA_CERTS", kind: .string, defaultValue: nil,
            meaning: "PEM file of more certificate authorities trusted by Redis, Postgres, ClickHouse and plugin fetch over TLS, as Node's"),
        .init(
            name: "NODE_TLS_REJECT_UNAUTHORIZED", kind: .string, defaultValue: nil,
            meaning: "0: Redis over TLS without certificate verification, as Node's (not advised)"),
    ]

    package static func description(of name: String) -> SettingDescription? { all.first { $0.name == name } }

    /// The `--help` text: one line per variable, as the original printed them.
    package static var helpText: String {
        var lines = ["Supported configuration environment variables:"]
        for setting in all {
            let fallback = setting.defaultValue.map { $0.isEmpty ? "\"\"" : $0 } ?? "unset"
            lines.append("- \(setting.name) - \(setting.meaning) (default: \(fallback))")
        }
        return lines.joined(separator: "\n")
    }
}
