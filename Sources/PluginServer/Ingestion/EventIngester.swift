import Foundation
import Logging
import PostHogEvents
import PostgresNIO
import Synchronization

/// What became of an event handed to ingestion.
public enum IngestionOutcome: Sendable, Equatable {
    /// Stored as `posthog_event` row `id` (or as a session recording when `id` is nil).
    case stored(eventId: Int?)
    /// The message key was already stored: a redelivery after a crash, not stored again.
    case alreadyStored
    /// A plugin's processEvent returned nothing: the event is not stored (plugin-runtime.md §9.2).
    case droppedByPlugin
}

/// PostHog's event processing for Postgres mode, step by step as ingestion.md §4 lays it out:
/// identify/alias, snapshots, definitions, persons, elements, the event row and webhooks.
public final class EventIngester: Sendable {
    let store: PostgresStore
    let persons: PersonStore
    let teams: TeamManager
    let webhooks: any WebhookSink
    let logger: Logger
    private let seenDistinctIds: Mutex<DistinctIdCache>
    private let locks = DistinctIdLocks()
    private let eventRows: EventRowWriter

    /// `eventStatements`: multi-row event inserts running at once (the rest of the pool serves persons
    /// and definitions).
    init(
        store: PostgresStore, teams: TeamManager, webhooks: any WebhookSink, distinctIdCacheSize: Int, eventStatements: Int = 4,
        logger: Logger
    ) {
        self.store = store
        self.eventRows = EventRowWriter(
            store: store, ownSchema: SchemaMigrator.ownSchema, maximumStatements: eventStatements, logger: logger)
        self.persons = PersonStore(store: store)
        self.teams = teams
        self.webhooks = webhooks
        self.logger = logger
        self.seenDistinctIds = Mutex(DistinctIdCache(capacity: distinctIdCacheSize))
    }

    /// Ingests one flat event object. `messageKey` identifies the queue message: an event whose key
    /// was already stored is recognised and skipped (at-least-once delivery, stored once).
    public func ingest(_ event: JSONObject, messageKey: UUID?) async throws(IngestionError) -> IngestionOutcome {
        let teamId = event["team_id"]?.intValue
        let uuidValue = event["uuid"]
        let eventUUID = uuidValue?.stringValue
        do {
            // The distinct ids whose persons this event may touch (§4.1, §7.1).
            var keys = [event["team_id"]?.javaScriptString ?? "", DistinctID.string(from: event["distinct_id"]) ?? ""]
            let properties = event["properties"]?.objectValue
            for key in ["alias", "$anon_distinct_id"] {
                if let value = properties?[key], let id = DistinctID.string(from: value) { keys.append(id) }
            }
            let team = keys[0]
            let lockKeys = keys.dropFirst().map { team + "::" + $0 }
            return try await locks.withLocks(lockKeys) { try await self.process(event, messageKey: messageKey) }
        } catch let error as IngestionError {
            throw error
        } catch {
            throw IngestionError.database(error, teamId: teamId, eventUUID: eventUUID)
        }
    }

