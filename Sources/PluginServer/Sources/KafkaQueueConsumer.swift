import Foundation
import Kafka
import Logging
import Metrics
import PostHogEvents
import ServiceLifecycle
import Synchronization

/// Consumes KAFKA_CONSUMPTION_TOPIC in the `clickhouse-ingestion` group (wire-formats.md §3.2): a
/// batch of up to WORKER_CONCURRENCY × TASKS_PER_WORKER messages is processed concurrently, then the
/// producer is flushed, and only once the broker acknowledged every produced message are the
/// batch's offsets committed (at least once). The next batch is polled and started while one is in
/// process, so the plugin slots its last events leave free take the next batch's events (at most
/// two batches in process, finished in poll order). Flushes and commits overlap the poll and
/// processing of the next batches, which go on while the batches waiting for their commit hold at
/// most `uncommittedLimit` messages (or one batch, when larger); one flush and one commit cover every
/// batch waiting, in batch order.
/// Messages that can never be ingested go to the dead-letter topic with their reason in a header.
/// Partitions change hands only inside `poll`; a commit covers only partitions this instance still
/// holds then (checked on the consumer's queue, where rebalances run), so offsets are never
/// committed for a partition that was given away: its new owner reads from the last commit.
public final class KafkaQueueConsumer: Service, Sendable {
    let consumer: KafkaConsumer
    let producer: KafkaBatchProducer
    let pipeline: EventPipeline
    let topic: String
    let deadLetterTopic: String
    let batchSize: Int
    /// How long a stop waits for the batches in process and their commit (TASK_TIMEOUT + 5 s).
    let shutdownGrace: Duration
    let uncommitted: UncommittedBatches
    let instanceId: String
    let status: ServerStatus
    let metrics: ServerMetrics?
    let errors: SentryReporter?
    let logger: Logger
    let stop = StopSignal()
    private let inFlightCount = Atomic<Int>(0)

    let messagesReceived = Counter(label: "kafka_messages_received_total")
    let messagesStored = Counter(label: "kafka_messages_stored_total")
    let messagesDeadLettered = Counter(label: "kafka_messages_dead_lettered_total")
    let batchesRetried = Counter(label: "kafka_batches_retried_total")

    init(
        consumer: KafkaConsumer, producer: KafkaBatchProducer, pipeline: EventPipeline, topic: String, deadLetterTopic: String,
        batchSize: Int, shutdownGrace: Duration = .seconds(35), instanceId: String, status: ServerStatus,
        metrics: ServerMetrics? = nil, errors: SentryReporter? = nil, logger: Logger
    ) {
        self.consumer = consumer
        self.producer = producer
        self.pipeline = pipeline
        self.topic = topic
        self.deadLetterTopic = deadLetterTopic
        self.batchSize = max(1, batchSize)
        self.shutdownGrace = shutdownGrace
        uncommitted = UncommittedBatches(
            messageLimit: max(self.batchSize, Self.uncommittedLimit), byteLimit: Self.uncommittedByteLimit)
        self.instanceId = instanceId
        self.status = status
        self.metrics = metrics
        self.errors = errors
        var logger = logger
        logger[metadataKey: "topic"] = "\(topic)"
        self.logger = logger
    }

    var inFlight: Int { inFlightCount.load(ordering: .relaxed) }

    /// The messages left waiting for their commit while the next batches are processed, unless a
    /// batch is larger: what a crash may have processed again, as the original's commit every 1,000
    /// messages (or every second) did. Waiting for each batch's acknowledgements instead held every
    /// batch for the producer's linger and a broker round trip, about 6 ms: with the default batch
    /// of 20, 3.3k events/s on 2 cores.
    static let uncommittedLimit = 1000

    /// Past this many bytes of messages waiting for their commit (large session recordings), the
    /// next batch waits for the commit.
    static let uncommittedByteLimit = 16 << 20

    public func run() async throws {
        try consumer.subscribe([topic])
        logger.info(
            "Consuming Kafka topic",
            metadata: ["batch_size": "\(batchSize)", "dead_letter_topic": "\(deadLetterTopic)"])
        // A task of its own rather than a child task, so that a stop can leave a batch that cannot
        // finish (an event waiting on an unreachable Postgres does not answer cancellation).
        let consumed = StopSignal()
        Task {
            await self.consume()
            consumed.set()
        }
        try? await gracefulShutdown()
        stop.set()
        // What is not committed by the end of the grace is left to the process's exit, its offsets
        // uncommitted, for the partitions' next owner to read again.
        if !(await StopGrace.wait(shutdownGrace, until: { consumed.isSet })) {
            logger.warning(
                "Batches in process did not finish in time after the stop: left for redelivery, their offsets not committed",
                metadata: ["grace": "\(shutdownGrace)", "in_flight": "\(inFlight)"])
        }
        status.consuming(false)
        await consumer.close()
        logger.info("Kafka consumer stopped")
    }

