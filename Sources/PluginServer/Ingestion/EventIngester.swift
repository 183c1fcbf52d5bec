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

/// PostHog's event processing, step by step as ingestion.md §4 lays it out: identify/alias,
/// snapshots, definitions, persons, elements, then the event written by the sink (Postgres rows, or
/// Kafka messages for ClickHouse) with its webhook.
public final class EventIngester: Sendable {
    let store: PostgresStore
    let persons: PersonStore
    let personCreations: PersonCreationBatcher
    let teams: TeamManager
    let sink: any EventSink
    let logger: Logger
    private let seenDistinctIds: Mutex<RecentKeys>
    private let locks = DistinctIdLocks()

    /// 0001-01-01T00:00:00.000Z through 9999-12-31T23:59:59.999Z, in milliseconds since 1970.
    static let storableTimestamps: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

    /// `sink` defaults to Postgres mode, with `eventStatements` multi-row event inserts running at once
    /// (the rest of the pool serves persons and definitions); `personMirror` is told of every person
    /// change (Kafka mode).
    init(
        store: PostgresStore, teams: TeamManager, webhooks: any WebhookSink, distinctIdCacheSize: Int, logger: Logger,
        sink: (any EventSink)? = nil, personMirror: (any PersonMirror)? = nil, eventStatements: Int = 4
    ) {
        self.store = store
        self.persons = PersonStore(store: store, mirror: personMirror)
        self.personCreations = PersonCreationBatcher(persons: persons)
        self.teams = teams
        self.sink =
            sink
            ?? PostgresEventSink(
                store: store, teams: teams, webhooks: webhooks,
                eventRows: EventRowWriter(
                    store: store, ownSchema: SchemaMigrator.ownSchema, maximumStatements: eventStatements, logger: logger))
        self.logger = logger
        self.seenDistinctIds = Mutex(RecentKeys(capacity: distinctIdCacheSize))
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
            throw IngestionError.permanent(
                "Event has no valid \"now\" time: \(nowValue?.jsonString ?? "undefined")", teamId: teamId, eventUUID: uuid)
        }
        // An unparsable sent_at counts as absent everywhere (ingestion.md §5.3, Bug #3).
        let sentAt = data["sent_at"].map(TimestampResolver.unwrapTaggedDatetime)?.stringValue.flatMap(EventTimestamp.parseISO8601)
        let timestamp: EventTimestamp
        do {
            timestamp = try TimestampResolver.resolve(timestamp: data["timestamp"], offset: data["offset"], now: now, sentAt: sentAt)
        } catch {
            throw IngestionError.permanent("\(error)", teamId: teamId, eventUUID: uuid)
        }
        // A JavaScript date the database cannot store (its text has a year of 0 or of six digits) is
        // refused here, before any person is made for it; the original failed at the insert.
        guard Self.storableTimestamps.contains(timestamp.millisecondsSince1970) else {
            throw IngestionError.permanent(
                "Event timestamp \(timestamp.isoString) is outside the years 1 to 9999 that can be stored", teamId: teamId, eventUUID: uuid)
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
            return try await sink.storeSessionRecording(
                IngestedSessionRecording(uuid: uuid, teamId: teamId, distinctId: distinctId, timestamp: timestamp, properties: properties),
                messageKey: messageKey)
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

        try await createPersonIfNew(teamId: teamId, distinctId: distinctId, sentAt: sentAt)

        let finalProperties = PersonProperties.addingCampaignProperties(to: properties)
        if finalProperties["$set"]?.isTruthy == true || finalProperties["$set_once"]?.isTruthy == true {
            try await updatePersonProperties(
                teamId: teamId, distinctId: distinctId, set: finalProperties["$set"], setOnce: finalProperties["$set_once"])
        }

        return try await sink.storeEvent(
            IngestedEvent(
                uuid: uuid, team: team, eventName: eventName, distinctId: distinctId, properties: finalProperties, timestamp: timestamp,
                elements: elements, siteURL: data["site_url"] ?? .null),
            messageKey: messageKey)
    }

    // MARK: Persons

    /// Capture's person creation for a distinct id not seen lately: the existence check and the
    /// insert in one statement, shared with the other events creating persons at the same time
    /// (`PersonCreationBatcher`), rather than a check, then a four-statement transaction, per event.
    /// A failure that is not a connection problem (a concurrent event won the race) is swallowed.
    private func createPersonIfNew(teamId: Int, distinctId: String, sentAt: EventTimestamp?) async throws {
        let key = "\(teamId)::\(distinctId)"
        let seen = seenDistinctIds.withLock { $0.checkAndRecord(key, now: .now) }
        if seen { return }
        do {
            _ = try await personCreations.createIfAbsent(
                PersonStore.NewPerson(
                    teamId: teamId, distinctId: distinctId, uuid: UUIDT().uuid,
                    createdAt: sentAt ?? EventTimestamp.now()))
        } catch  where !PostgresFailure.isTransient(error) {
            logger.debug("Person creation lost a race", metadata: ["team_id": "\(teamId)", "distinct_id": "\(distinctId)"])
        }
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
                    uuid: UUIDT().uuid, distinctIds: [current, previous])
            case (let old?, let new?) where old.id != new.id:
                try await merge(target: new, others: [old])
            default:
                return
            }
        } catch  where !PostgresFailure.isTransient(error) {
            if retry {
                try await alias(previous: previous, current: current, teamId: teamId, retry: false)
            } else {
                logger.debug("Alias failed twice", metadata: ["team_id": "\(teamId)", "error": .failure(error)])
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
                    uuid: UUIDT().uuid, distinctIds: [distinctId])
                return
            } catch  where !PostgresFailure.isTransient(error) {
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
                    uuid: UUIDT().uuid, distinctIds: [distinctId])
            } catch  where !PostgresFailure.isTransient(error) {
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

}

/// Where webhook Celery tasks go (the Celery default queue in Redis).
protocol WebhookSink: Sendable {
    func publishEventWebhook(eventId: Int, siteURL: JSON) async
    /// ClickHouse mode's task (ingestion.md §14.3): the event itself rather than a row id.
    func publishEnterpriseEventWebhook(event: JSON, teamId: Int, siteURL: JSON) async
}

extension WebhookSink {
    func publishEnterpriseEventWebhook(event: JSON, teamId: Int, siteURL: JSON) async {}
}
