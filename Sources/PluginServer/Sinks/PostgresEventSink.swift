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
            let rows = try await store.query(
                """
                INSERT INTO posthog_event (created_at, event, distinct_id, properties, team_id, timestamp, elements, elements_hash)
                VALUES (\(event.timestamp.isoString)::timestamptz, \(event.eventName), \(event.distinctId), \(propertiesJSON)::jsonb,
                        \(event.team.id), \(event.timestamp.isoString)::timestamptz, \(elementsJSON)::jsonb, \(elementsHash))
                RETURNING id
                """)
            for try await id in rows.decode(Int.self) { inserted = id }
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
    /// (a concurrent claim waits for the first to commit, then finds it), and its elements go in
    /// multi-row statements. The rows stored are the original's.
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
            var start = 0
            while start < elements.count {
                let end = min(start + Self.elementsPerStatement, elements.count)
                try await connection.query(Self.elementRows(elements[start..<end], groupId: groupId), logger: logger).consume()
                start = end
            }
        }
        knownElementGroups.record(key)
    }

    static let elementsPerStatement = 1_000

    /// One `INSERT` of the elements' rows; `order` is the position in the whole chain. Values longer
    /// than their columns are cut to them: one such value failed the whole event.
    static func elementRows(_ elements: ArraySlice<Element>, groupId: Int) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: 1 + 9 * elements.count)
        bindings.append(groupId)
        var values: [String] = []
        values.reserveCapacity(elements.count)
        for (position, element) in zip(elements.indices, elements) {
            let first = bindings.count + 1
            bindings.append(element.text)
            bindings.append(element.tagName.map { PostgresVarchar.cut($0, to: 1000) })
            bindings.append(element.href)
            bindings.append(element.attrId.map { PostgresVarchar.cut($0, to: 10000) })
            bindings.append(element.nthChild?.intValue)
            bindings.append(element.nthOfType?.intValue)
            bindings.append(JSON.object(element.attributes ?? JSONObject()).jsonString)
            bindings.append(position)
            bindings.append(element.attrClass?.map { PostgresVarchar.cut($0, to: 200) })
            let p = (first..<first + 9).map { "$\($0)" }
            values.append("(\(p[0]), \(p[1]), \(p[2]), \(p[3]), \(p[4]), \(p[5]), \(p[6])::jsonb, \(p[7]), NULL, \(p[8]), $1)")
        }
        let sql = """
            INSERT INTO posthog_element (text, tag_name, href, attr_id, nth_child, nth_of_type, attributes, "order", event_id, attr_class, group_id)
            VALUES \(values.joined(separator: ", "))
            """
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    func storeSessionRecording(_ recording: IngestedSessionRecording, messageKey: UUID?) async throws -> IngestionOutcome {
        guard let sessionId = recording.properties["$session_id"].map(\.javaScriptString) else {
            throw IngestionError.permanent("$snapshot event has no $session_id", teamId: recording.teamId)
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
        var stored = false
        for try await _ in try await store.query(PostgresQuery(unsafeSQL: sql, binds: bindings)).decode(Int.self) { stored = true }
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
