import Foundation
import Testing

@testable import Kafka

/// The client against the test broker (`scripts/services.sh` exports TEST_KAFKA_HOSTS and puts
/// librdkafka 2.16 on LD_LIBRARY_PATH); skipped without one.
@Suite(.serialized, .enabled(if: TestBroker.hosts != nil, "no TEST_KAFKA_HOSTS: start the broker with scripts/services.sh"))
struct KafkaClientTests {
    static var configuration: KafkaConfiguration { KafkaConfiguration(brokers: TestBroker.hosts ?? [], clientId: "kafka-client-tests") }
    static func uniqueTopic() -> String { "kafka_client_test_\(UInt32.random(in: 0...UInt32.max))" }

    @Test("a sent batch returns once acknowledged, and is read back with keys, values and headers in order")
    func roundTrip() async throws {
        let topic = Self.uniqueTopic()
        let producer = try KafkaProducer(configuration: Self.configuration)
        let messages = (0..<20).map { index in
            KafkaOutgoingMessage(
                topic: topic, key: Array("same-key".utf8), value: Array("value \(index)".utf8),
                headers: index == 3 ? [KafkaHeader(name: "reason", value: "because")] : [])
        }
        try await producer.send(messages)
        producer.close()

        let consumer = try KafkaConsumer(configuration: Self.configuration, groupId: "reader-\(topic)")
        let partitions = try consumer.partitionCount(of: topic)
        try consumer.assign((0..<partitions).map { TopicPartition(topic: topic, partition: Int32($0)) })
        var received: [KafkaMessage] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while received.count < 20 && ContinuousClock.now < deadline {
            received += try await consumer.poll(maxMessages: 100, timeout: .milliseconds(200))
        }
        await consumer.close()
        #expect(received.map { String(decoding: $0.value, as: UTF8.self) } == (0..<20).map { "value \($0)" })
        #expect(received.allSatisfy { $0.key == Array("same-key".utf8) && $0.topic == topic })
        #expect(received[3].header("reason") == Array("because".utf8))
        #expect(received[4].headers.isEmpty)
    }

    @Test("a group member gets the topic's partitions, commits, and a later member resumes after the commit")
    func groupCommit() async throws {
        let topic = Self.uniqueTopic()
        let producer = try KafkaProducer(configuration: Self.configuration)
        try await producer.send((0..<10).map { KafkaOutgoingMessage(topic: topic, value: Array("m\($0)".utf8)) })
        let group = "group-\(topic)"

        let first = try KafkaConsumer(configuration: Self.configuration, groupId: group, properties: ["auto.offset.reset": "earliest"])
        try first.subscribe([topic])
        var received: [KafkaMessage] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while received.count < 10 && ContinuousClock.now < deadline {
            received += try await first.poll(maxMessages: 100, timeout: .milliseconds(500))
        }
        #expect(received.count == 10)
        #expect(!first.assignment.isEmpty)
        var offsets: [TopicPartition: Int64] = [:]
        for message in received { offsets[TopicPartition(topic: topic, partition: message.partition)] = message.offset + 1 }
        try await first.commit(offsets)
        await first.close()

        try await producer.send([KafkaOutgoingMessage(topic: topic, value: Array("after".utf8))])
        producer.close()
        let second = try KafkaConsumer(configuration: Self.configuration, groupId: group, properties: ["auto.offset.reset": "earliest"])
        try second.subscribe([topic])
        var later: [KafkaMessage] = []
        let secondDeadline = ContinuousClock.now + .seconds(60)
        while later.isEmpty && ContinuousClock.now < secondDeadline {
            later += try await second.poll(maxMessages: 100, timeout: .milliseconds(500))
        }
        await second.close()
        #expect(later.map { String(decoding: $0.value, as: UTF8.self) } == ["after"])
    }

    @Test("a closed consumer refuses to commit")
    func closedConsumer() async throws {
        let consumer = try KafkaConsumer(configuration: Self.configuration, groupId: "closed-\(Self.uniqueTopic())")
        await consumer.close()
        await #expect(throws: KafkaError.self) { try await consumer.commit([TopicPartition(topic: "t", partition: 0): 1]) }
    }

    @Test("a closed producer refuses to send")
    func closedProducer() async throws {
        let producer = try KafkaProducer(configuration: Self.configuration)
        producer.close()
        await #expect(throws: KafkaError.self) { try await producer.send([KafkaOutgoingMessage(topic: "t", value: [1])]) }
    }

    @Test("an unknown librdkafka property is a configuration error naming it")
    func badProperty() {
        #expect {
            _ = try KafkaProducer(configuration: KafkaConfiguration(brokers: ["127.0.0.1:1"], properties: ["no.such.property": "1"]))
        } throws: { error in
            (error as? KafkaError)?.code == .configuration && "\(error)".contains("no.such.property")
        }
    }
}

enum TestBroker {
    static var hosts: [String]? {
        ProcessInfo.processInfo.environment["TEST_KAFKA_HOSTS"].map { $0.split(separator: ",").map(String.init) }
    }
}