    private func consume() async {
        var failures = 0
        var generation = -1
        // Flushes and commits the processed batches while the next ones are polled and processed.
        let committer = Task { [self] in
            while true {
                let batches = await uncommitted.take()
                guard !batches.isEmpty else { return }
                await flushAndCommit(batches)
                uncommitted.done(batches)
            }
        }
        // The batch in process while the next one is polled and started.
        var previous: BatchInProcess?
        while !stop.isSet && !Task.isCancelled {
            var messages: [KafkaMessage]
            do {
                let before = consumer.assignmentGeneration
                // With a batch in process, only the messages already fetched: that batch's commit does
                // not wait for new ones.
                messages = try await consumer.poll(maxMessages: batchSize, timeout: .milliseconds(previous == nil ? 500 : 0))
                if consumer.assignmentGeneration != before {
                    // A rebalance inside this poll: messages of partitions given away go to their
                    // new owner, which reads them from the last commit; processing them here too
                    // would only write them twice.
                    let assigned = consumer.assignment
                    messages.removeAll { !assigned.contains(TopicPartition(topic: $0.topic, partition: $0.partition)) }
                }
                failures = 0
            } catch {
                failures += 1
                status.consuming(false)
                if failures == 1 || failures % 20 == 0 {
                    logger.warning("Cannot poll Kafka, retrying", metadata: ["error": .failure(error)])
                }
                guard await finish(&previous) else { break }
                try? await Task.sleep(for: CeleryQueueConsumer.backoff(attempt: failures))
                continue
            }
            if consumer.assignmentGeneration != generation {
                generation = consumer.assignmentGeneration
                logger.info("Kafka partitions assigned", metadata: ["partitions": "\(consumer.assignment.map(\.description).sorted())"])
            }
            status.consuming(true)
            // Polled at shutdown, or nothing new: left for the next poll or the partitions' next owner.
            guard !messages.isEmpty, !stop.isSet else {
                guard await finish(&previous) else { break }
                continue
            }
            messagesReceived.increment(by: messages.count)
            let polled = UncommittedBatches.Batch(messages: messages, mark: producer.mark(), start: .now)
            let batch = BatchInProcess(batch: polled, processed: Task { [self] in await process(polled.messages) })
            // A batch given up at shutdown is not committed, nor is any after it, whose offsets would
            // pass over its messages.
            guard await finish(&previous) else {
                _ = await batch.processed.value
                break
            }
            previous = batch
        }
        _ = await finish(&previous)
        uncommitted.close()
        await committer.value
    }

    /// A polled batch, its messages handled by a task of their own.
    private struct BatchInProcess {
        let batch: UncommittedBatches.Batch
        /// False when a message was given up at shutdown.
        let processed: Task<Bool, Never>
    }

    /// Waits for the batch in process, if any, and hands it to the committer (waiting for room in the
    /// commit window); false when it was given up at shutdown.
    private func finish(_ batch: inout BatchInProcess?) async -> Bool {
        guard let finishing = batch else { return true }
        batch = nil
        guard await finishing.processed.value else { return false }
        producer.sendBuffered()
        await uncommitted.add(finishing.batch)
        return true
    }

    /// Handles every message of the batch concurrently; false when one was given up at shutdown.
    private func process(_ messages: [KafkaMessage]) async -> Bool {
        inFlightCount.add(messages.count, ordering: .relaxed)
        defer { inFlightCount.subtract(messages.count, ordering: .relaxed) }
        return await withTaskGroup(of: Bool.self) { group in
            for message in messages { group.addTask { await self.handle(message) } }
            var complete = true
            for await done in group where !done { complete = false }
            return complete
        }
    }

