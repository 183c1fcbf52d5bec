// Kafka end-to-end cells against the real `plugin-server` binary, Postgres and the test broker
// (`make benchmark` starts tansu through scripts/services.sh): raw event messages in on a fresh
// consumption topic, one trivial plugin, events out on clickhouse_events_proto; and beside it a raw
// consume-and-produce passthrough with the same librdkafka settings, measured in the same run, one
// batch at a time and pipelined as the server runs.

import Foundation
import Kafka
import PostHogEvents

/// `e2e.kafka.plugin1`, `e2e.kafka.passthrough` and `e2e.kafka.passthrough_pipelined`; `nil` (cells
/// skipped) without TEST_KAFKA_HOSTS.
struct KafkaEndToEndBench {
    let postgres: EndToEndBench
    let configuration: KafkaConfiguration
    let hosts: String

    init?(postgres: EndToEndBench?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let postgres, let hosts = environment["TEST_KAFKA_HOSTS"], !hosts.isEmpty else { return nil }
        self.postgres = postgres
        self.hosts = hosts
        configuration = KafkaConfiguration(brokers: hosts.split(separator: ",").map(String.init), clientId: "plugin-benchmark")
    }

    /// The server's batch (WORKER_CONCURRENCY × TASKS_PER_WORKER with 2 workers and 100 tasks each),
    /// also the passthrough's.
    static let batchSize = 200

    /// The messages the server leaves waiting for their commit while it goes on with the next
    /// batches (`KafkaQueueConsumer.uncommittedLimit`), the pipelined passthrough's as well.
    static let uncommittedLimit = 1000

    func run(events: Int) async throws -> [(metric: String, eventsPerSecond: Double)] {
        [
            ("e2e.kafka.plugin1", try await pluginCell(events: events)),
            ("e2e.kafka.passthrough", try await passthroughCell(events: events, pipelined: false)),
            ("e2e.kafka.passthrough_pipelined", try await passthroughCell(events: events, pipelined: true)),
        ]
    }

    // MARK: cells

    /// Events queued on a fresh topic before the server starts; timed from the first event out on
    /// clickhouse_events_proto to the last, so start-up and the group join are outside it.
    private func pluginCell(events: Int) async throws -> Double {
        let database = try postgres.createDatabase()
        defer { postgres.dropDatabase(database) }
        try postgres.installSourcePlugin(database, name: "bench-trivial", code: EndToEndBench.trivialPlugin, teams: "SELECT 2")
        let topic = "bench_kafka_in_\(UInt32.random(in: 0...UInt32.max))"
        let uuids = Set(try await produceRawEvents(topic: topic, count: events, distinctIds: max(1, events / 10)).map { Array($0.utf8) })

        // The broker holds an empty fetch until data comes or its wait ends: with librdkafka's default
        // wait the reader saw the output in bursts about 260 ms apart, a quarter of the cell's length,
        // so both ends of the timing were off by up to one burst. A short wait sees each batch land.
        let output = try KafkaConsumer(
            configuration: configuration, groupId: "bench-reader-\(topic)", properties: ["fetch.wait.max.ms": "10"])
        let partitions = try await outputPartitionCount(output)
        try output.assign((0..<partitions).map { TopicPartition(topic: "clickhouse_events_proto", partition: Int32($0)) }, from: .end)
        // Assignment at the end takes effect with the first poll.
        _ = try await output.poll(maxMessages: 1, timeout: .milliseconds(500))

        try postgres.checkpoint()
        let server = try startServer(database: database, topic: topic)
        defer { postgres.stop(server) }
        var received = 0
        var first: ContinuousClock.Instant?
        let deadline = ContinuousClock.now + .seconds(900)
        while received < events {
            guard ContinuousClock.now < deadline else { throw BenchmarkError(description: "only \(received) of \(events) events out") }
            guard server.isRunning else { throw BenchmarkError(description: "the server exited (status \(server.terminationStatus))") }
            // Only this cell's events count: tansu may hand an `.end` reader older messages first.
            let batch = try await output.poll(maxMessages: 10_000, timeout: .milliseconds(200)).filter { uuids.contains($0.key ?? []) }
            if first == nil && !batch.isEmpty { first = .now }
            received += batch.count
        }
        let seconds = (ContinuousClock.now - first!).inSeconds
        await output.close()
        return Double(events - 1) / max(0.001, seconds)
    }

