import Foundation
import Kafka
import PostHogEvents

/// The test broker from `scripts/services.sh` (tansu; TEST_KAFKA_HOSTS and TANSU_BIN exported, the
/// wheel's librdkafka on LD_LIBRARY_PATH). Kafka tests are skipped without it.
enum TestBroker {
    static var hosts: String? { TestEnvironment.environment["TEST_KAFKA_HOSTS"] }
    static var configuration: KafkaConfiguration {
        KafkaConfiguration(brokers: (hosts ?? "").split(separator: ",").map(String.init), clientId: "integration-tests")
    }

    /// A topic with `partitions` partitions, made with tansu's own CLI.
    static func createTopic(_ name: String, partitions: Int) throws {
        guard let tansu = TestEnvironment.environment["TANSU_BIN"], let host = hosts?.split(separator: ",").first else {
            throw HarnessError(message: "TANSU_BIN / TEST_KAFKA_HOSTS not set")
        }
        try runCommand(tansu, ["topic", "create", "--broker", "tcp://\(host)", "--partitions", "\(partitions)", name])
    }

    static func produce(_ messages: [KafkaOutgoingMessage], properties: [String: String] = [:]) async throws {
        let producer = try KafkaProducer(configuration: configuration, properties: properties)
        defer { producer.close() }
        try await producer.send(messages)
    }

    /// A `RawEventMessage` as Django writes it (wire-formats.md §3.2), keyed by nothing.
    static func rawEvent(
        topic: String, uuid: String = UUIDT().uuidString, distinctId: String, data: JSON, teamId: Int = 2, ip: String = "127.0.0.1",
        now: String = "2021-05-11T10:00:01.123456+00:00", sentAt: String = ""
    ) -> KafkaOutgoingMessage {
        var data = data
        if case .object(var object) = data, object["uuid"] == nil {
            object["uuid"] = .string(uuid)
            data = .object(object)
        }
        let message: JSON = [
            "uuid": .string(uuid), "distinct_id": .string(distinctId), "ip": .string(ip), "site_url": "http://localhost:8000",
            "data": .string(data.jsonString), "team_id": .number(Double(teamId)), "now": .string(now), "sent_at": .string(sentAt),
        ]
        return KafkaOutgoingMessage(topic: topic, value: message.jsonBytes)
    }
}

/// Reads every partition of a topic from its beginning, without a group; keeps what it read.
final class KafkaTopicReader: @unchecked Sendable {
    // @unchecked: used from one test task at a time.
    let topic: String
    private let consumer: KafkaConsumer
    private(set) var messages: [KafkaMessage] = []

    init(topic: String) async throws {
        self.topic = topic
        consumer = try KafkaConsumer(configuration: TestBroker.configuration, groupId: "reader-\(UInt32.random(in: 0...UInt32.max))")
        // Output topics appear with the server's first message to them.
        var partitions = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while partitions == 0 {
            partitions = (try? consumer.partitionCount(of: topic, timeout: .seconds(2))) ?? 0
            if partitions == 0 {
                guard ContinuousClock.now < deadline else { throw HarnessError(message: "topic \(topic) never appeared") }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        try consumer.assign((0..<partitions).map { TopicPartition(topic: topic, partition: Int32($0)) })
    }

    /// Polls until `condition` holds for everything read so far; throws after `timeout`.
    @discardableResult
    func read(timeout: Duration = .seconds(90), until condition: ([KafkaMessage]) -> Bool) async throws -> [KafkaMessage] {
        let deadline = ContinuousClock.now + timeout
        while !condition(messages) {
            guard ContinuousClock.now < deadline else {
                throw HarnessError(message: "\(topic): condition not met after reading \(messages.count) messages")
            }
            messages += try await consumer.poll(maxMessages: 1000, timeout: .milliseconds(200))
        }
        return messages
    }

    func close() async { await consumer.close() }

    static func json(_ message: KafkaMessage) -> JSON? { try? JSON(parsing: message.value) }
}

/// A ClickHouse-mode server on its own database, consumption topic, consumer group and dead-letter
/// topic, with a loopback HTTP listener standing in for ClickHouse.
final class KafkaServerHarness: @unchecked Sendable {
    // @unchecked: immutable after start except `servers`, touched only from the test's task.
    let database: TestDatabase
    let topic: String
    let deadLetterTopic: String
    let clickHouse: LoopbackHTTPServer
    let environment: [String: String]
    private(set) var servers: [ServerProcess] = []

    private init(database: TestDatabase, topic: String, clickHouse: LoopbackHTTPServer, environment: [String: String]) {
        self.database = database
        self.topic = topic
        self.deadLetterTopic = topic + "_dead_letter"
        self.clickHouse = clickHouse
        self.environment = environment
    }

    static func start(
        partitions: Int? = nil, environment extra: [String: String] = [:], startServer: Bool = true,
        postgresAdminURL: String = TestEnvironment.adminPostgresURL, prepare: (TestDatabase) throws -> Void = { _ in }
    ) async throws -> KafkaServerHarness {
        let database = try await TestDatabase.create(adminURL: postgresAdminURL)
        try prepare(database)
        let topic = TestEnvironment.uniqueName("events_plugin_ingestion")
        if let partitions { try TestBroker.createTopic(topic, partitions: partitions) }
        let clickHouse = try await LoopbackHTTPServer.start()
        var environment = ServerProcess.environment(database: database, queue: TestEnvironment.uniqueName("q"))
        environment.merge([
            "KAFKA_ENABLED": "true", "KAFKA_HOSTS": TestBroker.hosts ?? "", "KAFKA_CONSUMPTION_TOPIC": topic,
            "KAFKA_DEAD_LETTER_TOPIC": topic + "_dead_letter", "KAFKA_CONSUMER_GROUP_ID": topic + "_group",
            "KAFKA_CONSUMER_OFFSET_RESET": "earliest", "KAFKA_FLUSH_FREQUENCY_MS": "100",
            "CLICKHOUSE_HOST": "127.0.0.1:\(clickHouse.port)", "CLICKHOUSE_DATABASE": "posthog_test",
        ]) { $1 }
        environment.merge(extra) { $1 }
        let harness = KafkaServerHarness(database: database, topic: topic, clickHouse: clickHouse, environment: environment)
        if startServer { try harness.startServer() }
        return harness
    }

    @discardableResult
    func startServer(environment extra: [String: String] = [:]) throws -> ServerProcess {
        var environment = environment
        environment.merge(extra) { $1 }
        let server = ServerProcess(environment: environment)
        try server.start()
        servers.append(server)
        return server
    }

    var logs: String { servers.map(\.log).joined(separator: "\n---\n") }

    func stop() async {
        for server in servers { _ = await server.terminate() }
        clickHouse.stop()
        database.drop()
    }
}
