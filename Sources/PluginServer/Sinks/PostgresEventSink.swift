import Foundation
import PostHogEvents
import PostgresNIO
import Synchronization

/// Postgres mode (ingestion.md §15, §11.4, §12): `posthog_event` with its element group,
/// `posthog_sessionrecordingevent`, and the webhook task by event row id. The message key is
/// claimed in the statement that inserts the row, so a redelivered message is stored once.
struct PostgresEventSink: EventSink {
    let store: PostgresStore
    let teams: TeamManager
    let webhooks: any WebhookSink
    /// Rows with a message key go in multi-row statements with the rows of concurrent events.
    let eventRows: EventRowWriter
    /// The element groups (team and hash) known to exist, so that their events skip the transaction.
    let knownElementGroups = KnownElementGroups()

    /// The claim on the message key, inserted in the same statement as the row it guards.
    private func claim(_ messageKey: UUID?) -> String {
        messageKey == nil
            ? "SELECT 1"
            : "INSERT INTO \(SchemaMigrator.ownSchema).ingested_messages (key) VALUES ($1) ON CONFLICT DO NOTHING RETURNING key"
    }

    func storeEvent(_ event: IngestedEvent, messageKey: UUID?) async throws -> IngestionOutcome {
        var elementsHash = ""
        if !event.elements.isEmpty {
            elementsHash = Elements.hash(event.elements)
            try await createElementGroup(teamId: event.team.id, hash: elementsHash, elements: event.elements)
        }
        let propertiesJSON = JSON.object(event.properties).jsonString
        let elementsJSON = Elements.postgresElementsJSON(event.elements).jsonString
        let eventId: Int
        if let messageKey {
            let row = EventRowWriter.Row(
                messageKey: messageKey, timestamp: event.timestamp.isoString, event: event.eventName, distinctId: event.distinctId,
                properties: propertiesJSON, teamId: event.team.id, elements: elementsJSON, elementsHash: elementsHash)
            guard let id = try await eventRows.write(row) else { return .alreadyStored }
            eventId = id
        } else {
            // Without a message key (nothing to deduplicate by): one row on its own.
            var inserted: Int?
            let rows = try await store.write(
                """
                INSERT INTO posthog_event (created_at, event, distinct_id, properties, team_id, timestamp, elements, elements_hash)
                VALUES (\(event.timestamp.isoString)::timestamptz, \(event.eventName), \(event.distinctId), \(propertiesJSON)::jsonb,
                        \(event.team.id), \(event.timestamp.isoString)::timestamptz, \(elementsJSON)::jsonb, \(elementsHash))
                RETURNING id
                """)
            for row in rows { inserted = try row.decode(Int.self) }
            guard let inserted else { return .alreadyStored }
            eventId = inserted
        }
        if try await teams.shouldSendWebhooks(teamId: event.team.id) {
            await webhooks.publishEventWebhook(eventId: eventId, siteURL: event.siteURL)
        }
        return .stored(eventId: eventId)
    }

    /// §11.4: the group and its elements in one transaction, once per team and chain. The original
    /// sent every event with elements through the transaction, which failed on the unique hash for all
    /// but the first (an error in Postgres' log per autocapture event), and one INSERT per element.
    /// Here a group known to exist costs nothing, a new one is claimed with `ON CONFLICT DO NOTHING`
    /// (a concurrent claim waits for the first to commit, then finds it), and its elements go in one
    /// statement. The rows stored are the original's.
    private func createElementGroup(teamId: Int, hash: String, elements: [Element]) async throws {
        let key = "\(teamId):\(hash)"
        if knownElementGroups.contains(key) { return }
        let logger = store.logger
        try await store.withTransaction { connection in
            var groupId: Int?
            let rows = try await connection.query(
                "INSERT INTO posthog_elementgroup (hash, team_id) VALUES (\(hash), \(teamId)) ON CONFLICT DO NOTHING RETURNING id",
                logger: logger)
            for try await id in rows.decode(Int.self) { groupId = id }
            guard let groupId else { return }  // the team already has this chain, with the first event's rows
            try await connection.query(
                """
                INSERT INTO posthog_element (text, tag_name, href, attr_id, nth_child, nth_of_type, attributes, "order", event_id, attr_class, group_id)
                SELECT e->>'text', e->>'tag_name', e->>'href', e->>'attr_id', (e->>'nth_child')::int, (e->>'nth_of_type')::int,
                       e->'attributes', (position - 1)::int, NULL,
                       CASE WHEN jsonb_typeof(e->'attr_class') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(e->'attr_class')) END,
                       \(groupId)
                FROM jsonb_array_elements(\(Self.elementRows(elements))::jsonb) WITH ORDINALITY AS chain (e, position)
                """, logger: logger
            ).consume()
        }
        knownElementGroups.record(key)
    }

