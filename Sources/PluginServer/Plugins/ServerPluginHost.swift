import Foundation
import Kafka
import Logging
import PluginRuntime
import PostHogEvents
import PostgresNIO
import RedisClient
import Synchronization

/// Where a ClickHouse-mode server's plugins write instead of Postgres and the Celery queue.
struct KafkaPluginOutput: Sendable {
    let producer: KafkaBatchProducer
    let consumptionTopic: String
}

/// What plugins reach through `meta` and the globals, backed by the real services: the cache in
/// Redis, storage, log entries and config errors in Postgres, captures back onto the Celery queue,
/// fetch over HTTP, jobs into the job table.
final class ServerPluginHost: PluginHost {
    let store: PostgresStore
    let redis: RedisClient
    let publisher: CeleryTaskPublisher
    let pluginsQueue: String
    let jobs: JobQueue
    let fetchTimeout: Double
    let echoConsole: Bool
    let logger: Logger
    let fetcher: PluginFetcher
    let geoip: GeoIPLocator
    let metrics: ServerMetrics
    let errors: SentryReporter
    /// ClickHouse mode: log entries go to `plugin_log_entries`, captures to KAFKA_CONSUMPTION_TOPIC.
    let kafka: KafkaPluginOutput?
    let exportBuffers: ExportBufferStore
    let postgresClients: PluginPostgresConnections
    /// `SITE_URL`: where `posthog.api` calls without keys go.
    let siteURL: String?
    let pluginsAPIKey: PluginsAPIKey
    private let knownColumns = Mutex<[String: Bool]>([:])
    /// Capabilities last written per plugin, and whether the column exists: every config of a plugin
    /// reports the same capabilities, and 10,000 configs loading must not write one row 10,000 times.
    private let recordedCapabilities = Mutex<(columnExists: Bool?, byPlugin: [Int: String])>((nil, [:]))

    init(
        store: PostgresStore, redis: RedisClient, publisher: CeleryTaskPublisher, pluginsQueue: String, jobs: JobQueue,
        fetchTimeout: Double, extraTrustRootsFile: String? = nil, echoConsole: Bool, metrics: ServerMetrics, errors: SentryReporter,
        logger: Logger,
        geoip: GeoIPLocator = GeoIPLocator(enabled: false), kafka: KafkaPluginOutput? = nil, siteURL: String? = nil
    ) {
        self.kafka = kafka
        self.exportBuffers = ExportBufferStore(redis: redis)
        self.postgresClients = PluginPostgresConnections(logger: logger)
        self.siteURL = siteURL
        self.pluginsAPIKey = PluginsAPIKey(store: store)
        self.store = store
        self.redis = redis
        self.publisher = publisher
        self.pluginsQueue = pluginsQueue
        self.jobs = jobs
        self.fetchTimeout = fetchTimeout
        self.echoConsole = echoConsole
        self.metrics = metrics
        self.errors = errors
        self.logger = logger
        self.fetcher = PluginFetcher(timeoutSeconds: fetchTimeout, extraTrustRootsFile: extraTrustRootsFile)
        self.geoip = geoip
    }

    /// Closes the HTTP clients; call once plugins are torn down.
    func shutdown() async {
        await fetcher.shutdown()
        await postgresClients.closeAll()
    }

    // MARK: Logs and errors