    private func process(_ data: JSONObject, messageKey: UUID?) async throws -> IngestionOutcome {
        // 1. uuid (§4.2)
        let uuidValue = data["uuid"]
        guard let uuid = uuidValue?.stringValue, UUIDT.isValidUUIDString(uuid) else {
            throw IngestionError.permanent("Not a valid UUID: \"\(uuidValue.map(\.javaScriptString) ?? "undefined")\"")
        }
        guard let teamId = data["team_id"]?.intValue else {
            throw IngestionError.permanent("Event has no integer team_id", eventUUID: uuid)
        }
        // 2. distinct_id (§4.1)
        guard let distinctId = DistinctID.string(from: data["distinct_id"]) else {
            throw IngestionError.permanent("Event has no distinct_id", teamId: teamId, eventUUID: uuid)
        }
        // 3. properties with $set / $set_once placed (§6.1)
        var properties = PersonProperties.placingSetAndSetOnce(properties: data["properties"]?.objectValue ?? JSONObject(), data: data)
        // 4. timestamp (§5)
        let nowValue = data["now"].map(TimestampResolver.unwrapTaggedDatetime)
        guard let now = nowValue?.stringValue.flatMap(EventTimestamp.parseISO8601) else {
            throw IngestionError.permanent("Event has no valid \"now\" time: \(nowValue?.jsonString ?? "undefined")", teamId: teamId, eventUUID: uuid)
        }
        // An unparsable sent_at counts as absent everywhere (ingestion.md §5.3, Bug #3).
        let sentAt = data["sent_at"].map(TimestampResolver.unwrapTaggedDatetime)?.stringValue.flatMap(EventTimestamp.parseISO8601)
        let timestamp: EventTimestamp
        do {
            timestamp = try TimestampResolver.resolve(timestamp: data["timestamp"], offset: data["offset"], now: now, sentAt: sentAt)
        } catch {
            throw IngestionError.permanent("\(error)", teamId: teamId, eventUUID: uuid)
        }

        let rawEvent = data["event"]
        // 5. identify / alias, before the team check (Quirk #15)
        if rawEvent == .string("$create_alias") {
            try await alias(previous: properties["alias"].flatMap { DistinctID.string(from: $0) }, current: distinctId, teamId: teamId)
        } else if rawEvent == .string("$identify") {
            if let anonymous = properties["$anon_distinct_id"], anonymous.isTruthy, let previous = DistinctID.string(from: anonymous) {
                try await alias(previous: previous, current: distinctId, teamId: teamId)
            }
            try await setIdentified(teamId: teamId, distinctId: distinctId)
        }

        // 6. snapshots
        if rawEvent == .string("$snapshot") {
            return try await storeSessionRecording(
                teamId: teamId, distinctId: distinctId, timestamp: timestamp, properties: properties, messageKey: messageKey)
        }

        // 7. capture
        let eventName: String
        do {
            eventName = try EventName.sanitize(rawEvent)
        } catch {
            throw IngestionError.permanent("\(error)", teamId: teamId, eventUUID: uuid)
        }
        var elements: [Element] = []
        if case .array(let items)? = properties["$elements"], !items.isEmpty {
            do {
                elements = try Elements.elements(fromProperty: items)
            } catch {
                throw IngestionError.permanent("\(error)", teamId: teamId, eventUUID: uuid)
            }
            properties.removeValue(forKey: "$elements")
        }
        guard let team = try await teams.fetchTeam(teamId) else {
            throw IngestionError.permanent("No team found with ID \(teamId). Can't ingest event.", teamId: teamId, eventUUID: uuid)
        }
        if let ip = data["ip"], ip.isTruthy, !team.anonymizeIPs, !properties.contains("$ip") {
            properties["$ip"] = ip
        }
        try await teams.updateEventNamesAndProperties(team: team, event: eventName, properties: properties)

        if try await isNewPerson(teamId: teamId, distinctId: distinctId) {
            // Capture's person creation: failures (a concurrent event won the race) are swallowed.
            do {
                _ = try await persons.createPerson(
                    createdAt: sentAt ?? EventTimestamp.now(), properties: JSONObject(), teamId: teamId, isIdentified: false,
                    uuid: UUID(uuidString: UUIDT().uuidString)!, distinctIds: [distinctId])
            } catch where !PostgresFailure.isTransient(error) {
                logger.debug("Person creation lost a race", metadata: ["team_id": "\(teamId)", "distinct_id": "\(distinctId)"])
            }
        }

        let finalProperties = PersonProperties.addingCampaignProperties(to: properties)
        if finalProperties["$set"]?.isTruthy == true || finalProperties["$set_once"]?.isTruthy == true {
            try await updatePersonProperties(
                teamId: teamId, distinctId: distinctId, set: finalProperties["$set"], setOnce: finalProperties["$set_once"])
        }

        return try await storeEvent(
            team: team, eventName: eventName, distinctId: distinctId, properties: finalProperties, timestamp: timestamp,
            elements: elements, siteURL: data["site_url"] ?? .null, messageKey: messageKey)
    }

    // MARK: Persons

    private func isNewPerson(teamId: Int, distinctId: String) async throws -> Bool {
        let key = "\(teamId)::\(distinctId)"
        let seen = seenDistinctIds.withLock { $0.checkAndRecord(key, now: .now) }
        if seen { return false }
        return try await !persons.distinctIdExists(teamId: teamId, distinctId: distinctId)
    }

