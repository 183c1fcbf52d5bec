import Foundation
import PostHogEvents

/// A fresh PostHog database per test, cloned from a template that `plugin-server migrate --seed`
/// prepared once (PostHog's tables, the server's own table, organization and team 2).
struct TestDatabase: Sendable {
    let name: String
    let url: String
    let adminURL: String

    /// TEST_DATABASE_TEMPLATE lets two checkouts run their tests against one Postgres at once.
    static let templateName = ProcessInfo.processInfo.environment["TEST_DATABASE_TEMPLATE"] ?? "posthog_test_template"

    static func create(adminURL: String = TestEnvironment.adminPostgresURL) async throws -> TestDatabase {
        try await TemplatePreparation.shared.prepare(adminURL: adminURL)
        let name = TestEnvironment.uniqueName("t")
        try await TemplatePreparation.shared.createDatabase(name, adminURL: adminURL)
        return TestDatabase(name: name, url: Self.url(adminURL, database: name), adminURL: adminURL)
    }

    static func url(_ adminURL: String, database: String) -> String {
        var components = URLComponents(string: adminURL)!
        components.path = "/" + database
        return components.string!
    }

    /// Rows of `sql` as JSON objects (via psql and json_agg), in the query's order.
    func rows(_ sql: String) throws -> [JSON] {
        let isWrite = ["INSERT", "UPDATE", "DELETE"].contains {
            sql.trimmingCharacters(in: .whitespacesAndNewlines).uppercased().hasPrefix($0)
        }
        let wrapped =
            isWrite
            ? "WITH q AS (\(sql)) SELECT coalesce(json_agg(q), '[]'::json) FROM q"
            : "SELECT coalesce(json_agg(q), '[]'::json) FROM (\(sql)) q"
        let output = try runCommand("psql", [url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", wrapped])
        return try JSON(parsing: output.trimmingCharacters(in: .whitespacesAndNewlines)).arrayValue ?? []
    }

    func scalar(_ sql: String) throws -> JSON? {
        try rows(sql).first?.objectValue?.entries.first?.value
    }

    func count(_ table: String, where condition: String = "true") throws -> Int {
        try scalar("SELECT count(*) AS n FROM \(table) WHERE \(condition)")?.intValue ?? -1
    }

    func execute(_ sql: String) throws {
        try runCommand("psql", [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
    }

    /// Another team, `TEAM <id>` with the token `TOKEN FOR TEAM <id>`, in `organization` (the seed's
    /// by default), as PostHog creates one.
    func insertTeam(_ id: Int, organization: String = "ca30f2ec-e9a4-4001-bf27-3ef194086068") throws {
        try execute(
            """
            INSERT INTO posthog_team (id, organization_id, app_urls, name, event_names, event_names_with_usage, event_properties,
                event_properties_with_usage, event_properties_numerical, created_at, updated_at, anonymize_ips, completed_snippet_onboarding,
                ingested_event, uuid, session_recording_opt_in, plugins_opt_in, opt_out_capture, is_demo, api_token, test_account_filters,
                timezone, data_attributes)
            VALUES (\(id), '\(organization)', '{}', 'TEAM \(id)', '[]', '[]', '[]', '[]', '[]', now(), now(), false, true, true,
                '0179a6a4-1f2c-0000-7d3e-4b1e2c9f0a0\(id % 10)', true, false, false, false, 'TOKEN FOR TEAM \(id)', '[]', 'UTC', '["data-attr"]')
            """)
    }

    func drop() {
        _ = try? runCommand("psql", [adminURL, "-X", "-q", "-c", "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"])
    }
}

/// Prepares the template once per test process and serialises database creation (CREATE DATABASE
/// from a template cannot run while another copy is being made).
actor TemplatePreparation {
    static let shared = TemplatePreparation()
    private var prepared: Set<String> = []

    func prepare(adminURL: String) throws {
        guard !prepared.contains(adminURL) else { return }
        let template = TestDatabase.templateName
        let exists = try runCommand("psql", [adminURL, "-X", "-tA", "-c", "SELECT 1 FROM pg_database WHERE datname = '\(template)'"])
        if !exists.contains("1") {
            try runCommand("psql", [adminURL, "-X", "-q", "-c", "CREATE DATABASE \(template)"])
        }
        // Rebuilt at every test run so the template always matches the current schema code.
        let templateURL = TestDatabase.url(adminURL, database: template)
        try runCommand(
            "psql",
            [
                templateURL, "-X", "-q", "-c",
                "DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP SCHEMA IF EXISTS posthog_plugin_server CASCADE",
            ])
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = templateURL
        environment["LOG_LEVEL"] = "warn"
        try runCommand(TestEnvironment.serverBinary.path, ["migrate", "--seed"], environment: environment)
        prepared.insert(adminURL)
    }

    func createDatabase(_ name: String, adminURL: String) throws {
        try runCommand("psql", [adminURL, "-X", "-q", "-c", "CREATE DATABASE \(name) TEMPLATE \(TestDatabase.templateName)"])
    }
}
