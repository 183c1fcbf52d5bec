import Foundation
import GeoIP
import Logging
import PluginRuntime
import PostHogEvents
import Synchronization

/// The host of a local run: cache and storage in memory, or in Redis / Postgres when configured; real
/// fetch and `pg` (to hosts the config names, as in the server); logs, errors, captures, export batches
/// and jobs go to the output instead of the services.
final class RunnerPluginHost: PluginHost {
    private let output: RunnerOutput
    private let memory = InMemoryPluginHost()
    private let cache: RedisPluginCache?
    private let storage: PostgresPluginStorage?
    private let fetcher: PluginFetcher
    private let geoIP: MaxMindDatabase?
    private let postgresClients: PluginPostgresConnections
    private let api: APIDefaults
    /// Whether `setupPlugin` was called: an error while loading before it came from loading the code.
    private let setupCalled = Atomic(false)
    /// With `--run-jobs`, the jobs enqueued and not yet taken to run; without, none are kept.
    private let enqueuedJobs: Mutex<[PluginJob]>?

    /// What `posthog.api` uses when a call does not say: SITE_URL and the `--…-api-key` options.
    struct APIDefaults: Sendable {
        var siteURL: String?
        var projectApiKey: String?
        var personalApiKey: String?
    }

    init(
        output: RunnerOutput, cache: RedisPluginCache?, storage: PostgresPluginStorage?, fetchTimeout: Double, extraTrustRootsFile: String?,
        geoIP: MaxMindDatabase?, api: APIDefaults = APIDefaults(), keepsEnqueuedJobs: Bool = false, logger: Logger
    ) {
        self.enqueuedJobs = keepsEnqueuedJobs ? Mutex([]) : nil
        self.output = output
        self.cache = cache
        self.storage = storage
        self.fetcher = PluginFetcher(timeoutSeconds: fetchTimeout, extraTrustRootsFile: extraTrustRootsFile)
        self.geoIP = geoIP
        self.postgresClients = PluginPostgresConnections(logger: logger)
        self.api = api
    }

    /// Closes the HTTP client and the `pg` connections the plugin left open; call after teardown.
    func shutdown() async {
        await fetcher.shutdown()
        await postgresClients.closeAll()
    }

    // MARK: What the run reports

    func log(_ entry: PluginLogEntry) async {
        // SYSTEM lines are the server's own (loaded/unloaded); PLUGIN lines repeat an error reported below.
        guard entry.source == .console else { return }
        await output.add(.log(type: entry.type.rawValue, message: entry.message), at: entry.timestamp)
    }

    func recordError(_ record: PluginErrorRecord, config: PluginConfigRef) async {
        await output.addError(
            name: record.name, message: record.message, stack: record.stack, setupCalled: setupCalled.load(ordering: .relaxed))
    }

    func recordInvocation(_ invocation: PluginInvocation) {
        if invocation.method == "setupPlugin" { setupCalled.store(true, ordering: .relaxed) }
    }

    func clearError(config: PluginConfigRef) async {}

    func capture(_ capture: PluginCapture) async throws {
        await output.add(.capture(event: capture.event, distinctId: capture.distinctId, properties: capture.properties))
    }

    func exportingEvents(_ batch: [JSON], config: PluginConfigRef) async {
        // What follows (an error, a log line) belongs to exportEvents, whichever step flushed the buffer.
        await output.setMethod("exportEvents")
        await output.add(.export(batch: batch))
    }

    func enqueueJob(_ job: PluginJob) async throws {
        enqueuedJobs?.withLock { $0.append(job) }
        await output.add(.job(type: job.type, payload: job.payload, runAt: job.timestamp, runs: enqueuedJobs != nil))
    }

    /// The jobs enqueued since the last call, in enqueue order.
    func takeEnqueuedJobs() -> [PluginJob] {
        enqueuedJobs?.withLock { jobs in
            defer { jobs.removeAll() }
            return jobs
        } ?? []
    }

    // MARK: Services

    func fetch(_ request: FetchRequest) async throws -> FetchResponse { try await fetcher.fetch(request) }

    func geoipLocate(_ ip: String) async throws -> JSON? {
        guard let geoIP else { throw PluginHostError(GeoIPLocator.unavailableMessage) }
        return geoIP.city(ip)
    }