    func log(_ entry: PluginLogEntry) async {
        if echoConsole || entry.source != .console {
            logger.log(
                level: Self.logLevel(entry.type), "\(entry.message)",
                metadata: [
                    "plugin_config_id": "\(entry.config.id)", "team_id": "\(entry.config.teamId ?? 0)",
                    "source": "\(entry.source.rawValue)",
                ])
        }
        guard let teamId = entry.config.teamId else { return }
        if let kafka {
            kafka.producer.enqueue(
                KafkaOutgoingMessage(
                    topic: ClickHouseMessages.Topic.pluginLogEntries, key: nil,
                    value: ClickHouseMessages.pluginLogEntryValue(
                        id: UUIDT().uuidString, teamId: teamId, pluginId: entry.config.pluginId, pluginConfigId: entry.config.id,
                        timestamp: EventTimestamp(
                            millisecondsSince1970: Int64((entry.timestamp.timeIntervalSince1970 * 1000).rounded(.down))
                        )
                        .isoString,
                        source: entry.source.rawValue, type: entry.type.rawValue, message: entry.message, instanceId: entry.instanceId)))
            metrics.pluginLogEntryCreated(source: entry.source.rawValue, teamId: teamId, pluginId: entry.config.pluginId)
            return
        }
        do {
            _ = try await store.write(
                """
                INSERT INTO posthog_pluginlogentry (id, team_id, plugin_id, plugin_config_id, timestamp, source, type, message, instance_id)
                VALUES (\(UUIDT().uuid), \(teamId), \(entry.config.pluginId), \(entry.config.id),
                        \(entry.timestamp), \(entry.source.rawValue), \(entry.type.rawValue), \(entry.message),
                        \(UUID(uuidString: entry.instanceId) ?? UUID()))
                """)
            metrics.pluginLogEntryCreated(source: entry.source.rawValue, teamId: teamId, pluginId: entry.config.pluginId)
        } catch {
            // The original swallowed failed log writes too (wire-formats.md §3.3.5).
            logger.debug("Plugin log entry not stored", metadata: ["error": .failure(error)])
        }
    }

    /// Console levels onto swift-log's as ServerLogHandler maps LOG_LEVEL: `log` sits between info
    /// and warn, so LOG_LEVEL=log shows console.log and hides console.info (configuration.md §3.3).
    static func logLevel(_ type: PluginLogEntry.Level) -> Logger.Level {
        switch type {
        case .debug: .debug
        case .info: .info
        case .log: .notice
        case .warn: .warning
        case .error: .error
        }
    }

    func recordError(_ record: PluginErrorRecord, config: PluginConfigRef) async {
        errors.capture(sentryReport(record, config: config))
        do {
            try await store.execute("UPDATE posthog_pluginconfig SET error = \(record.json.jsonString)::jsonb WHERE id = \(config.id)")
        } catch {
            logger.warning(
                "Plugin error not recorded", metadata: ["plugin_config_id": "\(config.id)", "error": .failure(error)])
        }
    }

    /// A plugin error for Sentry (metrics.md): tagged with the config, its plugin and team; the stack
    /// and the event being processed as extra data.
    func sentryReport(_ record: PluginErrorRecord, config: PluginConfigRef) -> SentryReport {
        var tags = ["plugin_config_id": String(config.id), "plugin_id": String(config.pluginId)]
        if let teamId = config.teamId { tags["team_id"] = String(teamId) }
        if let plugin = metrics.pluginName(configId: config.id) { tags["plugin"] = plugin }
        var extra: JSONObject = ["time": .string(record.time)]
        if let stack = record.stack { extra["stack"] = .string(stack) }
        if let event = record.event { extra["event"] = event }
        return SentryReport(type: record.name ?? "Error", message: record.message, tags: tags, extra: extra)
    }

    func recordInvocation(_ invocation: PluginInvocation) { metrics.pluginInvocation(invocation) }

    func clearError(config: PluginConfigRef) async {
        try? await store.execute("UPDATE posthog_pluginconfig SET error = NULL WHERE id = \(config.id) AND error IS NOT NULL")
    }

    /// `posthog_plugin.capabilities` exists from PostHog's migration 0153 on; older databases (the
    /// 0.20 schema) have no such column, and then there is nothing to write.
    func recordCapabilities(_ capabilities: PluginCapabilities, config: PluginConfigRef) async {
        if capabilities.methods.contains("exportEvents") { await recordHistoricalExportJob(config: config) }
        let json = capabilities.json.jsonString
        let (columnExists, recorded) = recordedCapabilities.withLock { ($0.columnExists, $0.byPlugin[config.pluginId]) }
        guard columnExists != false, recorded != json else { return }
        do {
            if columnExists == nil {
                let rows = try await store.query(
                    """
                    SELECT count(*) FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'posthog_plugin' AND column_name = 'capabilities'
                    """)
                var exists = false
                for try await count in rows.decode(Int.self) { exists = count > 0 }
                recordedCapabilities.withLock { $0.columnExists = exists }
                guard exists else { return }
            }
            try await store.execute(
                """
                UPDATE posthog_plugin SET capabilities = \(json)::jsonb
                WHERE id = \(config.pluginId) AND capabilities IS DISTINCT FROM \(json)::jsonb
                """)
            recordedCapabilities.withLock { $0.byPlugin[config.pluginId] = json }
        } catch {
            logger.warning(
                "Could not record plugin capabilities",
                metadata: ["plugin_id": "\(config.pluginId)", "error": .failure(error)])
        }
    }