    /// Consume, produce each value to another topic, wait for the acknowledgements, commit: the
    /// server's loop without parsing, plugins or Postgres. One batch at a time (the cell the target
    /// names), or `pipelined` as the server runs it: the next batches are consumed and produced while
    /// up to `uncommittedLimit` messages wait for their acknowledgements and commit.
    private func passthroughCell(events: Int, pipelined: Bool) async throws -> Double {
        let input = "bench_kafka_pass_in_\(UInt32.random(in: 0...UInt32.max))"
        let outputTopic = input.replacingOccurrences(of: "_in_", with: "_out_")
        _ = try await produceRawEvents(topic: input, count: events, distinctIds: max(1, events / 10))
        let consumer = try KafkaConsumer(
            configuration: configuration, groupId: "bench-passthrough-\(input)",
            properties: ["auto.offset.reset": "earliest", "session.timeout.ms": "10000"])
        let producer = try KafkaProducer(configuration: configuration)
        try consumer.subscribe([input])
        var moved = 0
        var first: ContinuousClock.Instant?
        // Sent batches not yet committed, oldest first, with their offsets and sizes.
        var waiting: [(sent: Task<Void, any Error>, offsets: [TopicPartition: Int64], count: Int)] = []
        var waitingCount = 0
        let deadline = ContinuousClock.now + .seconds(900)
        while moved < events {
            guard ContinuousClock.now < deadline else { throw BenchmarkError(description: "passthrough moved only \(moved) of \(events)") }
            let batch = try await consumer.poll(maxMessages: Self.batchSize, timeout: .milliseconds(500))
            guard !batch.isEmpty else { continue }
            if first == nil { first = .now }
            var offsets: [TopicPartition: Int64] = [:]
            for message in batch {
                let partition = TopicPartition(topic: message.topic, partition: message.partition)
                offsets[partition] = max(offsets[partition] ?? 0, message.offset + 1)
            }
            let outgoing = batch.map { KafkaOutgoingMessage(topic: outputTopic, key: $0.key, value: $0.value) }
            moved += batch.count
            guard pipelined else {
                try await producer.send(outgoing)
                try await consumer.commit(offsets)
                continue
            }
            waiting.append((Task { try await producer.send(outgoing) }, offsets, batch.count))
            waitingCount += batch.count
            // Once the window is full (or all is sent): one commit for the oldest batches, once acknowledged.
            guard waitingCount > Self.uncommittedLimit || moved >= events else { continue }
            var merged: [TopicPartition: Int64] = [:]
            while waitingCount > Self.uncommittedLimit || (moved >= events && !waiting.isEmpty) {
                let oldest = waiting.removeFirst()
                try await oldest.sent.value
                waitingCount -= oldest.count
                merged.merge(oldest.offsets) { max($0, $1) }
            }
            try await consumer.commit(merged)
        }
        let seconds = (ContinuousClock.now - first!).inSeconds
        await consumer.close()
        producer.close()
        return Double(events - 1) / max(0.001, seconds)
    }

    // MARK: helpers

    /// The partitions of clickhouse_events_proto; on a fresh broker the topic does not exist yet, and
    /// one marker message (not an event: its key matches no uuid) creates it.
    private func outputPartitionCount(_ output: KafkaConsumer) async throws -> Int {
        if let count = try? output.partitionCount(of: "clickhouse_events_proto") { return count }
        let producer = try KafkaProducer(configuration: configuration)
        defer { producer.close() }
        try await producer.send([KafkaOutgoingMessage(topic: "clickhouse_events_proto", key: Array("bench-marker".utf8), value: [])])
        return try output.partitionCount(of: "clickhouse_events_proto")
    }

    /// Django's `RawEventMessage` (wire-formats.md §3.2), as the anchor's Celery cells send it.
    /// Returns the events' uuids (the keys of their messages out).
    private func produceRawEvents(topic: String, count: Int, distinctIds: Int) async throws -> [String] {
        let producer = try KafkaProducer(configuration: configuration)
        defer { producer.close() }
        var batch: [KafkaOutgoingMessage] = []
        var uuids: [String] = []
        for index in 0..<count {
            let uuid = UUIDT().uuidString
            uuids.append(uuid)
            let distinctId = "user-\(index % distinctIds)"
            let data: JSON = [
                "event": "$pageview", "uuid": .string(uuid),
                "properties": ["distinct_id": .string(distinctId), "$current_url": "https://example.com/page", "$browser": "Chrome"],
            ]
            let now = EventTimestamp.now().isoString
            let message: JSON = [
                "uuid": .string(uuid), "distinct_id": .string(distinctId), "ip": "127.0.0.1", "site_url": "http://localhost:8000",
                "data": .string(data.jsonString), "team_id": 2, "now": .string(now), "sent_at": .string(now),
            ]
            batch.append(KafkaOutgoingMessage(topic: topic, key: Array(uuid.utf8), value: message.jsonBytes))
            if batch.count == 5000 {
                try await producer.send(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        try await producer.send(batch)
        return uuids
    }

    private func startServer(database: String, topic: String) throws -> Process {
        let process = Process()
        process.executableURL = postgres.serverBinary
        process.environment = ProcessInfo.processInfo.environment.merging([
            "DATABASE_URL": postgres.url(of: database), "REDIS_URL": postgres.redisURL, "KAFKA_ENABLED": "true", "KAFKA_HOSTS": hosts,
            "KAFKA_CONSUMPTION_TOPIC": topic, "KAFKA_DEAD_LETTER_TOPIC": topic + "_dead_letter",
            "KAFKA_CONSUMER_GROUP_ID": topic + "_group",
            "KAFKA_CONSUMER_OFFSET_RESET": "earliest", "CLICKHOUSE_HOST": "127.0.0.1:9", "POSTGRES_MAX_CONNECTIONS": "8",
            "WORKER_CONCURRENCY": "2", "TASKS_PER_WORKER": ProcessInfo.processInfo.environment["BENCH_KAFKA_TASKS_PER_WORKER"] ?? "100",
            "LOG_LEVEL": "warn", "DISABLE_WEB": "true", "DISABLE_MMDB": "true",
        ]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }
}

extension Duration {
    fileprivate var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
