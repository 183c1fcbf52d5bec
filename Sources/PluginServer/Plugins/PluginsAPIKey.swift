import Foundation
import PluginRuntime
import PostHogEvents
import PostgresNIO
import Synchronization

/// The personal API key `posthog.api` sends when a plugin gives none (reference §13.3): the key of
/// PostHog's plugins bot user (`$plugins_personal_api_key`, "Plugins API User [Bot]"), made with the
/// user the first time it is needed, as the original made them. An installation that ran the original
/// keeps its bot user and key.
///
/// The original made the bot a member of the first organization that asked only, so its key
/// answered for that organization alone; here the bot joins each organization whose plugins use it,
/// as a plain member.
final class PluginsAPIKey: Sendable {
    static let botEmail = "$plugins_personal_api_key"
    /// How long a found key and the organizations it was checked for are trusted before Postgres is
    /// asked again (a key deleted in PostHog's settings is made again by then).
    static let reuseSeconds: Double = 600

    private let store: PostgresStore
    private struct Known {
        var key: String?
        var userId: Int?
        var organizations: Set<String> = []
        var checkedAt: Double = 0
    }
    private let known = Mutex(Known())
    /// The last lookup started; each waits for the one before it.
    private let pending = Mutex<Task<String, any Error>?>(nil)

    init(store: PostgresStore) { self.store = store }

    /// The bot's key, with the bot a member of the organization.
    func key(organizationId: String) async throws -> String {
        if let cached = cached(organizationId) { return cached }
        // One lookup at a time: configs calling the API together at first use would each make a key.
        let lookup = pending.withLock { pending in
            let previous = pending
            let next = Task<String, any Error> {
                _ = await previous?.result
                if let cached = self.cached(organizationId) { return cached }
                return try await self.findOrMake(organizationId: organizationId)
            }
            pending = next
            return next
        }
        return try await lookup.value
    }

    private func cached(_ organizationId: String) -> String? {
        let now = Date().timeIntervalSince1970
        return known.withLock { known -> String? in
            guard now - known.checkedAt < Self.reuseSeconds else {
                known = Known()
                return nil
            }
            return known.organizations.contains(organizationId) ? known.key : nil
        }
    }

    private func findOrMake(organizationId: String) async throws -> String {
        guard try await tableExists("posthog_personalapikey") else {
            throw PluginHostError(
                "posthog.api without keys needs PostHog's posthog_personalapikey table, which this database does not have; "
                    + "pass projectApiKey and personalApiKey")
        }
        let userId = try await botUser()
        try await store.execute(
            """
            INSERT INTO posthog_organizationmembership (id, level, joined_at, updated_at, organization_id, user_id)
            VALUES (\(UUIDT().uuid), 1, now(), now(), \(organizationId)::uuid, \(userId))
            ON CONFLICT (organization_id, user_id) DO NOTHING
            """)
        let key = try await botKey(userId: userId)
        let now = Date().timeIntervalSince1970
        known.withLock { known in
            if known.userId != userId { known = Known(userId: userId, checkedAt: now) }
            known.key = key
            known.organizations.insert(organizationId)
        }
        return key
    }

    private func tableExists(_ name: String) async throws -> Bool {
        try await store.first("SELECT to_regclass(\(name)) IS NOT NULL", as: Bool.self) ?? false
    }

    private func botUser() async throws -> Int {
        if let id = try await existingBotUser() { return id }
        let columns = try await userColumns()
        var values: [String: any PostgresEncodable & Sendable] = [
            "password": "!" + Self.randomToken(40),  // Django's mark of an unusable password: nobody logs in as the bot
            "first_name": "Plugins API User [Bot]", "last_name": "", "email": Self.botEmail,
            "is_staff": false, "is_active": true, "date_joined": Date(), "uuid": UUIDT().uuid,
            "distinct_id": Self.randomToken(32),
            // Columns PostHog's app requires but gives no database default (Django fills them).
            "events_column_config": #"{"active": "DEFAULT"}"#, "email_opt_in": false, "anonymize_data": false,
            "toolbar_mode": "toolbar",
        ]
        if let unknown = columns.required.first(where: { values[$0] == nil }) {
            throw PluginHostError(
                "posthog.api without keys: cannot make the plugins' API user, posthog_user.\(unknown) has no default; "
                    + "pass projectApiKey and personalApiKey")
        }
        values = values.filter { columns.all.contains($0.key) }
        let names = values.keys.sorted()
        var bindings = PostgresBindings()
        for name in names { try bindings.append(values[name]!) }
        let placeholders = names.indices.map { "$\($0 + 1)" + (names[$0] == "events_column_config" ? "::jsonb" : "") }
        // Column names come from the fixed list above, never from input.
        let sql = """
            INSERT INTO posthog_user (\(names.joined(separator: ", "))) VALUES (\(placeholders.joined(separator: ", ")))
            ON CONFLICT (email) DO NOTHING RETURNING id
            """
        if let id = try await store.first(PostgresQuery(unsafeSQL: sql, binds: bindings), as: Int.self) { return id }
        // Another server made it first.
        guard let id = try await existingBotUser() else { throw PluginHostError("posthog.api: could not make the plugins' API user") }
        return id
    }

    private func existingBotUser() async throws -> Int? {
        try await store.first("SELECT id FROM posthog_user WHERE email = \(Self.botEmail) ORDER BY id LIMIT 1", as: Int.self)
    }

    /// posthog_user's columns, and those a row must name (NOT NULL without a default).
    private func userColumns() async throws -> (all: Set<String>, required: [String]) {
        var all: Set<String> = []
        var required: [String] = []
        for try await (name, mustName) in try await store.query(
            """
            SELECT column_name::text, is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'
            FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'posthog_user'
            ORDER BY ordinal_position
            """
        ).decode((String, Bool).self) {
            all.insert(name)
            if mustName { required.append(name) }
        }
        return (all, required)
    }

    private func botKey(userId: Int) async throws -> String {
        let existing = try await store.first(
            "SELECT value FROM posthog_personalapikey WHERE user_id = \(userId) AND value IS NOT NULL ORDER BY created_at LIMIT 1",
            as: String.self)
        if let existing { return existing }
        let value = "phx_" + Self.randomToken(32)
        try await store.execute(
            """
            INSERT INTO posthog_personalapikey (id, user_id, label, value, created_at)
            VALUES (\(Self.randomToken(32)), \(userId), 'autogen', \(value), now())
            """)
        return value
    }

    static func randomToken(_ length: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }
}
