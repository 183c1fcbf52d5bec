import Logging
import RedisClient
import ServiceLifecycle

/// `plugin-server migrate`: PostHog's tables when missing (development, tests) and the server's own.
public enum Migration {
    public static func run(settings: ServerSettings, seed: Bool, logger: Logger) async throws {
        let postgres = PostgresStore(settings: settings.postgres, logger: logger)
        try await withThrowingTaskGroup { group in
            group.addTask { await postgres.client.run() }
            defer { group.cancelAll() }
            try await postgres.waitUntilReachable(timeout: .seconds(30))
            let migrator = SchemaMigrator(store: postgres)
            if try await migrator.createPostHogTablesIfMissing() {
                logger.info("Created PostHog's tables")
            } else {
                logger.info("PostHog's tables exist, nothing to create")
            }
            try await migrator.prepareServerTables()
            if seed {
                try await migrator.seed()
                logger.info("Seeded the demo organization and team 2 (api token: THIS IS NOT A TOKEN FOR TEAM 2)")
            }
        }
    }
}

public enum Health {
    public static func check(settings: ServerSettings, logger: Logger) async -> Bool {
        let redis = RedisClient(configuration: PluginServer.redisConfiguration(settings), logger: logger)
        let alive = await HeartbeatService.isAlive(redis: redis)
        await redis.close()
        return alive
    }
}