    /// As the server: the call's keys, else defaults (here the options, there the team's), at the
    /// call's host, else SITE_URL.
    func apiTarget(config: PluginConfigRef, host: String?, projectApiKey: String?, personalApiKey: String?) async throws
        -> PostHogAPITarget
    {
        let host = host ?? api.siteURL ?? PostHogAPITarget.defaultHost
        if let projectApiKey, let personalApiKey {
            return PostHogAPITarget(host: host, projectApiKey: projectApiKey, personalApiKey: personalApiKey)
        }
        guard let projectApiKey = api.projectApiKey, let personalApiKey = api.personalApiKey else {
            throw PluginHostError(
                "posthog.api needs API keys under run-plugin: run it with --project-api-key KEY --personal-api-key KEY, "
                    + "or pass {projectApiKey, personalApiKey} in the call")
        }
        return PostHogAPITarget(host: host, projectApiKey: projectApiKey, personalApiKey: personalApiKey)
    }

    func pgConnect(config: PluginConfigRef, pluginConfig: JSONObject, parameters: JSONObject) async throws -> Int {
        try await postgresClients.connect(config: config, pluginConfig: pluginConfig, parameters: parameters)
    }
    func pgQuery(connection: Int, config: PluginConfigRef, text: String, parameters: [String?]) async throws -> JSON {
        try await postgresClients.query(connection, config: config, text: text, parameters: parameters)
    }
    func pgEnd(connection: Int, config: PluginConfigRef) async { await postgresClients.end(connection, config: config) }

    func cacheGet(_ scope: CacheScope, key: String) async throws -> String? {
        if let cache { return try await cache.get(scope, key: key) }
        return try await memory.cacheGet(scope, key: key)
    }
    func cacheSet(_ scope: CacheScope, key: String, value: String, ttlSeconds: Int?) async throws {
        if let cache { return try await cache.set(scope, key: key, value: value, ttlSeconds: ttlSeconds) }
        try await memory.cacheSet(scope, key: key, value: value, ttlSeconds: ttlSeconds)
    }
    func cacheIncr(_ scope: CacheScope, key: String) async throws -> Int {
        if let cache { return try await cache.incr(scope, key: key) }
        return try await memory.cacheIncr(scope, key: key)
    }
    func cacheExpire(_ scope: CacheScope, key: String, ttlSeconds: Int) async throws -> Bool {
        if let cache { return try await cache.expire(scope, key: key, ttlSeconds: ttlSeconds) }
        return try await memory.cacheExpire(scope, key: key, ttlSeconds: ttlSeconds)
    }
    func cacheLPush(_ scope: CacheScope, key: String, values: [String]) async throws -> Int {
        if let cache { return try await cache.lpush(scope, key: key, values: values) }
        return try await memory.cacheLPush(scope, key: key, values: values)
    }
    func cacheLRange(_ scope: CacheScope, key: String, start: Int, stop: Int) async throws -> [String] {
        if let cache { return try await cache.lrange(scope, key: key, start: start, stop: stop) }
        return try await memory.cacheLRange(scope, key: key, start: start, stop: stop)
    }
    func cacheLLen(_ scope: CacheScope, key: String) async throws -> Int {
        if let cache { return try await cache.llen(scope, key: key) }
        return try await memory.cacheLLen(scope, key: key)
    }
    func cacheLRem(_ scope: CacheScope, key: String, count: Int, value: String) async throws -> Int {
        if let cache { return try await cache.lrem(scope, key: key, count: count, value: value) }
        return try await memory.cacheLRem(scope, key: key, count: count, value: value)
    }
    func cacheLPop(_ scope: CacheScope, key: String, count: Int) async throws -> [String] {
        if let cache { return try await cache.lpop(scope, key: key, count: count) }
        return try await memory.cacheLPop(scope, key: key, count: count)
    }

    func storageGet(config: PluginConfigRef, key: String) async throws -> String? {
        if let storage { return try await storage.get(config: config, key: key) }
        return try await memory.storageGet(config: config, key: key)
    }
    func storageSet(config: PluginConfigRef, key: String, jsonValue: String) async throws {
        if let storage { return try await storage.set(config: config, key: key, jsonValue: jsonValue) }
        try await memory.storageSet(config: config, key: key, jsonValue: jsonValue)
    }
    func storageDel(config: PluginConfigRef, key: String) async throws {
        if let storage { return try await storage.del(config: config, key: key) }
        try await memory.storageDel(config: config, key: key)
    }
    func storageInitialize(config: PluginConfigRef, key: String, jsonValue: String) async throws {
        if let storage { return try await storage.initialize(config: config, key: key, jsonValue: jsonValue) }
        try await memory.storageInitialize(config: config, key: key, jsonValue: jsonValue)
    }
    func storageIncrement(config: PluginConfigRef, key: String, by: Double) async throws -> Double {
        if let storage { return try await storage.increment(config: config, key: key, by: by) }
        return try await memory.storageIncrement(config: config, key: key, by: by)
    }
}
