import Foundation
import PostHogEvents

/// An event ready to be written, after persons, definitions and properties (ingestion.md §4 step 9).
struct IngestedEvent: Sendable {
    var uuid: String
    var team: Team
    var eventName: String
    var distinctId: String
    var properties: JSONObject
    var timestamp: EventTimestamp
    var elements: [Element]
    var siteURL: JSON
}

/// A `$snapshot` event ready to be written (ingestion.md §12).
struct IngestedSessionRecording: Sendable {
    var uuid: String
    var teamId: Int
    var distinctId: String
    var timestamp: EventTimestamp
    var properties: JSONObject
}

/// Where ingestion writes events (ingestion.md §1): `posthog_event` rows in Postgres mode, Kafka
/// messages for ClickHouse with KAFKA_ENABLED. Persons stay in Postgres either way.
protocol EventSink: Sendable {
    /// Writes the event and sends its webhook task when the team has hooks.
    func storeEvent(_ event: IngestedEvent, messageKey: UUID?) async throws -> IngestionOutcome
    func storeSessionRecording(_ recording: IngestedSessionRecording, messageKey: UUID?) async throws -> IngestionOutcome
}

/// Told of every change to persons and distinct ids, after it is stored in Postgres: the Kafka
/// mirror for ClickHouse (ingestion.md §16.3, §16.4, §7.4 step 6).
protocol PersonMirror: Sendable {
    func personCreated(_ person: Person) async throws
    func personUpdated(_ person: Person) async throws
    func distinctIdStored(rowId: Int, distinctId: String, person: Person) async throws
    func personDeleted(_ person: Person) async throws
}