    /// The elements' rows as one JSON array, in chain order, for a single `INSERT` whatever their
    /// number. Values longer than their columns are cut to them: one such value failed the whole event.
    static func elementRows(_ elements: [Element]) -> String {
        JSON.array(
            elements.map { element in
                [
                    "text": element.text.map(JSON.string) ?? .null,
                    "tag_name": element.tagName.map { JSON.string(PostgresVarchar.cut($0, to: 1000)) } ?? .null,
                    "href": element.href.map(JSON.string) ?? .null,
                    "attr_id": element.attrId.map { JSON.string(PostgresVarchar.cut($0, to: 10000)) } ?? .null,
                    "nth_child": element.nthChild?.intValue.map { JSON.number(Double($0)) } ?? .null,
                    "nth_of_type": element.nthOfType?.intValue.map { JSON.number(Double($0)) } ?? .null,
                    "attributes": .object(element.attributes ?? JSONObject()),
                    "attr_class": element.attrClass.map { JSON.array($0.map { JSON.string(PostgresVarchar.cut($0, to: 200)) }) } ?? .null,
                ]
            }
        ).jsonString
    }

    func storeSessionRecording(_ recording: IngestedSessionRecording, messageKey: UUID?) async throws -> IngestionOutcome {
        guard let sessionId = recording.properties["$session_id"].map(\.javaScriptString) else {
            throw IngestionError.permanent("$snapshot event has no $session_id", teamId: recording.teamId)
        }
        // Named here: the database's refusal would name the first line of the statement instead.
        for (name, value) in [("$session_id", sessionId), ("distinct_id", recording.distinctId)] where !PostgresVarchar.fits(value, 200) {
            throw IngestionError.permanent(
                "$snapshot event's \(name) is longer than the 200 characters it is stored in", teamId: recording.teamId)
        }
        var bindings = PostgresBindings()
        if let messageKey { bindings.append(messageKey) } else { bindings.append(0) }
        bindings.append(recording.timestamp.isoString)
        bindings.append(recording.teamId)
        bindings.append(recording.distinctId)
        bindings.append(sessionId)
        bindings.append((recording.properties["$snapshot_data"] ?? .null).jsonString)
        let sql = """
            WITH claimed AS (\(claim(messageKey)))
            INSERT INTO posthog_sessionrecordingevent (created_at, team_id, distinct_id, session_id, timestamp, snapshot_data)
            SELECT $2::timestamptz, $3, $4, $5, $2::timestamptz, $6::jsonb
            WHERE EXISTS (SELECT 1 FROM claimed) \(messageKey == nil ? "AND $1::int IS NOT NULL" : "")
            RETURNING id
            """
        let stored = try await !store.write(PostgresQuery(unsafeSQL: sql, binds: bindings)).isEmpty
        return stored ? .stored(eventId: nil) : .alreadyStored
    }
}

/// The element groups stored or found, remembered as "team:hash" (at most 10,000, each for a day:
/// groups are never removed while their team exists).
final class KnownElementGroups: Sendable {
    private let keys = Mutex(RecentKeys(capacity: 10_000, maximumAge: .seconds(86_400)))

    func contains(_ key: String) -> Bool { keys.withLock { $0.contains(key, now: .now) } }
    func record(_ key: String) { keys.withLock { $0.record(key, now: .now) } }
}
