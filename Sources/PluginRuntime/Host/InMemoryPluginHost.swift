import Foundation
import PostHogEvents

/// A `PluginHost` keeping everything in memory: for tests and a local plugin runner.
/// `fetchHandler` answers `fetch`; without one, fetch rejects.
public actor InMemoryPluginHost: PluginHost {
    public private(set) var logs: [PluginLogEntry] = []
    public private(set) var errors: [Int: PluginErrorRecord] = [:]
    public private(set) var cache: [String: String] = [:]
    /// Seconds left before each key with a TTL expires, rounded up (Redis' `TTL`).
    public var cacheTTLs: [String: Int] {
        let current = now()
        return expiries.filter { $0.value > current }.mapValues { Int($0.timeIntervalSince(current).rounded(.up)) }
    }
    public private(set) var lists: [String: [String]] = [:]
    public private(set) var storage: [Int: [String: String]] = [:]
    public private(set) var captures: [PluginCapture] = []
    public private(set) var jobs: [PluginJob] = []
    public private(set) var fetches: [FetchRequest] = []
    public private(set) var disabled: [Int] = []
    private var fetchHandler: (@Sendable (FetchRequest) async throws -> FetchResponse)?
    private var geoip: [String: JSON] = [:]
    private var expiries: [String: Date] = [:]
    /// Added to the wall clock by `advanceClock`.
    private var clockOffset: Double = 0

    public init() {}

    public func setFetchHandler(_ handler: @escaping @Sendable (FetchRequest) async throws -> FetchResponse) {
        fetchHandler = handler
    }

    public func setGeoIP(_ ip: String, _ record: JSON) { geoip[ip] = record }

    public func log(_ entry: PluginLogEntry) async { logs.append(entry) }
    public func recordError(_ record: PluginErrorRecord, config: PluginConfigRef) async { errors[config.id] = record }
    public func clearError(config: PluginConfigRef) async { errors[config.id] = nil }
    public func disable(config: PluginConfigRef) async { disabled.append(config.id) }

    // Keys expire as in Redis: a key past its TTL is absent to every command, and is removed when next
    // touched. Strings and lists share one keyspace there; here `expire` and the TTL apply to either.
    public func cacheGet(_ scope: CacheScope, key: String) async throws -> String? { cache[live(scope.redisKey(key))] }
    public func cacheSet(_ scope: CacheScope, key: String, value: String, ttlSeconds: Int?) async throws {
        if let ttlSeconds, ttlSeconds <= 0 { throw PluginHostError("ERR invalid expire time in 'set' command") }
        let key = live(scope.redisKey(key))
        lists[key] = nil
        cache[key] = value
        expiries[key] = ttlSeconds.map { now().addingTimeInterval(Double($0)) }
    }
    /// Keeps the key's TTL, as INCR does; an absent or expired key counts from 0.
    public func cacheIncr(_ scope: CacheScope, key: String) async throws -> Int {
        let key = live(scope.redisKey(key))
        let value = (Int(cache[key] ?? "0") ?? 0) + 1
        cache[key] = String(value)
        return value
    }
    public func cacheExpire(_ scope: CacheScope, key: String, ttlSeconds: Int) async throws -> Bool {
        let key = live(scope.redisKey(key))
        guard cache[key] != nil || lists[key] != nil else { return false }
        expiries[key] = now().addingTimeInterval(Double(ttlSeconds))
        _ = live(key)  // a TTL of 0 or less deletes the key at once
        return true
    }
    public func cacheLPush(_ scope: CacheScope, key: String, values: [String]) async throws -> Int {
        let key = live(scope.redisKey(key))
        lists[key, default: []].insert(contentsOf: values.reversed(), at: 0)
        return lists[key]!.count
    }
    public func cacheLRange(_ scope: CacheScope, key: String, start: Int, stop: Int) async throws -> [String] {
        let list = lists[live(scope.redisKey(key))] ?? []
        let from = start < 0 ? max(0, list.count + start) : start
        let to = min(list.count - 1, stop < 0 ? list.count + stop : stop)
        return from <= to ? Array(list[from...to]) : []
    }
    public func cacheLLen(_ scope: CacheScope, key: String) async throws -> Int { lists[live(scope.redisKey(key))]?.count ?? 0 }
    public func cacheLRem(_ scope: CacheScope, key: String, count: Int, value: String) async throws -> Int {
        let key = live(scope.redisKey(key))
        var list = lists[key] ?? []
        var removed = 0
        list.removeAll { item in
            guard item == value, count == 0 || removed < abs(count) else { return false }
            removed += 1
            return true
        }
        setList(key, list)
        return removed
    }
    public func cacheLPop(_ scope: CacheScope, key: String, count: Int) async throws -> [String] {
        let key = live(scope.redisKey(key))
        let list = lists[key] ?? []
        let taken = Array(list.prefix(count))
        setList(key, Array(list.dropFirst(count)))
        return taken
    }

    /// Moves this host's clock forward, so tests see TTLs pass without waiting.
    public func advanceClock(bySeconds seconds: Double) { clockOffset += seconds }

    private func now() -> Date { Date().addingTimeInterval(clockOffset) }

    /// Removes `key` when its TTL has passed; returns it.
    private func live(_ key: String) -> String {
        if let expiry = expiries[key], expiry <= now() {
            cache[key] = nil
            lists[key] = nil
            expiries[key] = nil
        }
        return key
    }

    /// Redis deletes a list (and its TTL) when its last item goes.
    private func setList(_ key: String, _ list: [String]) {
        if list.isEmpty {
            guard lists[key] != nil else { return }
            lists[key] = nil
            expiries[key] = nil
        } else {
            lists[key] = list
        }
    }

    public func storageGet(config: PluginConfigRef, key: String) async throws -> String? { storage[config.id]?[key] }
    public func storageSet(config: PluginConfigRef, key: String, jsonValue: String) async throws {
        storage[config.id, default: [:]][key] = jsonValue
    }
    public func storageDel(config: PluginConfigRef, key: String) async throws { storage[config.id]?[key] = nil }

    public func capture(_ capture: PluginCapture) async throws { captures.append(capture) }
    public func fetch(_ request: FetchRequest) async throws -> FetchResponse {
        fetches.append(request)
        guard let fetchHandler else { throw PluginHostError("fetch is not available") }
        return try await fetchHandler(request)
    }
    public func enqueueJob(_ job: PluginJob) async throws { jobs.append(job) }
    public func geoipLocate(_ ip: String) async throws -> JSON? { geoip[ip] }

    // exportEvents persistence, in memory: enough to test recovery between two runtimes sharing a host.
    public private(set) var bufferedExports: [String: (config: Int, instance: String, event: String)] = [:]
    public private(set) var pendingExports: [String: (config: Int, instance: String, events: [String])] = [:]
    public private(set) var doneExports: Set<String> = []
    public private(set) var metricTypes: [Int: [String: String]] = [:]

    public func exportBufferAdd(config: PluginConfigRef, instance: String, entry: String, eventJSON: String) async throws {
        bufferedExports[entry] = (config.id, instance, eventJSON)
    }
    public func exportSeal(config: PluginConfigRef, instance: String, entries: [String], batchKey: String) async throws -> [String] {
        let sealed = entries.filter { bufferedExports[$0]?.instance == instance }
        if !sealed.isEmpty { pendingExports[batchKey] = (config.id, instance, sealed.compactMap { bufferedExports[$0]?.event }) }
        for entry in sealed { bufferedExports[entry] = nil }
        return sealed
    }
    public func exportIsDone(config: PluginConfigRef, batchKey: String) async throws -> Bool { doneExports.contains(batchKey) }
    public func exportComplete(config: PluginConfigRef, instance: String, batchKey: String, succeeded: Bool) async throws {
        if succeeded { doneExports.insert(batchKey) }
        pendingExports[batchKey] = nil
    }
    /// Every other instance counts as stopped.
    public func exportRecover(config: PluginConfigRef, instance: String) async throws -> [(batchKey: String, events: [JSON])] {
        var batches: [(batchKey: String, events: [JSON])] = []
        let orphans = bufferedExports.filter { $0.value.config == config.id && $0.value.instance != instance }
        if !orphans.isEmpty {
            let key = "recovered-\(batches.count)-\(orphans.keys.sorted().first!)"
            let events = orphans.sorted { $0.key < $1.key }.map(\.value.event)
            for entry in orphans.keys { bufferedExports[entry] = nil }
            pendingExports[key] = (config.id, instance, events)
            batches.append((key, events.compactMap { try? JSON(parsing: $0) }))
        }
        for (key, pending) in pendingExports where pending.config == config.id && pending.instance != instance {
            pendingExports[key] = (config.id, instance, pending.events)
            batches.append((key, pending.events.compactMap { try? JSON(parsing: $0) }))
        }
        return batches
    }
    public func recordMetricTypes(_ types: [String: String], config: PluginConfigRef) async { metricTypes[config.id] = types }
}
