import Foundation
import Logging
import PostHogEvents
import RedisClient
import ServiceLifecycle

/// Keeps `@posthog-plugin-server/ping` (60 s TTL) and `@posthog-plugin-server/version` fresh every
/// 5 s, at seconds divisible by 5 (wire-formats.md §4); `plugin-server healthcheck` reads the ping.
struct HeartbeatService: Service {
    static let pingKey = "@posthog-plugin-server/ping"
    static let versionKey = "@posthog-plugin-server/version"

    let redis: RedisClient
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                // The version first: whoever sees a live ping (a health check, PostHog) finds the version too.
                _ = try await redis.send("SET", [RedisArgument(Self.versionKey), RedisArgument(PluginServerVersion.compatible)])
                let now = EventTimestamp.now()
                _ = try await redis.send("SET", [RedisArgument(Self.pingKey), RedisArgument(now.isoString), "EX", 60])
            } catch {
                logger.debug("Heartbeat not written", metadata: ["error": .failure(error)])
            }
            let milliseconds = Int64(Date().timeIntervalSince1970 * 1000)
            let untilNextMultipleOfFive = 5000 - milliseconds % 5000
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(untilNextMultipleOfFive)) }
        }
    }

    /// The health check of the original: exit 0 iff some instance refreshed the ping key.
    static func isAlive(redis: RedisClient) async -> Bool {
        (try? await redis.send("EXISTS", [RedisArgument(pingKey)]).int) == 1
    }
}