    func disable(config: PluginConfigRef) async {
        do {
            try await store.execute("UPDATE posthog_pluginconfig SET enabled = false WHERE id = \(config.id)")
            logger.warning("Plugin config disabled after failing to load", metadata: ["plugin_config_id": "\(config.id)"])
        } catch {
            logger.error(
                "Could not disable plugin config",
                metadata: ["plugin_config_id": "\(config.id)", "error": .failure(error)])
        }
    }

    // MARK: Cache (Redis) and storage (Postgres)

    var cache: RedisPluginCache { RedisPluginCache(redis: redis) }
    var storage: PostgresPluginStorage { PostgresPluginStorage(store: store) }

    func cacheGet(_ scope: CacheScope, key: String) async throws -> String? {
        try await metrics.time(.get) { try await cache.get(scope, key: key) }
    }
    func cacheSet(_ scope: CacheScope, key: String, value: String, ttlSeconds: Int?) async throws {
        try await metrics.time(.set) { try await cache.set(scope, key: key, value: value, ttlSeconds: ttlSeconds) }
    }
    func cacheIncr(_ scope: CacheScope, key: String) async throws -> Int {
        try await metrics.time(.incr) { try await cache.incr(scope, key: key) }
    }
    func cacheExpire(_ scope: CacheScope, key: String, ttlSeconds: Int) async throws -> Bool {
        try await metrics.time(.expire) { try await cache.expire(scope, key: key, ttlSeconds: ttlSeconds) }
    }
    func cacheLPush(_ scope: CacheScope, key: String, values: [String]) async throws -> Int {
        try await metrics.time(.lpush) { try await cache.lpush(scope, key: key, values: values) }
    }
    func cacheLRange(_ scope: CacheScope, key: String, start: Int, stop: Int) async throws -> [String] {
        try await cache.lrange(scope, key: key, start: start, stop: stop)
    }
    func cacheLLen(_ scope: CacheScope, key: String) async throws -> Int { try await cache.llen(scope, key: key) }
    func cacheLRem(_ scope: CacheScope, key: String, count: Int, value: String) async throws -> Int {
        try await cache.lrem(scope, key: key, count: count, value: value)
    }
    func cacheLPop(_ scope: CacheScope, key: String, count: Int) async throws -> [String] {
        try await cache.lpop(scope, key: key, count: count)
    }

    func storageGet(config: PluginConfigRef, key: String) async throws -> String? { try await storage.get(config: config, key: key) }
    func storageSet(config: PluginConfigRef, key: String, jsonValue: String) async throws {
        try await storage.set(config: config, key: key, jsonValue: jsonValue)
    }
    func storageDel(config: PluginConfigRef, key: String) async throws { try await storage.del(config: config, key: key) }

    func storageInitialize(config: PluginConfigRef, key: String, jsonValue: String) async throws {
        try await storage.initialize(config: config, key: key, jsonValue: jsonValue)
    }
    func storageIncrement(config: PluginConfigRef, key: String, by: Double) async throws -> Double {
        try await storage.increment(config: config, key: key, by: by)
    }

    // MARK: posthog.capture (wire-formats.md §2.1)

    func capture(_ capture: PluginCapture) async throws {
        guard let teamId = capture.teamId else { throw PluginHostError("posthog.capture needs a plugin config with a team") }
        var properties = capture.properties
        let timestamp =
            properties.removeValue(forKey: "timestamp").map { $0.stringValue ?? $0.javaScriptString } ?? EventTimestamp.now().isoString
        properties.removeValue(forKey: "distinct_id")
        var eventProperties: JSONObject = [
            "$lib": "posthog-plugin-server", "$lib_version": .string(PluginServerVersion.compatible),
            "distinct_id": .string(capture.distinctId),
        ]
        eventProperties.merge(properties)
        let uuid = UUIDT().uuidString
        let data: JSON = [
            "distinct_id": .string(capture.distinctId), "event": .string(capture.event), "timestamp": .string(timestamp),
            "properties": .object(eventProperties), "team_id": .number(Double(teamId)), "uuid": .string(uuid),
        ]
        if let kafka {
            kafka.producer.enqueue(
                KafkaOutgoingMessage(
                    topic: kafka.consumptionTopic, key: Array(uuid.utf8),
                    value: ClickHouseMessages.capturedEventValue(
                        distinctId: capture.distinctId, data: data, teamId: teamId, timestamp: timestamp, uuid: uuid)))
            return
        }
        try await publisher.publish(
            task: CeleryEnvelope.processEventTask,
            args: [.string(capture.distinctId), .null, .null, data, .number(Double(teamId)), .string(timestamp), .string(timestamp)],
            queue: pluginsQueue)
    }