    /// Flushes the producer and commits the batches' offsets; batches whose output was not
    /// acknowledged are processed again (duplicates downstream, never a loss).
    private func flushAndCommit(_ batches: [UncommittedBatches.Batch]) async {
        guard let mark = batches.first?.mark else { return }
        defer { producer.forgetFailures(before: mark) }
        var since = mark
        var attempt = 0
        while true {
            do {
                try await producer.flush(since: since)
                break
            } catch {
                attempt += 1
                batchesRetried.increment()
                logger.warning(
                    "Produced messages not acknowledged, processing the batch again",
                    metadata: ["error": .failure(error)])
                if stop.isSet && attempt > 3 { return }
                try? await Task.sleep(for: CeleryQueueConsumer.backoff(attempt: attempt))
                since = producer.mark()
                guard await process(batches.flatMap(\.messages)) else { return }
            }
        }
        var offsets: [TopicPartition: Int64] = [:]
        for batch in batches {
            for message in batch.messages {
                let partition = TopicPartition(topic: message.topic, partition: message.partition)
                offsets[partition] = max(offsets[partition] ?? 0, message.offset + 1)
            }
        }
        do {
            try await consumer.commit(offsets, onlyAssigned: true)
        } catch {
            // Not fatal: these offsets are redelivered and their events written again.
            logger.warning("Offsets not committed", metadata: ["error": .failure(error), "offsets": "\(offsets)"])
        }
        let now = ContinuousClock.now
        for batch in batches { metrics?.timing(.eachBatch, seconds: (now - batch.start).inSeconds) }
    }

    /// True once the message is done (stored, dropped, or dead-lettered); false when it was given up
    /// at shutdown and must not be committed.
    private func handle(_ message: KafkaMessage) async -> Bool {
        var attempt = 0
        while true {
            do {
                let event = try KafkaEventDecoder.event(from: message.value)
                _ = try await pipeline.process(event, messageKey: nil)
                messagesStored.increment()
                status.recordIngestion()
                return true
            } catch let error as KafkaDecodingError {
                deadLetter(message, reason: error.reason)
                return true
            } catch let error as IngestionError where error.kind == .permanent {
                deadLetter(message, reason: error.description)
                return true
            } catch {
                attempt += 1
                if stop.isSet && attempt > 3 {
                    logger.warning("Leaving a message for redelivery at shutdown", metadata: ["error": .failure(error)])
                    return false
                }
                if attempt == 1 || attempt % 20 == 0 {
                    logger.warning(
                        "Event could not be stored yet, retrying",
                        metadata: [
                            "error": .failure(error), "attempt": "\(attempt)", "partition": "\(message.partition)",
                            "offset": "\(message.offset)",
                        ])
                    if attempt == 1 { errors?.capture(error, tags: ["topic": topic]) }
                }
                try? await Task.sleep(for: CeleryQueueConsumer.backoff(attempt: attempt))
            }
        }
    }

    /// The original bytes and key, with where they came from and why in headers; acknowledged with
    /// the batch's other output before its offsets are committed.
    private func deadLetter(_ message: KafkaMessage, reason: String) {
        messagesDeadLettered.increment()
        errors?.capture(
            SentryReport(
                type: "DeadLetteredMessage", message: reason, tags: ["topic": topic],
                extra: ["partition": .number(Double(message.partition)), "offset": .number(Double(message.offset))]))
        logger.error(
            "Message set aside in the dead-letter topic",
            metadata: [
                "reason": "\(reason)", "dead_letter_topic": "\(deadLetterTopic)", "partition": "\(message.partition)",
                "offset": "\(message.offset)",
            ])
        var letter = KafkaOutgoingMessage(
            topic: deadLetterTopic, key: message.key, value: message.value,
            headers: [
                KafkaHeader(name: "dead_letter_reason", value: reason), KafkaHeader(name: "source_topic", value: message.topic),
                KafkaHeader(name: "source_partition", value: "\(message.partition)"),
                KafkaHeader(name: "source_offset", value: "\(message.offset)"), KafkaHeader(name: "instance_id", value: instanceId),
                KafkaHeader(name: "failed_at", value: EventTimestamp.now().isoString),
            ])
        // A message the broker took but the producer may not send (a broker allowing more than
        // librdkafka's default) would fail its batch's flush at every try: its value stays where it was.
        if !KafkaProducer.accepts(letter) {
            letter.headers.append(
                KafkaHeader(
                    name: "value_omitted",
                    value: "\(message.value.count) bytes, over the \(KafkaProducer.maximumMessageBytes)-byte message limit: "
                        + "read it at source_topic, source_partition, source_offset"))
            letter.value = []
        }
        producer.enqueue(letter)
    }
}
