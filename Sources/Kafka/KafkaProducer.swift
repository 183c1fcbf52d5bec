import CRdKafka
import Foundation
import Synchronization

/// A librdkafka producer whose `send` returns once the broker has acknowledged every message of the
/// batch (or throws the first failure), so a consumer can commit offsets only after its output is
/// stored. A thread of its own serves librdkafka's delivery reports.
public final class KafkaProducer: @unchecked Sendable {
    // @unchecked: `handle` is immutable after init and librdkafka's producer handle is thread-safe;
    // `closed` is atomic; the poll thread is joined in `close()` before the handle is destroyed.
    private let handle: OpaquePointer
    private let closed = ClosedFlag()
    private let pollThreadDone = DispatchSemaphore(value: 0)

    /// librdkafka's default `message.max.bytes`, set explicitly: a message larger than this (key, value
    /// and headers) is refused before it is sent, however often it is tried again.
    public static let maximumMessageBytes = 1_000_000

    /// Whether `message` is within `maximumMessageBytes`; one that is not can never be sent.
    public static func accepts(_ message: KafkaOutgoingMessage) -> Bool { message.size <= maximumMessageBytes }

    /// `properties` are librdkafka producer settings, applied over the defaults (acks all, no
    /// compression, no idempotence, 10 retries from 1 s: wire-formats.md §3.1).
    public init(configuration: KafkaConfiguration, properties: [String: String] = [:]) throws(KafkaError) {
        let defaults: [(String, String)] = [
            ("acks", "all"), ("compression.type", "none"), ("enable.idempotence", "false"), ("retries", "10"),
            ("retry.backoff.ms", "1000"), ("linger.ms", "5"), ("message.max.bytes", String(Self.maximumMessageBytes)),
        ]
        let conf = try configuration.makeConf(extra: defaults + properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
            guard let message, let opaque = message.pointee._private else { return }
            let batch = Unmanaged<DeliveryBatch>.fromOpaque(opaque).takeRetainedValue()
            batch.delivered(message.pointee.err, topic: message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) })
        }
        var errorText = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(.clientCreation, KafkaError.text(errorText))
        }
        self.handle = handle
        let polled = PollTarget(handle: handle)
        let thread = Thread { [closed, pollThreadDone] in
            while !closed.isSet { rd_kafka_poll(polled.handle, 100) }
            pollThreadDone.signal()
        }
        thread.name = "kafka-producer-poll"
        thread.start()
    }

    /// Queues every message and waits until the broker acknowledged all of them. Throws the first
    /// failure once every message has a result; messages keep their order per topic/partition.
    public func send(_ messages: [KafkaOutgoingMessage]) async throws(KafkaError) {
        guard !messages.isEmpty else { return }
        guard !closed.isSet else { throw KafkaError(.closed, "the producer is closed") }
        let batch = DeliveryBatch(count: messages.count)
        let failure: KafkaError? = await withCheckedContinuation { continuation in
            batch.setContinuation(continuation)
            for message in messages {
                if let error = produce(message, batch: batch) { batch.failedToQueue(error) }
            }
        }
        if let failure { throw failure }
    }

    /// Queues one message; on a full local queue, serves delivery reports and tries again.
    private func produce(_ message: KafkaOutgoingMessage, batch: DeliveryBatch) -> KafkaError? {
        let opaque = Unmanaged.passRetained(batch).toOpaque()
        while true {
            var headers: OpaquePointer?
            if !message.headers.isEmpty {
                headers = rd_kafka_headers_new(message.headers.count)
                for header in message.headers {
                    _ = header.value.withUnsafeBytes { bytes in
                        rd_kafka_header_add(headers, header.name, -1, bytes.baseAddress, bytes.count)
                    }
                }
            }
            let result = message.value.withUnsafeBytes { value in
                withKey(message.key) { keyPointer, keyCount in
                    swift_rdkafka_produce(handle, message.topic, value.baseAddress, value.count, keyPointer, keyCount, headers, opaque)
                }
            }
            if result == RD_KAFKA_RESP_ERR_NO_ERROR { return nil }
            if let headers { rd_kafka_headers_destroy(headers) }
            if result == RD_KAFKA_RESP_ERR__QUEUE_FULL && !closed.isSet {
                rd_kafka_poll(handle, 10)
                continue
            }
            Unmanaged<DeliveryBatch>.fromOpaque(opaque).release()
            return KafkaError(.produce, response: result, topic: message.topic)
        }
    }

    private func withKey<R>(_ key: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
        guard let key else { return body(nil, 0) }
        return key.withUnsafeBytes { body($0.baseAddress, $0.count) }
    }

    /// Messages queued in librdkafka and not yet acknowledged.
    public var outstanding: Int { Int(rd_kafka_outq_len(handle)) }

    /// Waits up to `timeout` for every queued message to be acknowledged, then stops the client.
    /// Later `send`s throw `.closed`. Call once.
    public func close(timeout: Duration = .seconds(10)) {
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        _ = rd_kafka_flush(handle, milliseconds)
        closed.set()
        pollThreadDone.wait()
        // Reports still queued after the timeout resume their senders with an error.
        rd_kafka_purge(handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
        rd_kafka_poll(handle, 0)
        rd_kafka_destroy(handle)
    }
}

/// Set once, when the producer closes; shared with the poll thread.
private final class ClosedFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// The handle as the poll thread sees it.
private struct PollTarget: @unchecked Sendable {
    // @unchecked: librdkafka's handle is thread-safe, and it outlives the thread (joined in close()).
    let handle: OpaquePointer
}

/// Counts a `send`'s delivery reports and resumes the sender when the last one arrives.
private final class DeliveryBatch: Sendable {
    private struct State {
        var remaining: Int
        var failure: KafkaError?
        var continuation: CheckedContinuation<KafkaError?, Never>?
    }
    private let state: Mutex<State>

    init(count: Int) { state = Mutex(State(remaining: count)) }

    func setContinuation(_ continuation: CheckedContinuation<KafkaError?, Never>) {
        state.withLock { $0.continuation = continuation }
    }

    func delivered(_ error: rd_kafka_resp_err_t, topic: String?) {
        finish(error == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(.delivery, response: error, topic: topic))
    }

    func failedToQueue(_ error: KafkaError) { finish(error) }

    private func finish(_ error: KafkaError?) {
        let resume: (CheckedContinuation<KafkaError?, Never>, KafkaError?)? = state.withLock { state in
            if state.failure == nil, let error { state.failure = error }
            state.remaining -= 1
            guard state.remaining == 0, let continuation = state.continuation else { return nil }
            state.continuation = nil
            return (continuation, state.failure)
        }
        if let (continuation, failure) = resume { continuation.resume(returning: failure) }
    }
}
