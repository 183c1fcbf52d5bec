import Foundation
import Logging
import PostgresNIO

/// Creates what the server needs in Postgres. PostHog's own tables only for development and tests
/// (`plugin-server migrate`); the server's own bookkeeping table always, idempotently, at start.
public struct SchemaMigrator: Sendable {
    let store: PostgresStore

    public init(store: PostgresStore) { self.store = store }

    /// The server's own schema: message keys of stored events, so a message redelivered after a
    /// crash is recognised and not stored twice.
    public static let ownSchema = "posthog_plugin_server"

    public func prepareServerTables() async throws {
        try await store.execute(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(Self.ownSchema)"))
        try await store.execute(
            PostgresQuery(
                unsafeSQL: """
                    CREATE TABLE IF NOT EXISTS \(Self.ownSchema).ingested_messages (
                        key uuid PRIMARY KEY,
                        stored_at timestamptz NOT NULL DEFAULT now()
                    )
                    """))
        try await store.execute(
            PostgresQuery(
                unsafeSQL:
                    "CREATE INDEX IF NOT EXISTS ingested_messages_stored_at ON \(Self.ownSchema).ingested_messages (stored_at)"
            ))
    }

    /// Creates PostHog's tables (as PostHog's migrations of May 2021 left them) when missing.
    /// Returns whether anything was created.
    @discardableResult
    public func createPostHogTablesIfMissing() async throws -> Bool {
        let rows = try await store.query("SELECT to_regclass('public.posthog_team')::text")
        var exists = false
        for try await name in rows.decode(String?.self) where name != nil { exists = true }
        if exists { return false }
        try await runScript(Self.postHogSchemaSQL)
        return true
    }

    /// Resets the demo/test organization, user and team 2 (the original test fixture).
    public func seed() async throws {
        try await runScript(Self.seedSQL)
    }

    /// Runs a SQL script statement by statement in one transaction (the extended protocol takes one
    /// statement at a time); the script's own BEGIN/COMMIT are replaced by ours.
    func runScript(_ script: String) async throws {
        let statements = SQLScript.statements(script).filter {
            let upper = $0.uppercased()
            return upper != "BEGIN" && upper != "COMMIT"
        }
        try await store.withTransaction { connection in
            for statement in statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: store.logger).consume()
            }
        }
    }

    static let postHogSchemaSQL = resource("posthog")
    static let seedSQL = resource("seed")

    private static func resource(_ name: String) -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: "sql", subdirectory: "Resources"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { fatalError("Missing bundled resource \(name).sql: the package was built without its resources") }
        return text
    }
}

/// Splits a SQL script into statements: `;` ends a statement outside quotes; `--` comments dropped.
enum SQLScript {
    static func statements(_ script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inQuote: Character?
        var iterator = Array(script).makeIterator()
        var pending: Character?
        while let character = pending ?? iterator.next() {
            pending = nil
            if let quote = inQuote {
                current.append(character)
                if character == quote { inQuote = nil }
                continue
            }
            switch character {
            case "'", "\"":
                inQuote = character
                current.append(character)
            case "-":
                let next = iterator.next()
                if next == "-" {
                    while let skipped = iterator.next(), skipped != "\n" {}
                    current.append("\n")
                } else {
                    current.append(character)
                    pending = next
                }
            case ";":
                let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !statement.isEmpty { statements.append(statement) }
                current = ""
            default:
                current.append(character)
            }
        }
        let last = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !last.isEmpty { statements.append(last) }
        return statements
    }
}
