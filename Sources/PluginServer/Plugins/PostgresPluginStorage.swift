import PluginRuntime
import PostgresNIO

/// `meta.storage` in `posthog_pluginstorage`, one row per config and key (reference §8.4): shared by the
/// server and a local run with DATABASE_URL set.
struct PostgresPluginStorage: Sendable {
    let store: PostgresStore

    func get(config: PluginConfigRef, key: String) async throws -> String? {
        let rows = try await store.query(
            "SELECT value FROM posthog_pluginstorage WHERE plugin_config_id = \(config.id) AND key = \(key) LIMIT 1")
        for try await value in rows.decode(String?.self) { return value }
        return nil
    }

    func set(config: PluginConfigRef, key: String, jsonValue: String) async throws {
        _ = try await store.write(
            """
            INSERT INTO posthog_pluginstorage (plugin_config_id, key, value) VALUES (\(config.id), \(key), \(jsonValue))
            ON CONFLICT (plugin_config_id, key) DO UPDATE SET value = \(jsonValue)
            """)
    }

    func del(config: PluginConfigRef, key: String) async throws {
        try await store.execute("DELETE FROM posthog_pluginstorage WHERE plugin_config_id = \(config.id) AND key = \(key)")
    }

    func initialize(config: PluginConfigRef, key: String, jsonValue: String) async throws {
        _ = try await store.write(
            """
            INSERT INTO posthog_pluginstorage (plugin_config_id, key, value) VALUES (\(config.id), \(key), \(jsonValue))
            ON CONFLICT (plugin_config_id, key) DO NOTHING
            """)
    }

    /// One statement, so concurrent increments from every worker and instance add up (reference §13.3).
    func increment(config: PluginConfigRef, key: String, by: Double) async throws -> Double {
        let rows = try await store.query(
            """
            INSERT INTO posthog_pluginstorage (plugin_config_id, key, value) VALUES (\(config.id), \(key), \(by)::numeric::text)
            ON CONFLICT (plugin_config_id, key) DO UPDATE SET value = (posthog_pluginstorage.value::numeric + \(by)::numeric)::text
            RETURNING value
            """)
        for try await value in rows.decode(String.self) {
            guard let number = Double(value) else { throw PluginHostError("Storage key \(key) does not hold a number") }
            return number
        }
        throw PluginHostError("Storage increment of \(key) returned nothing")
    }
}
