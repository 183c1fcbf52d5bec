import Foundation
import Testing

@testable import PostHogEvents

@Suite struct CeleryEnvelopeTests {
    /// The hand-built minimal message of wire-formats.md §1.6.
    static let referenceMessage =
        #"{"body":"W1sibXktaWQiLCIxMjcuMC4wLjEiLCJodHRwOi8vbG9jYWxob3N0OjgwMDAiLHsiZXZlbnQiOiIkcGFnZXZpZXciLCJwcm9wZXJ0aWVzIjp7ImRpc3RpbmN0X2lkIjoibXktaWQiLCIkY3VycmVudF91cmwiOiJodHRwOi8vbG9jYWxob3N0OjgwMDAvIn0sInRpbWVzdGFtcCI6IjIwMjEtMDUtMTFUMTA6MDA6MDAuMDAwWiJ9LDIsIjIwMjEtMDUtMTFUMTA6MDA6MDEuMTIzNDU2KzAwOjAwIiwiMjAyMS0wNS0xMVQxMDowMDowMC41MDAwMDBaIl0se30seyJjYWxsYmFja3MiOm51bGwsImVycmJhY2tzIjpudWxsLCJjaGFpbiI6bnVsbCwiY2hvcmQiOm51bGx9XQ==","content-encoding":"utf-8","content-type":"application/json","headers":{"lang":"py","task":"posthog.tasks.process_event.process_event_with_plugins","id":"5b3a1c2e-8d4f-4e6a-9b7c-0d1e2f3a4b5c","root_id":"5b3a1c2e-8d4f-4e6a-9b7c-0d1e2f3a4b5c","parent_id":null,"group":null,"retries":0,"eta":null,"expires":null,"timelimit":[null,null],"argsrepr":"...","kwargsrepr":"{}","origin":"gen1@web-1"},"properties":{"correlation_id":"5b3a1c2e-8d4f-4e6a-9b7c-0d1e2f3a4b5c","reply_to":"","delivery_mode":2,"delivery_info":{"exchange":"","routing_key":"posthog-plugins"},"priority":0,"body_encoding":"base64","delivery_tag":"0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"}}"#

    static func envelope(
        body: JSON, headers: JSON = ["task": "posthog.tasks.process_event.process_event_with_plugins", "id": "abc"],
        contentType: String = "application/json", contentEncoding: String = "utf-8", bodyEncoding: String = "base64"
    ) -> [UInt8] {
        let object: JSON = [
            "body": .string(Data(body.jsonBytes).base64EncodedString()), "content-type": .string(contentType),
            "content-encoding": .string(contentEncoding), "headers": headers,
            "properties": ["body_encoding": .string(bodyEncoding)],
        ]
        return object.jsonBytes
    }

    @Test("the reference protocol 2 message decodes to its seven arguments")
    func protocolTwo() throws {
        let task = try CeleryEnvelope.decode(Array(Self.referenceMessage.utf8))
        #expect(task.name == CeleryEnvelope.processEventTask)
        #expect(task.id == "5b3a1c2e-8d4f-4e6a-9b7c-0d1e2f3a4b5c")
        #expect(task.args.count == 7)
        #expect(task.args[0] == "my-id")
        #expect(task.args[4] == 2)
        #expect(task.args[6] == "2021-05-11T10:00:00.500000Z")
        #expect(task.args[3]["properties"]?["$current_url"] == "http://localhost:8000/")
    }

    @Test("protocol 1 takes the task and arguments from the body, with defaults")
    func protocolOne() throws {
        let body: JSON = [
            "task": "posthog.tasks.process_event.process_event_with_plugins", "id": "x1",
            "args": ["a", nil, nil, [:], 2, "2021-01-01T00:00:00Z"],
        ]
        let task = try CeleryEnvelope.decode(Self.envelope(body: body, headers: [:]))
        #expect(task.name == CeleryEnvelope.processEventTask)
        #expect(task.args.count == 6)
        #expect(task.kwargs.isEmpty)
    }

    @Test("the hybrid form (task header, protocol 1 body) is accepted instead of crashing")
    func hybrid() throws {
        let body: JSON = ["args": ["a", nil, nil, [:], 2, "2021-01-01T00:00:00Z", nil], "kwargs": ["x": 1]]
        let task = try CeleryEnvelope.decode(Self.envelope(body: body))
        #expect(task.args.count == 7)
        #expect(task.kwargs["x"] == 1)
    }

    @Test("malformed envelopes are rejected with a reason naming the problem")
    func rejections() {
        let cases: [([UInt8], String)] = [
            (Array("not json".utf8), "not valid JSON"),
            (Array("[1,2]".utf8), "not a JSON object"),
            (
                Self.envelope(body: [[], [:], [:]], contentType: "application/x-python-serialize"),
                "unsupported content type application/x-python-serialize"
            ),
            (Self.envelope(body: [[], [:], [:]], contentEncoding: "binary"), "unsupported content encoding binary"),
            (Self.envelope(body: [[], [:], [:]], bodyEncoding: "plain"), "unsupported body encoding plain"),
            (Self.envelope(body: [[], [:], [:]], headers: ["task": "x", "compression": "application/x-gzip"]), "compressed bodies"),
            (
                Array(
                    #"{"body":"!!!","content-type":"application/json","content-encoding":"utf-8","headers":{},"properties":{"body_encoding":"base64"}}"#
                        .utf8), "not valid base64"
            ),
            (
                Array(
                    #"{"body":"//79","content-type":"application/json","content-encoding":"utf-8","headers":{},"properties":{"body_encoding":"base64"}}"#
                        .utf8), "not UTF-8"
            ),
            (
                Array(
                    #"{"body":"e30=","content-type":"application/json","content-encoding":"utf-8","properties":{"body_encoding":"base64"}}"#
                        .utf8), "no headers"
            ),
            (Self.envelope(body: "just a string"), "protocol 2 body is not an array"),
        ]
        for (bytes, reason) in cases {
            #expect {
                try CeleryEnvelope.decode(bytes)
            } throws: { error in
                (error as? CeleryDecodingError)?.reason.contains(reason) == true
            }
        }
    }

    @Test("published tasks use the original's layout and decode back")
    func encodeRoundTrip() throws {
        let bytes = CeleryEnvelope.encode(
            task: "posthog.tasks.webhooks.post_event_to_webhook", args: [4711, "http://localhost:8000"], queue: "celery")
        let envelope = try JSON(parsing: bytes)
        #expect(envelope.objectValue?.keys == ["body", "content-type", "content-encoding", "headers", "properties"])
        #expect(envelope["headers"]?.objectValue?.keys == ["lang", "task", "id"])
        #expect(envelope["headers"]?["lang"] == "js")
        #expect(envelope["properties"]?["delivery_info"]?["routing_key"] == "celery")
        #expect(envelope["properties"]?["correlationId"] == envelope["headers"]?["id"])
        let body = Data(base64Encoded: envelope["body"]!.stringValue!)!
        #expect(String(decoding: body, as: UTF8.self) == #"[[4711,"http://localhost:8000"],{},{}]"#)
        let task = try CeleryEnvelope.decode(bytes)
        #expect(task.args == [4711, "http://localhost:8000"])
    }
}
