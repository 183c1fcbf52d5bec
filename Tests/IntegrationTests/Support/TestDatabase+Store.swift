import Logging

@testable import PluginServer

extension TestDatabase {
    /// The server's `PostgresStore` on this database, its client running while `body` runs.
    func withStore<T: Sendable>(_ body: (PostgresStore) async throws -> T) async throws -> T {
        let store = PostgresStore(settings: try ServerSettings(environment: ["DATABASE_URL": url]).postgres, logger: Logger(label: "test"))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.client.run() }
            defer { group.cancelAll() }
            return try await body(store)
        }
    }

    /// A fresh database with a running store, dropped after `body`.
    static func withStore<T: Sendable>(_ body: (TestDatabase, PostgresStore) async throws -> T) async throws -> T {
        let database = try await TestDatabase.create()
        defer { database.drop() }
        return try await database.withStore { store in try await body(database, store) }
    }
}
