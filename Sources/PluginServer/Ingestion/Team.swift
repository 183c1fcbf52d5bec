import Foundation
import Logging
import PostHogEvents
import PostgresNIO

/// The fields of `posthog_team` ingestion uses (postgres-schema.md).
public struct Team: Sendable, Equatable {
    public var id: Int
    public var uuid: UUID
    public var organizationId: UUID
    public var name: String
    public var anonymizeIPs: Bool
    public var ingestedEvent: Bool
    public var slackIncomingWebhook: String?
    public var apiToken: String
}

/// Teams, their event and property definitions, and whether they have webhooks, cached as the
/// original did (ingestion.md §13, §14): found teams for 30 s, definitions for the process lifetime,
/// at most `definitionNamesPerTeam` names of each kind per team (the original kept every name a client
/// ever sent: endless new property names grew the process without bound).
actor TeamManager {
    private let store: PostgresStore
    private let logger: Logger
    private let now: @Sendable () -> ContinuousClock.Instant
    private var teams: [Int: (team: Team, fetchedAt: ContinuousClock.Instant)] = [:]
    private var webhooks: [Int: (value: Bool, fetchedAt: ContinuousClock.Instant)] = [:]
    private var eventDefinitions: [Int: Set<String>] = [:]
    private var propertyDefinitions: [Int: Set<String>] = [:]
    // Work under way, shared by the events that need it meanwhile: the events in flight when a cache
    // is cold (at start, or when a team's entry expires) would otherwise each send the same query,
    // hundreds at once, and insert the same definitions and flip the same flag as many times.
    private let teamFetches = SharedWork<Team?>()
    private let definitionLoads = SharedWork<Void>()
    private let webhookChecks = SharedWork<Bool>()
    private var eventNamesBeingInserted: [Int: Set<String>] = [:]
    private var propertyNamesBeingInserted: [Int: Set<String>] = [:]
    private var ingestedEventBeingSet: Set<Int> = []
    /// Queries made for teams, definitions and hooks, and definition inserts (for tests).
    private(set) var teamQueries = 0
    private(set) var hookQueries = 0
    private(set) var definitionQueries = 0
    private(set) var definitionInserts = 0
    private(set) var ingestedEventUpdates = 0
    /// Names cached per team and kind. A team past it starts an empty set: names no longer cached
    /// are inserted again when next seen, which `ON CONFLICT DO NOTHING` makes harmless.
    let definitionNamesPerTeam: Int
    static let cacheTTL: Duration = .seconds(30)

    init(
        store: PostgresStore, logger: Logger, definitionNamesPerTeam: Int = 50_000,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.store = store
        self.logger = logger
        self.definitionNamesPerTeam = definitionNamesPerTeam
        self.now = now
    }

    func fetchTeam(_ id: Int) async throws -> Team? {
        if let cached = teams[id], now() - cached.fetchedAt <= Self.cacheTTL { return cached.team }
        return try await teamFetches.result(forTeam: id) { try await self.queryTeam(id) }
    }

    private func queryTeam(_ id: Int) async throws -> Team? {
        teamQueries += 1
        let rows = try await store.query(
            """
            SELECT id, uuid, organization_id, name, anonymize_ips, ingested_event, slack_incoming_webhook, api_token
            FROM posthog_team WHERE id = \(id)
            """, function: "fetchTeam")
        for try await (id, uuid, organizationId, name, anonymize, ingested, slack, token) in rows.decode(
            (Int, UUID, UUID, String?, Bool, Bool, String?, String?).self)
        {
            let team = Team(
                id: id, uuid: uuid, organizationId: organizationId, name: name ?? "", anonymizeIPs: anonymize,
                ingestedEvent: ingested, slackIncomingWebhook: slack, apiToken: token ?? "")
            teams[id] = (team, now())
            return team
        }
        teams[id] = nil
        return nil
    }

    /// Inserts definitions first seen here, then flips `ingested_event` once (§13, §14.2; the
    /// original repeated the flip for 30 s, Bug #11). New property names go in one statement per
    /// `definitionsPerStatement` (the original sent one INSERT per name: an event with 100,000
    /// properties took minutes). A name longer than the column's 400 characters gets no definition
    /// (the original failed the event on it).
    func updateEventNamesAndProperties(team: Team, event: String, properties: JSONObject) async throws {
        try await loadDefinitionsIfNeeded(teamId: team.id)
        if eventDefinitions[team.id]?.contains(event) == false, eventNamesBeingInserted[team.id]?.contains(event) != true,
            Self.fitsDefinition(event)
        {
            // Not remembered until inserted: should the insert fail, the next event with the name tries again.
            eventNamesBeingInserted[team.id, default: []].insert(event)
            defer { eventNamesBeingInserted[team.id]?.remove(event) }
            definitionInserts += 1
            // In a transaction of its own: the team's foreign key is checked at commit (see `write`).
            _ = try await store.write(
                """
                INSERT INTO posthog_eventdefinition (id, name, volume_30_day, query_usage_30_day, team_id)
                VALUES (\(UUIDT().uuid), \(event), NULL, NULL, \(team.id))
                ON CONFLICT DO NOTHING
                """)
            remember([event], in: &eventDefinitions, teamId: team.id)
        }
        // The cached set is let go of before `remember` changes it, which would otherwise copy it.
        let new = { (known: Set<String>, underway: Set<String>) in
            properties.filter { !known.contains($0.key) && !underway.contains($0.key) && Self.fitsDefinition($0.key) }
        }(propertyDefinitions[team.id] ?? [], propertyNamesBeingInserted[team.id] ?? [])
        var start = 0
        while start < new.count {
            let part = new[start..<min(start + Self.definitionsPerStatement, new.count)]
            let ids = part.map { _ in UUIDT().uuid }
            let names = part.map(\.key)
            let numerical = part.map { PropertyDefinitions.isNumerical($0.value) }
            propertyNamesBeingInserted[team.id, default: []].formUnion(names)
            defer { propertyNamesBeingInserted[team.id]?.subtract(names) }
            definitionInserts += 1
            _ = try await store.write(
                """
                INSERT INTO posthog_propertydefinition (id, name, is_numerical, volume_30_day, query_usage_30_day, team_id)
                SELECT id, name, is_numerical, NULL, NULL, \(team.id)
                FROM unnest(\(ids)::uuid[], \(names)::text[], \(numerical)::bool[]) AS definition (id, name, is_numerical)
                ON CONFLICT DO NOTHING
                """)
            remember(names, in: &propertyDefinitions, teamId: team.id)
            start += part.count
        }
        if !team.ingestedEvent, teams[team.id]?.team.ingestedEvent != true, !ingestedEventBeingSet.contains(team.id) {
            ingestedEventBeingSet.insert(team.id)
            defer { ingestedEventBeingSet.remove(team.id) }
            ingestedEventUpdates += 1
            try await store.execute("UPDATE posthog_team SET ingested_event = true WHERE id = \(team.id)")
            if var cached = teams[team.id] {
                cached.team.ingestedEvent = true
                teams[team.id] = cached
            }
            // The original sent "first team event ingested" telemetry to PostHog's cloud here; this
            // server sends nothing off the machine (ingestion.md §14.2 allows a no-op).
            logger.info("First event ingested for team", metadata: ["team_id": "\(team.id)"])
        }
    }

    static let definitionsPerStatement = 5_000

    private func remember(_ names: [String], in cache: inout [Int: Set<String>], teamId: Int) {
        guard names.count <= definitionNamesPerTeam else {
            cache[teamId] = Set(names.suffix(definitionNamesPerTeam))
            return
        }
        if let count = cache[teamId]?.count, count + names.count > definitionNamesPerTeam {
            cache[teamId] = []
        }
        cache[teamId, default: []].formUnion(names)
    }

    /// How many names of each kind are cached for the team (for tests).
    func cachedDefinitionCounts(teamId: Int) -> (events: Int, properties: Int) {
        (eventDefinitions[teamId]?.count ?? 0, propertyDefinitions[teamId]?.count ?? 0)
    }

    /// `posthog_eventdefinition.name` and `posthog_propertydefinition.name` are `varchar(400)`.
    static func fitsDefinition(_ name: String) -> Bool { PostgresVarchar.fits(name, 400) }

    private func loadDefinitionsIfNeeded(teamId: Int) async throws {
        guard eventDefinitions[teamId] == nil || propertyDefinitions[teamId] == nil else { return }
        try await definitionLoads.result(forTeam: teamId) { try await self.loadDefinitions(teamId: teamId) }
    }

    private func loadDefinitions(teamId: Int) async throws {
        if eventDefinitions[teamId] == nil {
            definitionQueries += 1
            var names = Set<String>()
            for try await name in try await store.query(
                "SELECT name FROM posthog_eventdefinition WHERE team_id = \(teamId) LIMIT \(definitionNamesPerTeam)",
                function: "loadDefinitionsIfNeeded"
            )
            .decode(String.self) {
                names.insert(name)
            }
            eventDefinitions[teamId] = names
        }
        if propertyDefinitions[teamId] == nil {
            definitionQueries += 1
            var names = Set<String>()
            for try await name in try await store.query(
                "SELECT name FROM posthog_propertydefinition WHERE team_id = \(teamId) LIMIT \(definitionNamesPerTeam)",
                function: "loadDefinitionsIfNeeded"
            )
            .decode(String.self) {
                names.insert(name)
            }
            propertyDefinitions[teamId] = names
        }
    }

    /// Whether events of the team go to webhooks (§14.3), cached 30 s including `false`.
    func shouldSendWebhooks(teamId: Int) async throws -> Bool {
        if let cached = webhooks[teamId], now() - cached.fetchedAt <= Self.cacheTTL { return cached.value }
        return try await webhookChecks.result(forTeam: teamId) { try await self.checkWebhooks(teamId: teamId) }
    }

    private func checkWebhooks(teamId: Int) async throws -> Bool {
        var value = false
        if let team = try await fetchTeam(teamId) {
            if let slack = team.slackIncomingWebhook, !slack.isEmpty {
                value = true
            } else {
                do {
                    hookQueries += 1
                    let rows = try await store.query(
                        "SELECT COUNT(*) FROM ee_hook WHERE team_id = \(teamId) AND event = 'action_performed' LIMIT 1",
                        function: "shouldSendWebhooks")
                    for try await count in rows.decode(Int.self) { value = count > 0 }
                } catch  where PostgresFailure.sqlState(error) == "42P01" {
                    value = false  // relation "ee_hook" does not exist: a FOSS install without hooks
                }
            }
        }
        webhooks[teamId] = (value, now())
        return value
    }
}
