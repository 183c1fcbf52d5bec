// The `Event` message of the original's `src/config/idl/events.proto`, which ClickHouse reads from
// `clickhouse_events_proto` (wire-formats.md §3.3.1), written by hand in the shape protoc-gen-swift
// gives a proto3 message, for the SwiftProtobuf runtime:
//
//     syntax = "proto3";
//     import "google/protobuf/timestamp.proto";
//     message Event {
//       string uuid = 1; string event = 2; string properties = 3; string timestamp = 4;
//       uint64 team_id = 5; string distinct_id = 6; string created_at = 7; string elements_chain = 8;
//       google.protobuf.Timestamp proto_created_at = 9; google.protobuf.Timestamp proto_timestamp = 10;
//     }
//
// One deliberate difference from generated code: `traverse` writes string fields even when empty,
// as the original's encoder did (`elements_chain` "" is the bytes 42 00), so the test vector of
// wire-formats.md §3.3.1 is reproduced byte for byte. Decoders read both forms the same.

import Foundation
import SwiftProtobuf

package struct ClickHouseEvent: Sendable {
    package var uuid: String = String()
    package var event: String = String()
    package var properties: String = String()
    package var timestamp: String = String()
    package var teamID: UInt64 = 0
    package var distinctID: String = String()
    package var createdAt: String = String()
    package var elementsChain: String = String()

    package var protoCreatedAt: Google_Protobuf_Timestamp {
        get { _protoCreatedAt ?? Google_Protobuf_Timestamp() }
        set { _protoCreatedAt = newValue }
    }
    package var hasProtoCreatedAt: Bool { _protoCreatedAt != nil }

    package var protoTimestamp: Google_Protobuf_Timestamp {
        get { _protoTimestamp ?? Google_Protobuf_Timestamp() }
        set { _protoTimestamp = newValue }
    }
    package var hasProtoTimestamp: Bool { _protoTimestamp != nil }

    package var unknownFields = SwiftProtobuf.UnknownStorage()

    package init() {}

    fileprivate var _protoCreatedAt: Google_Protobuf_Timestamp?
    fileprivate var _protoTimestamp: Google_Protobuf_Timestamp?
}

extension ClickHouseEvent: SwiftProtobuf.Message, SwiftProtobuf._MessageImplementationBase, SwiftProtobuf._ProtoNameProviding {
    package static let protoMessageName: String = "Event"
    package static let _protobuf_nameMap = SwiftProtobuf._NameMap(
        bytecode:
            "\0\u{1}uuid\0\u{1}event\0\u{1}properties\0\u{1}timestamp\0\u{3}team_id\0\u{3}distinct_id\0\u{3}created_at\0\u{3}elements_chain\0\u{3}proto_created_at\0\u{3}proto_timestamp\0"
    )

    package mutating func decodeMessage<D: SwiftProtobuf.Decoder>(decoder: inout D) throws {
        while let fieldNumber = try decoder.nextFieldNumber() {
            switch fieldNumber {
            case 1: try decoder.decodeSingularStringField(value: &uuid)
            case 2: try decoder.decodeSingularStringField(value: &event)
            case 3: try decoder.decodeSingularStringField(value: &properties)
            case 4: try decoder.decodeSingularStringField(value: &timestamp)
            case 5: try decoder.decodeSingularUInt64Field(value: &teamID)
            case 6: try decoder.decodeSingularStringField(value: &distinctID)
            case 7: try decoder.decodeSingularStringField(value: &createdAt)
            case 8: try decoder.decodeSingularStringField(value: &elementsChain)
            case 9: try decoder.decodeSingularMessageField(value: &_protoCreatedAt)
            case 10: try decoder.decodeSingularMessageField(value: &_protoTimestamp)
            default: break
            }
        }
    }

    package func traverse<V: SwiftProtobuf.Visitor>(visitor: inout V) throws {
        try visitor.visitSingularStringField(value: uuid, fieldNumber: 1)
        try visitor.visitSingularStringField(value: event, fieldNumber: 2)
        try visitor.visitSingularStringField(value: properties, fieldNumber: 3)
        try visitor.visitSingularStringField(value: timestamp, fieldNumber: 4)
        if teamID != 0 { try visitor.visitSingularUInt64Field(value: teamID, fieldNumber: 5) }
        try visitor.visitSingularStringField(value: distinctID, fieldNumber: 6)
        try visitor.visitSingularStringField(value: createdAt, fieldNumber: 7)
        try visitor.visitSingularStringField(value: elementsChain, fieldNumber: 8)
        if let value = _protoCreatedAt { try visitor.visitSingularMessageField(value: value, fieldNumber: 9) }
        if let value = _protoTimestamp { try visitor.visitSingularMessageField(value: value, fieldNumber: 10) }
        try unknownFields.traverse(visitor: &visitor)
    }

    package static func == (lhs: ClickHouseEvent, rhs: ClickHouseEvent) -> Bool {
        lhs.uuid == rhs.uuid && lhs.event == rhs.event && lhs.properties == rhs.properties && lhs.timestamp == rhs.timestamp
            && lhs.teamID == rhs.teamID && lhs.distinctID == rhs.distinctID && lhs.createdAt == rhs.createdAt
            && lhs.elementsChain == rhs.elementsChain && lhs._protoCreatedAt == rhs._protoCreatedAt
            && lhs._protoTimestamp == rhs._protoTimestamp && lhs.unknownFields == rhs.unknownFields
    }
}
