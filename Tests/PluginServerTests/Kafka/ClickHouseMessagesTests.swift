import Foundation
import PostHogEvents
import SwiftProtobuf
import Testing

@testable import PluginServer

@Suite struct ClickHouseMessagesTests {
    static let vectorHex =
        "83010a2430313739356164652d373930302d303030302d356536612d65356131623663316639613212092470616765766965771a137b22246970223a223132372e302e302e31227d2217323032312d30352d31312031303a30303a30302e303030280232056d792d69643a17323032312d30352d31312031303a30303a30302e3030304200"

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    static let time = EventTimestamp.parseISO8601("2021-05-11T10:00:00.000Z")!

    @Test("the event message reproduces the reference test vector byte for byte, length prefix included")
    func protoTestVector() throws {
        let value = ClickHouseMessages.eventValue(
            uuid: "01795ade-7900-0000-5e6a-e5a1b6c1f9a2", event: "$pageview", properties: ["$ip": "127.0.0.1"], timestamp: Self.time,
            teamId: 2, distinctId: "my-id", elementsChain: "")
        #expect(value.count == 133)
        #expect(Self.hex(value) == Self.vectorHex)
    }

    @Test("the event message decodes back field by field, timestamps unset")
    func protoDecodes() throws {
        let value = ClickHouseMessages.eventValue(
            uuid: "u", event: "e", properties: ["a": 1, "b": ["c": "/"]],
            timestamp: EventTimestamp(millisecondsSince1970: 1_620_727_205_050),
            teamId: 7, distinctId: "d", elementsChain: "a:nth-child=\"1\"")
        let event = try ClickHouseMessages.decodeEvent(value)
        #expect(event.uuid == "u")
        #expect(event.event == "e")
        #expect(event.properties == #"{"a":1,"b":{"c":"/"}}"#)
        #expect(event.timestamp == "2021-05-11 10:00:05.050")
        #expect(event.createdAt == "2021-05-11 10:00:05.050")
        #expect(event.teamID == 7)
        #expect(event.distinctID == "d")
        #expect(event.elementsChain == "a:nth-child=\"1\"")
        #expect(!event.hasProtoCreatedAt && !event.hasProtoTimestamp)
    }

    @Test("a canonical proto3 encoding (empty strings omitted) decodes to the same message")
    func canonicalDecodes() throws {
        var message = ClickHouseEvent()
        message.uuid = "x"
        message.teamID = 3
        let canonical: [UInt8] = [0x0a, 0x01, 0x78, 0x28, 0x03]
        #expect(try ClickHouseEvent(serializedBytes: canonical) == message)
    }

    @Test("varint length prefixes past one byte")
    func varints() {
        #expect(ClickHouseMessages.varint(0) == [0])
        #expect(ClickHouseMessages.varint(127) == [0x7f])
        #expect(ClickHouseMessages.varint(131) == [0x83, 0x01])
        #expect(ClickHouseMessages.varint(300) == [0xac, 0x02])
    }

