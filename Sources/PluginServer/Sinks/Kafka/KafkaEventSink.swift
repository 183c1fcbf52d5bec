import Foundation
import Kafka
import Logging
import PostHogEvents

/// ClickHouse mode (ingestion.md §16): events as protobuf on `clickhouse_events_proto`, snapshots on
/// `clickhouse_session_recording_events`, and the ee webhook task. Enqueued, not awaited: the
/// consumer flushes the producer before it commits (at least once; a redelivery writes again).
struct KafkaEventSink: EventSink {
    let producer: KafkaBatchProducer
    let teams: TeamManager
    let webhooks: any WebhookSink
    let metrics: ServerMetrics?

    func storeEvent(_ event: IngestedEvent, messageKey: UUID?) async throws -> IngestionOutcome {
        let start = ContinuousClock.now
        let chain = event.elements.isEmpty ? "" : Elements.chain(event.elements)
        try enqueue(
            KafkaOutgoingMessage(
                topic: ClickHouseMessages.Topic.events, key: Array(event.uuid.utf8),
                value: ClickHouseMessages.eventValue(
                    uuid: event.uuid, event: event.eventName, properties: event.properties, timestamp: event.timestamp,
                    teamId: event.team.id, distinctId: event.distinctId, elementsChain: chain)),
            teamId: event.team.id, uuid: event.uuid)
        metrics?.singleSave(snapshot: false, teamId: event.team.id, seconds: (ContinuousClock.now - start).inSeconds)
        if try await teams.shouldSendWebhooks(teamId: event.team.id) {
            let payload: JSON = [
                "event": .string(event.eventName), "properties": .object(event.properties), "distinct_id": .string(event.distinctId),
                "timestamp": .string(event.timestamp.webhookString), "elements_chain": .string(chain),
            ]
            await webhooks.publishEnterpriseEventWebhook(event: payload, teamId: event.team.id, siteURL: event.siteURL)
        }
        return .stored(eventId: nil)
    }

    /// No team check and no `$session_id` requirement: ClickHouse mode produced these anyway (§12).
    func storeSessionRecording(_ recording: IngestedSessionRecording, messageKey: UUID?) async throws -> IngestionOutcome {
        let start = ContinuousClock.now
        try enqueue(
            KafkaOutgoingMessage(
                topic: ClickHouseMessages.Topic.sessionRecordingEvents, key: Array(recording.uuid.utf8),
                value: ClickHouseMessages.sessionRecordingValue(
                    uuid: recording.uuid, teamId: recording.teamId, distinctId: recording.distinctId,
                    sessionId: recording.properties["$session_id"], snapshotData: recording.properties["$snapshot_data"],
                    timestamp: recording.timestamp)),
            teamId: recording.teamId, uuid: recording.uuid)
        metrics?.singleSave(snapshot: true, teamId: recording.teamId, seconds: (ContinuousClock.now - start).inSeconds)
        return .stored(eventId: nil)
    }

    /// An event the producer would refuse for its size can never be stored: it fails for good (the
    /// consumer dead-letters it) instead of failing its batch's flush, which would process the batch
    /// again and again.
    private func enqueue(_ message: KafkaOutgoingMessage, teamId: Int, uuid: String) throws(IngestionError) {
        guard KafkaProducer.accepts(message) else {
            throw IngestionError.permanent(
                "event too large for Kafka: \(message.size) bytes on \(message.topic), the limit is \(KafkaProducer.maximumMessageBytes)",
                teamId: teamId, eventUUID: uuid)
        }
        producer.enqueue(message)
    }
}

/// Mirrors person changes to `clickhouse_person` / `clickhouse_person_unique_id` (no key), and
/// deletes merged-away persons in ClickHouse over HTTP (ingestion.md §7.4 step 6).
struct KafkaPersonMirror: PersonMirror {
    let producer: KafkaBatchProducer
    let clickHouse: ClickHouseClient?
    let logger: Logger

    func personCreated(_ person: Person) async throws {
        producer.enqueue(
            KafkaOutgoingMessage(topic: ClickHouseMessages.Topic.person, value: ClickHouseMessages.personValue(person, isCreation: true)))
    }

    func personUpdated(_ person: Person) async throws {
        producer.enqueue(
            KafkaOutgoingMessage(topic: ClickHouseMessages.Topic.person, value: ClickHouseMessages.personValue(person, isCreation: false)))
    }

    func distinctIdStored(rowId: Int, distinctId: String, person: Person) async throws {
        producer.enqueue(
            KafkaOutgoingMessage(
                topic: ClickHouseMessages.Topic.personUniqueId,
                value: ClickHouseMessages.personUniqueIdValue(rowId: rowId, distinctId: distinctId, person: person)))
    }

    /// The person is already gone from Postgres; a failed ClickHouse delete is logged, not retried
    /// (a retried event would not merge again): the person's rows then stay in ClickHouse.
    func personDeleted(_ person: Person) async throws {
        guard let clickHouse else { return }
        for query in ClickHouseClient.deletePersonQueries(uuid: person.uuid.uuidString.lowercased()) {
            do {
                try await clickHouse.query(query)
            } catch {
                logger.error(
                    "ClickHouse person deletion failed",
                    metadata: [
                        "person_uuid": "\(person.uuid)", "team_id": "\(person.teamId)", "error": .failure(error),
                    ])
                return
            }
        }
    }
}
