import PluginRuntime
import RedisClient

/// `meta.cache` in Redis under `@plugin/<plugin>/<team>/<key>` (reference §8.3): shared by the server
/// and a local run with REDIS_URL set.
struct RedisPluginCache: Sendable {
    let redis: RedisClient

    func get(_ scope: CacheScope, key: String) async throws -> String? { try await redis.getString(scope.redisKey(key)) }

    func set(_ scope: CacheScope, key: String, value: String, ttlSeconds: Int?) async throws {
        _ = try await redis.set(scope.redisKey(key), value, expireSeconds: ttlSeconds)
    }

    func incr(_ scope: CacheScope, key: String) async throws -> Int { try await redis.incr(scope.redisKey(key)) }

    func expire(_ scope: CacheScope, key: String, ttlSeconds: Int) async throws -> Bool {
        try await redis.expire(scope.redisKey(key), seconds: ttlSeconds)
    }

    func lpush(_ scope: CacheScope, key: String, values: [String]) async throws -> Int {
        try await redis.lpush(scope.redisKey(key), values)
    }

    func lrange(_ scope: CacheScope, key: String, start: Int, stop: Int) async throws -> [String] {
        try await redis.lrange(scope.redisKey(key), start, stop).map { String(decoding: $0, as: UTF8.self) }
    }

    func llen(_ scope: CacheScope, key: String) async throws -> Int { try await redis.llen(scope.redisKey(key)) }

    func lrem(_ scope: CacheScope, key: String, count: Int, value: String) async throws -> Int {
        try await redis.lrem(scope.redisKey(key), count, value)
    }

    func lpop(_ scope: CacheScope, key: String, count: Int) async throws -> [String] {
        try await redis.lpop(scope.redisKey(key), count: count).map { String(decoding: $0, as: UTF8.self) }
    }
}