    @Test("session recordings: keys in order, snapshot_data as JSON text, absent keys omitted")
    func sessionRecording() {
        let full = ClickHouseMessages.sessionRecordingValue(
            uuid: "u", teamId: 2, distinctId: "some-id", sessionId: "abcf-efg", snapshotData: ["timestamp": 123],
            timestamp: EventTimestamp.parseISO8601("2021-05-11T10:00:05.000Z")!)
        #expect(
            String(decoding: full, as: UTF8.self)
                == #"{"uuid":"u","team_id":2,"distinct_id":"some-id","session_id":"abcf-efg","snapshot_data":"{\"timestamp\":123}","timestamp":"2021-05-11 10:00:05.000","created_at":"2021-05-11 10:00:05.000"}"#
        )
        let bare = ClickHouseMessages.sessionRecordingValue(
            uuid: "u", teamId: 2, distinctId: "d", sessionId: nil, snapshotData: nil, timestamp: Self.time)
        #expect(
            String(decoding: bare, as: UTF8.self)
                == #"{"uuid":"u","team_id":2,"distinct_id":"d","timestamp":"2021-05-11 10:00:00.000","created_at":"2021-05-11 10:00:00.000"}"#
        )
    }

    @Test("persons: milliseconds on creation, seconds on update, properties as JSON text, lowercase uuid")
    func person() {
        let uuid = UUID(uuidString: "01795ADE-7900-0000-5E6A-E5A1B6C1F9A2")!
        let person = Person(
            id: 1, uuid: uuid, createdAt: Date(timeIntervalSince1970: 1_620_727_205.123), properties: ["a/b": "ü"], teamId: 2,
            isIdentified: false)
        #expect(
            String(decoding: ClickHouseMessages.personValue(person, isCreation: true), as: UTF8.self)
                == #"{"created_at":"2021-05-11 10:00:05.123","properties":"{\"a/b\":\"ü\"}","team_id":2,"is_identified":false,"id":"01795ade-7900-0000-5e6a-e5a1b6c1f9a2"}"#
        )
        var identified = person
        identified.isIdentified = true
        #expect(
            String(decoding: ClickHouseMessages.personValue(identified, isCreation: false), as: UTF8.self)
                == #"{"created_at":"2021-05-11 10:00:05","properties":"{\"a/b\":\"ü\"}","team_id":2,"is_identified":true,"id":"01795ade-7900-0000-5e6a-e5a1b6c1f9a2"}"#
        )
        #expect(
            String(decoding: ClickHouseMessages.personUniqueIdValue(rowId: 17, distinctId: "my-id", person: person), as: UTF8.self)
                == #"{"id":17,"distinct_id":"my-id","person_id":"01795ade-7900-0000-5e6a-e5a1b6c1f9a2","team_id":2}"#)
    }

    @Test("plugin log entries: ISO time with a space and no Z")
    func pluginLogEntry() {
        let value = ClickHouseMessages.pluginLogEntryValue(
            id: "i", teamId: 2, pluginId: 60, pluginConfigId: 39, timestamp: "2021-05-11T10:00:05.123Z", source: "CONSOLE", type: "INFO",
            message: "amogus", instanceId: "n")
        #expect(
            String(decoding: value, as: UTF8.self)
                == #"{"id":"i","team_id":2,"plugin_id":60,"plugin_config_id":39,"timestamp":"2021-05-11 10:00:05.123","source":"CONSOLE","type":"INFO","message":"amogus","instance_id":"n"}"#
        )
    }

    @Test("a plugin capture is a raw event message with empty ip and site_url and data as JSON text")
    func capture() throws {
        let value = ClickHouseMessages.capturedEventValue(
            distinctId: "d", data: ["event": "e"], teamId: 2, timestamp: "2021-05-11T10:00:00.000Z", uuid: "u")
        #expect(
            String(decoding: value, as: UTF8.self)
                == #"{"distinct_id":"d","ip":"","site_url":"","data":"{\"event\":\"e\"}","team_id":2,"now":"2021-05-11T10:00:00.000Z","sent_at":"2021-05-11T10:00:00.000Z","uuid":"u"}"#
        )
        // And it is read back by the consumer's decoder.
        let event = try KafkaEventDecoder.event(from: value)
        #expect(event["event"] == "e")
        #expect(event["ip"] == .null && event["site_url"] == .null)
    }

    @Test("ClickHouse deletions quote the uuid as a string literal")
    func clickHouseQueries() {
        #expect(
            ClickHouseClient.deletePersonQueries(uuid: "a'b\\c") == [
                #"ALTER TABLE person DELETE WHERE id = 'a\'b\\c'"#, #"ALTER TABLE person_distinct_id DELETE WHERE person_id = 'a\'b\\c'"#,
            ])
    }
}
