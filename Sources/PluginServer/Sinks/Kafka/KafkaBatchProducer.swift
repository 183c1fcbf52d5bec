import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Synchronization

/// Every message the server writes to Kafka goes through here: buffered and sent in batches as the
/// original did (`ProducerBuffer`, wire-formats.md §3.4), sent every KAFKA_FLUSH_FREQUENCY_MS by
/// `run()` and flushed at shutdown. `flush(since:)` returns once everything enqueued before it has
/// been acknowledged by the broker: the consumer commits offsets only after it. Sends are numbered,
/// so that a flush answers for the sends that can hold its batch's messages (those started since
/// the batch began, `mark()`), also while the next batch is already being processed.
final class KafkaBatchProducer: Service, Sendable {
    let producer: KafkaProducer
    let logger: Logger
    let metrics: ServerMetrics?
    private let buffer: Mutex<ProducerBuffer>
    private let flushInterval: Duration
    /// Sends in progress by id, and failed sends by id (forgotten once no batch can hold their messages).
    private let sends = Mutex<(next: Int, running: [Int: Task<Void, Never>], failures: [Int: KafkaError])>((0, [:], [:]))
    private let startedAt = ContinuousClock.now

    init(producer: KafkaProducer, settings: ServerSettings.Kafka, metrics: ServerMetrics? = nil, logger: Logger) {
        self.producer = producer
        self.logger = logger
        self.metrics = metrics
        self.flushInterval = .milliseconds(settings.flushFrequencyMilliseconds)
        self.buffer = Mutex(
            ProducerBuffer(
                maxQueueSize: settings.producerMaxQueueSize, maxBatchBytes: settings.maxMessageBatchSize,
                flushIntervalMilliseconds: Int64(settings.flushFrequencyMilliseconds), nowMilliseconds: 0))
    }

    private var nowMilliseconds: Int64 {
        let elapsed = ContinuousClock.now - startedAt
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }

    /// Buffers one message; a batch it completes is sent without waiting for its acknowledgement.
    func enqueue(_ message: KafkaOutgoingMessage) {
        let now = nowMilliseconds
        let batches = buffer.withLock { $0.enqueue(message, nowMilliseconds: now) }
        for batch in batches { startSend(batch) }
    }

    private func startSend(_ batch: [KafkaOutgoingMessage]) {
        sends.withLock { state in
            let id = state.next
            state.next += 1
            state.running[id] = Task {
                let start = ContinuousClock.now
                do {
                    try await self.producer.send(batch)
                    self.sends.withLock { _ = $0.running.removeValue(forKey: id) }
                } catch {
                    self.logger.error(
                        "Kafka batch not acknowledged",
                        metadata: ["messages": "\(batch.count)", "error": .failure(error)])
                    self.sends.withLock { state in
                        state.running.removeValue(forKey: id)
                        state.failures[id] = error as? KafkaError ?? KafkaError(.delivery, "\(error)")
                    }
                }
                self.metrics?.timing(.kafkaSend, seconds: (ContinuousClock.now - start).inSeconds)
            }
        }
    }

    /// Sends what is buffered now, without waiting for its acknowledgement: a consumer batch's output
    /// leaves as the batch ends instead of waiting for the next flush.
    func sendBuffered() {
        let now = nowMilliseconds
        if let batch = buffer.withLock({ $0.drain(nowMilliseconds: now) }) { startSend(batch) }
    }

    /// Where a batch begins: sends started before it hold none of the messages enqueued after it.
    func mark() -> Int { sends.withLock { $0.next } }

    /// Sends what is buffered and waits for every send started so far; throws if a send started at
    /// or after `mark` failed (some message enqueued since then is lost: the caller must not commit
    /// past it). Failures stay known until `forgetFailures(before:)`.
    func flush(since mark: Int = 0) async throws(KafkaError) {
        sendBuffered()
        let running = sends.withLock { Array($0.running.values) }
        for task in running { await task.value }
        let failure = sends.withLock { state in state.failures.filter { $0.key >= mark }.min { $0.key < $1.key }?.value }
        if let failure { throw failure }
    }

    /// Drops the failures of sends started before `mark`, once no batch still to be committed can
    /// hold their messages.
    func forgetFailures(before mark: Int) {
        sends.withLock { state in state.failures = state.failures.filter { $0.key >= mark } }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.flushInterval)
                let now = self.nowMilliseconds
                if let batch = self.buffer.withLock({ $0.drain(nowMilliseconds: now) }) { self.startSend(batch) }
            }
        }
        do {
            try await flush()
        } catch {
            logger.error("Kafka messages lost at shutdown", metadata: ["error": .failure(error)])
        }
        producer.close()
    }
}
