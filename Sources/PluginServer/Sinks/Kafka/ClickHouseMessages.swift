import Foundation
import PostHogEvents
import SwiftProtobuf

/// The values PostHog's ClickHouse tables read from Kafka (wire-formats.md §3.3, ingestion.md §16):
/// JSON in `JSON.stringify` style with keys in the listed order, and the length-delimited protobuf
/// event. Pure, so every format is tested without a broker.
enum ClickHouseMessages {
    enum Topic {
        static let events = "clickhouse_events_proto"
        static let sessionRecordingEvents = "clickhouse_session_recording_events"
        static let person = "clickhouse_person"
        static let personUniqueId = "clickhouse_person_unique_id"
        static let pluginLogEntries = "plugin_log_entries"
    }

    /// §3.3.1: a varint byte length, then the `Event` message.
    static func eventValue(
        uuid: String, event: String, properties: JSONObject, timestamp: EventTimestamp, teamId: Int, distinctId: String,
        elementsChain: String
    ) -> [UInt8] {
        var message = ClickHouseEvent()
        message.uuid = uuid
        message.event = event
        message.properties = JSON.object(properties).jsonString
        message.timestamp = timestamp.clickHouseString
        message.teamID = UInt64(max(0, teamId))
        message.distinctID = distinctId
        message.createdAt = timestamp.clickHouseString
        message.elementsChain = elementsChain
        // Serializing a message of strings and an integer cannot fail.
        let body: [UInt8] = (try? message.serializedBytes()) ?? []
        return varint(UInt64(body.count)) + body
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
        return bytes
    }

    /// Reads a length-delimited event back (for tests and tools).
    static func decodeEvent(_ value: [UInt8]) throws -> ClickHouseEvent {
        var length: UInt64 = 0
        var shift: UInt64 = 0
        var index = 0
        while index < value.count {
            let byte = value[index]
            index += 1
            length |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        guard index + Int(length) == value.count else { throw BinaryDecodingError.truncated }
        return try ClickHouseEvent(serializedBytes: Array(value[index...]))
    }

    /// §3.3.2: absent `$session_id` / `$snapshot_data` omit their keys.
    static func sessionRecordingValue(
        uuid: String, teamId: Int, distinctId: String, sessionId: JSON?, snapshotData: JSON?, timestamp: EventTimestamp
    ) -> [UInt8] {
        var object: JSONObject = ["uuid": .string(uuid), "team_id": .number(Double(teamId)), "distinct_id": .string(distinctId)]
        if let sessionId { object["session_id"] = sessionId }
        if let snapshotData { object["snapshot_data"] = .string(snapshotData.jsonString) }
        object["timestamp"] = .string(timestamp.clickHouseString)
        object["created_at"] = .string(timestamp.clickHouseString)
        return JSON.object(object).jsonBytes
    }

    /// §3.3.3: milliseconds on create, seconds on every update; the person's full state.
    static func personValue(_ person: Person, isCreation: Bool) -> [UInt8] {
        let createdAt = EventTimestamp(millisecondsSince1970: Int64((person.createdAt.timeIntervalSince1970 * 1000).rounded(.down)))
        let object: JSONObject = [
            "created_at": .string(isCreation ? createdAt.clickHouseString : createdAt.clickHouseSecondsString),
            "properties": .string(JSON.object(person.properties).jsonString), "team_id": .number(Double(person.teamId)),
            "is_identified": .bool(person.isIdentified), "id": .string(person.uuid.uuidString.lowercased()),
        ]
        return JSON.object(object).jsonBytes
    }

    /// §3.3.4: the Postgres row with the owning person's uuid.
    static func personUniqueIdValue(rowId: Int, distinctId: String, person: Person) -> [UInt8] {
        let object: JSONObject = [
            "id": .number(Double(rowId)), "distinct_id": .string(distinctId), "person_id": .string(person.uuid.uuidString.lowercased()),
            "team_id": .number(Double(person.teamId)),
        ]
        return JSON.object(object).jsonBytes
    }

    /// §3.3.5: `timestamp` is the ISO time with `T` → space and no `Z`.
    static func pluginLogEntryValue(
        id: String, teamId: Int, pluginId: Int, pluginConfigId: Int, timestamp: String, source: String, type: String, message: String,
        instanceId: String
    ) -> [UInt8] {
        let object: JSONObject = [
            "id": .string(id), "team_id": .number(Double(teamId)), "plugin_id": .number(Double(pluginId)),
            "plugin_config_id": .number(Double(pluginConfigId)),
            "timestamp": .string(timestamp.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: "")),
            "source": .string(source), "type": .string(type), "message": .string(message), "instance_id": .string(instanceId),
        ]
        return JSON.object(object).jsonBytes
    }

    /// §3.3.6: a plugin capture, back onto KAFKA_CONSUMPTION_TOPIC in the raw message format.
    static func capturedEventValue(distinctId: String, data: JSON, teamId: Int, timestamp: String, uuid: String) -> [UInt8] {
        let object: JSONObject = [
            "distinct_id": .string(distinctId), "ip": "", "site_url": "", "data": .string(data.jsonString),
            "team_id": .number(Double(teamId)), "now": .string(timestamp), "sent_at": .string(timestamp), "uuid": .string(uuid),
        ]
        return JSON.object(object).jsonBytes
    }
}