    /// §7.2, with its single retry; a failure that is not a connection problem is swallowed.
    private func alias(previous: String?, current: String, teamId: Int, retry: Bool = true) async throws {
        guard let previous else { return }  // the original's attempts with an absent alias fail silently
        do {
            let old = try await persons.fetchPerson(teamId: teamId, distinctId: previous)
            let new = try await persons.fetchPerson(teamId: teamId, distinctId: current)
            switch (old, new) {
            case (let old?, nil):
                try await persons.addDistinctId(old, distinctId: current)
            case (nil, let new?):
                try await persons.addDistinctId(new, distinctId: previous)
            case (nil, nil):
                guard previous != current else { return }
                _ = try await persons.createPerson(
                    createdAt: .now(), properties: JSONObject(), teamId: teamId, isIdentified: false,
                    uuid: UUID(uuidString: UUIDT().uuidString)!, distinctIds: [current, previous])
            case (let old?, let new?) where old.id != new.id:
                try await merge(target: new, others: [old])
            default:
                return
            }
        } catch where !PostgresFailure.isTransient(error) {
            if retry {
                try await alias(previous: previous, current: current, teamId: teamId, retry: false)
            } else {
                logger.debug("Alias failed twice", metadata: ["team_id": "\(teamId)", "error": "\(error)"])
            }
        }
    }

    /// §7.4: `others` merged into `target`, then deleted.
    func merge(target: Person, others: [Person]) async throws {
        var merged = target
        for other in others {
            var properties = other.properties
            properties.merge(merged.properties)
            merged.properties = properties
            merged.createdAt = min(merged.createdAt, other.createdAt)
            try await persons.updateCreatedAtAndProperties(merged, createdAt: merged.createdAt, properties: merged.properties)
            try await persons.moveDistinctIds(from: other, to: merged)
            try await persons.moveCohortMemberships(from: other, to: merged)
            try await persons.deletePerson(other, movingLeftoversTo: merged)
        }
    }

    /// §7.3
    private func setIdentified(teamId: Int, distinctId: String) async throws {
        var person = try await persons.fetchPerson(teamId: teamId, distinctId: distinctId)
        if person == nil {
            do {
                _ = try await persons.createPerson(
                    createdAt: .now(), properties: JSONObject(), teamId: teamId, isIdentified: true,
                    uuid: UUID(uuidString: UUIDT().uuidString)!, distinctIds: [distinctId])
                return
            } catch where !PostgresFailure.isTransient(error) {
                person = try await persons.fetchPerson(teamId: teamId, distinctId: distinctId)
            }
        }
        if let person, !person.isIdentified {
            try await persons.setIdentified(person)
        }
    }

    /// §6.3
    private func updatePersonProperties(teamId: Int, distinctId: String, set: JSON?, setOnce: JSON?) async throws {
        var person = try await persons.fetchPerson(teamId: teamId, distinctId: distinctId)
        if person == nil {
            do {
                person = try await persons.createPerson(
                    createdAt: .now(), properties: set?.objectValue ?? JSONObject(), teamId: teamId, isIdentified: false,
                    uuid: UUID(uuidString: UUIDT().uuidString)!, distinctIds: [distinctId])
            } catch where !PostgresFailure.isTransient(error) {
                person = try await persons.fetchPerson(teamId: teamId, distinctId: distinctId)
            }
        }
        guard let person else {
            throw IngestionError.permanent(
                "Could not find person with distinct id \"\(distinctId)\" in team \"\(teamId)\", even after trying to insert them",
                teamId: teamId)
        }
        let updated = PersonProperties.updated(current: person.properties, set: set, setOnce: setOnce)
        if updated != person.properties {
            try await persons.updateProperties(person, properties: updated)
        }
    }

    // MARK: Rows

    /// The claim on the message key, inserted in the same statement as the row it guards.
    private func claim(_ messageKey: UUID?) -> String {
        messageKey == nil
            ? "SELECT 1"
            : "INSERT INTO \(SchemaMigrator.ownSchema).ingested_messages (key) VALUES ($1) ON CONFLICT DO NOTHING RETURNING key"
    }

