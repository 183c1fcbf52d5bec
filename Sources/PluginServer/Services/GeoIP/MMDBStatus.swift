import Foundation
import RedisClient

/// `@posthog-plugin-server/mmdb-status` (wire-formats.md §4): lets one instance of a cluster
/// download the database while the others wait for it. Values are JSON strings, as the original
/// wrote them; a missing key means idle.
enum MMDBStatus: String, Sendable {
    case idle, fetching, unavailable

    static let key = "@posthog-plugin-server/mmdb-status"
    /// How long a download may take before another instance tries, and how long a failed one
    /// keeps every instance from trying again.
    static let ttlSeconds = 120

    var stored: String { "\"\(rawValue)\"" }

    init(stored: String?) {
        self = stored.flatMap { Self(rawValue: $0.trimmingCharacters(in: ["\""])) } ?? .idle
    }

    /// Sets `fetching` unless another instance is fetching or a recent attempt failed; returns the
    /// status found then (`idle` means this instance now fetches). One script, so two instances
    /// cannot both claim the download, as they could with the original's GET then SET.
    static func claim(_ redis: RedisClient) async throws -> MMDBStatus {
        let found = try await redis.eval(
            """
            local current = redis.call('GET', KEYS[1])
            if current == ARGV[1] or current == ARGV[2] then return current end
            redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
            return false
            """, keys: [key], arguments: [RedisArgument(fetching.stored), RedisArgument(unavailable.stored), RedisArgument(ttlSeconds)])
        return MMDBStatus(stored: found.string)
    }

    static func read(_ redis: RedisClient) async throws -> MMDBStatus { MMDBStatus(stored: try await redis.getString(key)) }

    /// `idle` without expiry after a download; `unavailable` for two minutes after a failure.
    static func set(_ status: MMDBStatus, _ redis: RedisClient) async throws {
        _ = try await redis.set(key, status.stored, expireSeconds: status == .idle ? nil : ttlSeconds)
    }
}
