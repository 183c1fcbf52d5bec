import Logging
import PluginRuntime
import RedisClient
import ServiceLifecycle

/// Reloads plugins when PostHog publishes on PLUGINS_RELOAD_PUBSUB_CHANNEL (any message):
/// changed configs are rebuilt, removed ones torn down (plugin-runtime.md §11).
struct PluginReloadService: Service {
    let redis: RedisClient
    let channel: String
    let loader: PluginConfigLoader
    let runtime: PluginRuntime
    let logger: Logger

    func run() async throws {
        let subscription = redis.subscribe(to: [channel])
        try await cancelWhenGracefulShutdown {
            for try await _ in subscription {
                do {
                    let descriptors = try await loader.loadDescriptors()
                    await runtime.reload(descriptors)
                    logger.info("Plugins reloaded", metadata: ["plugin_configs": "\(descriptors.count)"])
                } catch {
                    logger.error("Plugin reload failed", metadata: ["error": .failure(error)])
                }
            }
        }
    }
}