    private func storeEvent(
        team: Team, eventName: String, distinctId: String, properties: JSONObject, timestamp: EventTimestamp,
        elements: [Element], siteURL: JSON, messageKey: UUID?
    ) async throws -> IngestionOutcome {
        var elementsHash = ""
        if !elements.isEmpty {
            elementsHash = Elements.hash(elements)
            try await createElementGroup(teamId: team.id, hash: elementsHash, elements: elements)
        }
        let propertiesJSON = JSON.object(properties).jsonString
        let elementsJSON = Elements.postgresElementsJSON(elements).jsonString
        if let messageKey {
            // The common path: written together with the rows of concurrent events (EventRowWriter).
            let row = EventRowWriter.Row(
                messageKey: messageKey, timestamp: timestamp.isoString, event: eventName, distinctId: distinctId,
                properties: propertiesJSON, teamId: team.id, elements: elementsJSON, elementsHash: elementsHash)
            guard let eventId = try await eventRows.write(row) else { return .alreadyStored }
            return try await stored(eventId: eventId, team: team, siteURL: siteURL)
        }
        // Without a message key (nothing to deduplicate by): one row on its own.
        var bindings = PostgresBindings()
        bindings.append(timestamp.isoString)
        bindings.append(eventName)
        bindings.append(distinctId)
        bindings.append(propertiesJSON)
        bindings.append(team.id)
        bindings.append(elementsJSON)
        bindings.append(elementsHash)
        let sql = """
            INSERT INTO posthog_event (created_at, event, distinct_id, properties, team_id, timestamp, elements, elements_hash)
            VALUES ($1::timestamptz, $2, $3, $4::jsonb, $5, $1::timestamptz, $6::jsonb, $7)
            RETURNING id
            """
        var eventId: Int?
        for try await id in try await store.query(PostgresQuery(unsafeSQL: sql, binds: bindings)).decode(Int.self) { eventId = id }
        guard let eventId else { return .alreadyStored }
        return try await stored(eventId: eventId, team: team, siteURL: siteURL)
    }

    private func stored(eventId: Int, team: Team, siteURL: JSON) async throws -> IngestionOutcome {
        if try await teams.shouldSendWebhooks(teamId: team.id) {
            await webhooks.publishEventWebhook(eventId: eventId, siteURL: siteURL)
        }
        return .stored(eventId: eventId)
    }

    /// §11.4: the group and its elements in one transaction; an existing group (23505) is kept.
    private func createElementGroup(teamId: Int, hash: String, elements: [Element]) async throws {
        let logger = store.logger
        do {
            try await store.withTransaction { connection in
                var groupId: Int?
                let rows = try await connection.query(
                    "INSERT INTO posthog_elementgroup (hash, team_id) VALUES (\(hash), \(teamId)) RETURNING id", logger: logger)
                for try await id in rows.decode(Int.self) { groupId = id }
                guard let groupId else { return }
                for (position, element) in elements.enumerated() {
                    try await connection.query(
                        """
                        INSERT INTO posthog_element (text, tag_name, href, attr_id, nth_child, nth_of_type, attributes, "order", event_id, attr_class, group_id)
                        VALUES (\(element.text), \(element.tagName), \(element.href), \(element.attrId), \(element.nthChild?.intValue),
                                \(element.nthOfType?.intValue), \(JSON.object(element.attributes ?? JSONObject()).jsonString)::jsonb,
                                \(position), NULL, \(element.attrClass), \(groupId))
                        """, logger: logger
                    ).consume()
                }
            }
        } catch where PostgresFailure.isUniqueViolation(error) {
            // The team already has this chain: its rows are those of the first event with it.
        }
    }

    private func storeSessionRecording(
        teamId: Int, distinctId: String, timestamp: EventTimestamp, properties: JSONObject, messageKey: UUID?
    ) async throws -> IngestionOutcome {
        guard let sessionId = properties["$session_id"].map(\.javaScriptString) else {
            throw IngestionError.permanent("$snapshot event has no $session_id", teamId: teamId)
        }
        var bindings = PostgresBindings()
        if let messageKey { bindings.append(messageKey) } else { bindings.append(0) }
        bindings.append(timestamp.isoString)
        bindings.append(teamId)
        bindings.append(distinctId)
        bindings.append(sessionId)
        bindings.append((properties["$snapshot_data"] ?? .null).jsonString)
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

/// Where webhook Celery tasks go (the Celery default queue in Redis).
protocol WebhookSink: Sendable {
    func publishEventWebhook(eventId: Int, siteURL: JSON) async
}
