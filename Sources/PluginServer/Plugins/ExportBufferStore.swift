import Foundation
import PluginRuntime
import PostHogEvents
import RedisClient
import Synchronization

/// Keeps `exportEvents` buffers in Redis so that a crash loses nothing (an addition to reference
/// §13.2). Keys, per plugin config id `<c>` and instance id `<i>`:
///
/// - `@plugin-server/export-buffer/<c>/buffer/<i>`: hash entry id → event JSON, written as events are buffered;
/// - `@plugin-server/export-buffer/<c>/pending/<i>`: hash batch key → JSON array, a batch being exported;
/// - `@plugin-server/export-buffer/<c>/owners`: set of instance ids that have such hashes;
/// - `@plugin-server/export-buffer/<c>/done/<batch key>`: a batch exported successfully (7 days);
/// - `@plugin-server/export-buffer/alive/<i>`: set every second by a running instance, expires after 10 s.
///
/// Moving entries is atomic (Lua), so an entry is sealed into one batch only, by its owner or by the
/// instance that recovers it after its owner stopped.
final class ExportBufferStore: Sendable {
    let redis: RedisClient
    /// Owners already registered by this process, to send SADD once per config.
    let registered = Mutex<Set<Int>>([])

    init(redis: RedisClient) { self.redis = redis }

    static let prefix = "@plugin-server/export-buffer"
    static let aliveSeconds = 10
    static let doneSeconds = 7 * 24 * 3600

    private func key(_ config: PluginConfigRef, _ parts: String...) -> String {
        ([Self.prefix, String(config.id)] + parts).joined(separator: "/")
    }

    static func aliveKey(_ instance: String) -> String { "\(prefix)/alive/\(instance)" }

    func add(config: PluginConfigRef, instance: String, entry: String, eventJSON: String) async throws {
        _ = try await redis.send("HSET", [RedisArgument(key(config, "buffer", instance)), RedisArgument(entry), RedisArgument(eventJSON)])
        if registered.withLock({ $0.insert(config.id).inserted }) {
            _ = try await redis.send("SADD", [RedisArgument(key(config, "owners")), RedisArgument(instance)])
        }
    }

    private static let sealScript = """
        local sealed, events = {}, {}
        for i = 2, #ARGV do
          local v = redis.call('HGET', KEYS[1], ARGV[i])
          if v then redis.call('HDEL', KEYS[1], ARGV[i]); sealed[#sealed + 1] = ARGV[i]; events[#events + 1] = v end
        end
        if #events > 0 then redis.call('HSET', KEYS[2], ARGV[1], '[' .. table.concat(events, ',') .. ']') end
        return sealed
        """

    func seal(config: PluginConfigRef, instance: String, entries: [String], batchKey: String) async throws -> [String] {
        guard !entries.isEmpty else { return [] }
        let reply = try await redis.eval(
            Self.sealScript, keys: [key(config, "buffer", instance), key(config, "pending", instance)],
            arguments: [RedisArgument(batchKey)] + entries.map { RedisArgument($0) })
        return (reply.array ?? []).compactMap(\.string)
    }

    func isDone(config: PluginConfigRef, batchKey: String) async throws -> Bool {
        (try await redis.send("EXISTS", [RedisArgument(key(config, "done", batchKey))]).int ?? 0) > 0
    }

    func complete(config: PluginConfigRef, instance: String, batchKey: String, succeeded: Bool) async throws {
        // Done first: a crash between the two leaves a pending batch that recovery then skips.
        if succeeded {
            _ = try await redis.set(key(config, "done", batchKey), "1", expireSeconds: Self.doneSeconds)
        }
        _ = try await redis.send("HDEL", [RedisArgument(key(config, "pending", instance)), RedisArgument(batchKey)])
    }

    func heartbeat(instance: String) async throws {
        _ = try await redis.set(Self.aliveKey(instance), "1", expireSeconds: Self.aliveSeconds)
    }

    /// Moves a stopped owner's buffer (as one new batch) and its pending batches to this instance's
    /// pending hash, returning them as [key, json, key, json, …].
    private static let claimScript = """
        local claimed = {}
        local entries = redis.call('HGETALL', KEYS[1])
        if #entries > 0 then
          local events = {}
          for i = 2, #entries, 2 do events[#events + 1] = entries[i] end
          local batch = '[' .. table.concat(events, ',') .. ']'
          redis.call('HSET', KEYS[3], ARGV[1], batch)
          claimed[#claimed + 1] = ARGV[1]; claimed[#claimed + 1] = batch
        end
        local pending = redis.call('HGETALL', KEYS[2])
        for i = 1, #pending, 2 do
          redis.call('HSET', KEYS[3], pending[i], pending[i + 1])
          claimed[#claimed + 1] = pending[i]; claimed[#claimed + 1] = pending[i + 1]
        end
        redis.call('DEL', KEYS[1], KEYS[2])
        redis.call('SREM', KEYS[4], ARGV[2])
        return claimed
        """

    func recover(config: PluginConfigRef, instance: String) async throws -> [(batchKey: String, events: [JSON])] {
        let owners = try await redis.smembers(key(config, "owners")).map { String(decoding: $0, as: UTF8.self) }
        var batches: [(batchKey: String, events: [JSON])] = []
        for owner in owners where owner != instance {
            let alive = (try await redis.send("EXISTS", [RedisArgument(Self.aliveKey(owner))]).int ?? 0) > 0
            guard !alive else { continue }
            let reply = try await redis.eval(
                Self.claimScript,
                keys: [
                    key(config, "buffer", owner), key(config, "pending", owner), key(config, "pending", instance), key(config, "owners"),
                ],
                arguments: [RedisArgument(UUID().uuidString.lowercased()), RedisArgument(owner)])
            let items = (reply.array ?? []).compactMap(\.string)
            if !items.isEmpty, registered.withLock({ $0.insert(config.id).inserted }) {
                _ = try await redis.send("SADD", [RedisArgument(key(config, "owners")), RedisArgument(instance)])
            }
            for index in stride(from: 0, to: items.count - 1, by: 2) {
                let events = (try? JSON(parsing: items[index + 1]))?.arrayValue ?? []
                batches.append((items[index], events))
            }
        }
        return batches
    }
}