    // MARK: fetch

    func fetch(_ request: FetchRequest) async throws -> FetchResponse { try await fetcher.fetch(request) }

    // MARK: Jobs and GeoIP

    func enqueueJob(_ job: PluginJob) async throws { try await jobs.enqueue(job) }

    // MARK: exportEvents buffers (ExportBufferStore)

    func exportBufferAdd(config: PluginConfigRef, instance: String, entry: String, eventJSON: String) async throws {
        try await exportBuffers.add(config: config, instance: instance, entry: entry, eventJSON: eventJSON)
    }
    func exportSeal(config: PluginConfigRef, instance: String, entries: [String], batchKey: String) async throws -> [String] {
        try await exportBuffers.seal(config: config, instance: instance, entries: entries, batchKey: batchKey)
    }
    func exportIsDone(config: PluginConfigRef, batchKey: String) async throws -> Bool {
        try await exportBuffers.isDone(config: config, batchKey: batchKey)
    }
    func exportComplete(config: PluginConfigRef, instance: String, batchKey: String, succeeded: Bool) async throws {
        try await exportBuffers.complete(config: config, instance: instance, batchKey: batchKey, succeeded: succeeded)
    }
    func exportRecover(config: PluginConfigRef, instance: String) async throws -> [(batchKey: String, events: [JSON])] {
        try await exportBuffers.recover(config: config, instance: instance)
    }
    func exportHeartbeat(instance: String) async {
        do {
            try await exportBuffers.heartbeat(instance: instance)
        } catch {
            logger.warning("Could not mark the instance alive for export buffers", metadata: ["error": .failure(error)])
        }
    }

    // MARK: meta.metrics, posthog.api, pg, historical export

    /// Whether a column PostHog's later migrations add exists in this database; asked once per column.
    private func columnExists(_ table: String, _ column: String) async throws -> Bool {
        let key = "\(table).\(column)"
        if let known = knownColumns.withLock({ $0[key] }) { return known }
        let rows = try await store.query(
            """
            SELECT count(*) FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = \(table) AND column_name = \(column)
            """)
        var exists = false
        for try await count in rows.decode(Int.self) { exists = count > 0 }
        knownColumns.withLock { $0[key] = exists }
        return exists
    }

    /// 1.7.0: an exportEvents plugin offers the public job `Export historical events` (reference §13.2),
    /// merged into `posthog_plugin.public_jobs` where PostHog's schema has it (migration 0166).
    private func recordHistoricalExportJob(config: PluginConfigRef) async {
        do {
            guard try await columnExists("posthog_plugin", "public_jobs") else { return }
            try await store.execute(
                """
                UPDATE posthog_plugin SET public_jobs = coalesce(public_jobs, '{}'::jsonb) || '{"Export historical events": {"payload": {}}}'::jsonb
                WHERE id = \(config.pluginId) AND NOT coalesce(public_jobs, '{}'::jsonb) ? 'Export historical events'
                """)
        } catch {
            logger.warning(
                "Could not record the historical export job",
                metadata: ["plugin_id": "\(config.pluginId)", "error": .failure(error)])
        }
    }

    /// `posthog_plugin.metrics` exists from PostHog's migration 0157 on; the 0.20 schema has none.
    func recordMetricTypes(_ types: [String: String], config: PluginConfigRef) async {
        var object = JSONObject()
        for (name, type) in types.sorted(by: { $0.key < $1.key }) { object[name] = .string(type) }
        let json = JSON.object(object).jsonString
        do {
            guard try await columnExists("posthog_plugin", "metrics") else { return }
            try await store.execute(
                "UPDATE posthog_plugin SET metrics = \(json)::jsonb WHERE id = \(config.pluginId) AND metrics IS DISTINCT FROM \(json)::jsonb"
            )
        } catch {
            logger.warning(
                "Could not record plugin metrics",
                metadata: ["plugin_id": "\(config.pluginId)", "error": .failure(error)])
        }
    }

    /// Without keys: the team's `api_token` and the personal API key of PostHog's plugins bot user,
    /// made when missing (`PluginsAPIKey`), at SITE_URL (reference §13.3). That key goes to SITE_URL
    /// only: the original sent it to any `host` a plugin named, which handed it to whoever the plugin's
    /// author pointed it at.
    func apiTarget(config: PluginConfigRef, host: String?, projectApiKey: String?, personalApiKey: String?) async throws
        -> PostHogAPITarget
    {
        let ownHost = siteURL ?? PostHogAPITarget.defaultHost
        if let projectApiKey, let personalApiKey {
            return PostHogAPITarget(host: host ?? ownHost, projectApiKey: projectApiKey, personalApiKey: personalApiKey)
        }
        if let host, PostHogAPITarget.origin(host) != PostHogAPITarget.origin(ownHost) {
            throw PluginHostError(
                "posthog.api sends this server's own keys only to its SITE_URL (\(ownHost)), not to \(host): "
                    + "pass projectApiKey and personalApiKey to call another PostHog")
        }
        guard let teamId = config.teamId else { throw PluginHostError("posthog.api needs a plugin config with a team") }
        do {
            let team = try await store.first(
                "SELECT api_token, organization_id::text FROM posthog_team WHERE id = \(teamId)", as: (String, String).self)
            guard let (token, organization) = team else { throw PluginHostError("posthog.api: team \(teamId) not found") }
            let personal = try await pluginsAPIKey.key(organizationId: organization)
            return PostHogAPITarget(host: host ?? ownHost, projectApiKey: token, personalApiKey: personal)
        } catch let error as PluginHostError {
            throw error
        } catch {
            throw PluginHostError("posthog.api: cannot read the team's keys: \(PostgresFailure.summary(error))")
        }
    }

    func pgConnect(config: PluginConfigRef, pluginConfig: JSONObject, parameters: JSONObject) async throws -> Int {
        try await postgresClients.connect(config: config, pluginConfig: pluginConfig, parameters: parameters)
    }
    func pgQuery(connection: Int, config: PluginConfigRef, text: String, parameters: [String?]) async throws -> JSON {
        try await postgresClients.query(connection, config: config, text: text, parameters: parameters)
    }
    func pgEnd(connection: Int, config: PluginConfigRef) async { await postgresClients.end(connection, config: config) }

    func eventBounds(teamId: Int) async throws -> (min: Double, max: Double)? {
        let bounds = try await store.first(
            """
            SELECT (extract(epoch FROM min("timestamp")) * 1000)::float8, (extract(epoch FROM max("timestamp")) * 1000)::float8
            FROM posthog_event WHERE team_id = \(teamId)
            """, as: (Double?, Double?).self)
        guard let (low, high) = bounds, let low, let high else { return nil }
        return (low, high)
    }

    /// Events as the original's historical export handed them to `exportEvents`.
    func eventPage(teamId: Int, from: Double, to: Double, offset: Int, limit: Int) async throws -> [JSON] {
        let rows = try await store.query(
            """
            SELECT json_build_object('event', event, 'distinct_id', distinct_id, 'team_id', team_id, 'properties', properties,
                'timestamp', to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'now', to_char(coalesce(created_at, "timestamp") AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'site_url', site_url, 'ip', properties->>'$ip', 'elements', elements)::text
            FROM posthog_event
            WHERE team_id = \(teamId) AND "timestamp" >= to_timestamp(\(from / 1000)) AND "timestamp" < to_timestamp(\(to / 1000))
            ORDER BY "timestamp", id OFFSET \(offset) LIMIT \(limit)
            """)
        var events: [JSON] = []
        for try await text in rows.decode(String.self) { events.append(try JSON(parsing: text)) }
        return events
    }

    /// In-process: no loopback round trip, so the original's 10 s "connection timed out" cannot occur.
    func geoipLocate(_ ip: String) async throws -> JSON? { try geoip.locate(ip) }
}
