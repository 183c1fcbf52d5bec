import CRdKafka
import Foundation
import Synchronization

/// A librdkafka consumer: in a group (`subscribe`, partitions handed out by the broker, assignment
/// tracked by the rebalance callback) or on partitions it picks itself (`assign`). Offsets are never
/// committed behind the caller's back: only `commit` stores them. Blocking librdkafka calls run on
/// a queue of the consumer's own, never on the caller's thread.
public final class KafkaConsumer: @unchecked Sendable {
    // @unchecked: `handle` is immutable after init and librdkafka's consumer handle is thread-safe;
    // every blocking call goes through the serial `queue`; `assignmentState` is behind a Mutex.
    private let handle: OpaquePointer
    private let queue: DispatchQueue
    /// Where the answers to commits are awaited, and how many still are (the handle outlives them).
    private let commitAnswers: DispatchQueue
    private let commitsAwaited = DispatchGroup()
    private let assignmentState = Mutex<(partitions: Set<TopicPartition>, generation: Int)>(([], 0))
    private let isClosed = Atomic<Bool>(false)
    /// The rebalance callback's way back to `self`; lives as long as the handle.
    private let box: OpaqueBox

    /// `properties` are librdkafka consumer settings over the defaults (no auto commit, no automatic
    /// offset store, read committed, `auto.offset.reset` latest as the original's client).
    public init(configuration: KafkaConfiguration, groupId: String, properties: [String: String] = [:]) throws(KafkaError) {
        let defaults: [(String, String)] = [
            ("group.id", groupId), ("enable.auto.commit", "false"), ("enable.auto.offset.store", "false"),
            ("isolation.level", "read_committed"), ("auto.offset.reset", "latest"), ("enable.partition.eof", "false"),
        ]
        let conf = try configuration.makeConf(extra: defaults + properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        queue = DispatchQueue(label: "kafka-consumer-\(groupId)")
        commitAnswers = DispatchQueue(label: "kafka-consumer-commits-\(groupId)")
        var errorText = [CChar](repeating: 0, count: 512)
        // The opaque is set below, once `self` exists; the callback only runs inside poll or close.
        rd_kafka_conf_set_rebalance_cb(conf) { handle, error, partitions, opaque in
            guard let handle, let opaque, let pointer = Unmanaged<OpaqueBox>.fromOpaque(opaque).takeUnretainedValue().pointer else {
                return
            }
            let consumer = Unmanaged<KafkaConsumer>.fromOpaque(pointer).takeUnretainedValue()
            consumer.rebalance(handle: handle, error: error, partitions: partitions)
        }
        let box = OpaqueBox()
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(box).toOpaque())
        guard let handle = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(.clientCreation, KafkaError.text(errorText))
        }
        self.handle = handle
        self.box = box
        rd_kafka_poll_set_consumer(handle)
        box.set(Unmanaged.passUnretained(self).toOpaque())
    }

    /// Joins the group on `topics`; the broker hands out partitions during later `poll`s.
    public func subscribe(_ topics: [String]) throws(KafkaError) {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
        let result = rd_kafka_subscribe(handle, list)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(.subscribe, response: result) }
    }

    /// Where `assign` starts reading.
    public enum StartOffset: Sendable {
        case beginning, end
    }

    /// Reads the given partitions without a group, from their beginning or from what is produced next.
    public func assign(_ partitions: [TopicPartition], from start: StartOffset = .beginning) throws(KafkaError) {
        let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let offset = Int64(start == .beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END)
        for partition in partitions {
            rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)?.pointee.offset = offset
        }
        let result = rd_kafka_assign(handle, list)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(.subscribe, response: result) }
        assignmentState.withLock { $0 = (Set(partitions), $0.generation + 1) }
    }

    /// The partitions this consumer holds now.
    public var assignment: Set<TopicPartition> { assignmentState.withLock { $0.partitions } }

    /// Increases on every assignment change: a batch taken under one generation and finished under
    /// another may have lost its partitions.
    public var assignmentGeneration: Int { assignmentState.withLock { $0.generation } }

    /// Up to `maxMessages` records: waits up to `timeout` for the first, then takes what is already
    /// fetched. Rebalances are served here. Errors the client recovers from by itself are skipped.
    public func poll(maxMessages: Int, timeout: Duration) async throws(KafkaError) -> [KafkaMessage] {
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let result: Result<[KafkaMessage], KafkaError> = await withCheckedContinuation { continuation in
            queue.async { [self] in
                guard !isClosed.load(ordering: .acquiring) else {
                    continuation.resume(returning: .failure(KafkaError(.closed, "the consumer is closed")))
                    return
                }
                var messages: [KafkaMessage] = []
                while messages.count < maxMessages {
                    guard let raw = rd_kafka_consumer_poll(handle, messages.isEmpty ? milliseconds : 0) else { break }
                    defer { rd_kafka_message_destroy(raw) }
                    let message = raw.pointee
                    if message.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                        if rd_kafka_fatal_error(handle, nil, 0) != RD_KAFKA_RESP_ERR_NO_ERROR {
                            continuation.resume(returning: .failure(KafkaError(.consume, response: message.err)))
                            return
                        }
                        continue
                    }
                    messages.append(Self.copy(raw))
                }
                continuation.resume(returning: .success(messages))
            }
        }
        return try result.get()
    }

    private static func copy(_ raw: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaMessage {
        let message = raw.pointee
        let topic = message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        let value = message.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: message.len)) } ?? []
        let key = message.key.map { Array(UnsafeRawBufferPointer(start: $0, count: message.key_len)) }
        var headers: [KafkaHeader] = []
        var list: OpaquePointer?
        if rd_kafka_message_headers(raw, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list {
            var index = 0
            var name: UnsafePointer<CChar>?
            var pointer: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(list, index, &name, &pointer, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                let bytes = pointer.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                headers.append(KafkaHeader(name: name.map { String(cString: $0) } ?? "", value: bytes))
                index += 1
            }
        }
        return KafkaMessage(topic: topic, partition: message.partition, offset: message.offset, key: key, value: value, headers: headers)
    }

    /// Commits `offsets` as the next offsets to read (last processed + 1) and waits for the broker's
    /// answer. With `onlyAssigned`, partitions this consumer does not hold when the commit is made are
    /// left out (decided on the queue that serves rebalances, so none can slip in between). The
    /// request is made on that queue, but its answer is awaited off it: polls go on meanwhile (a
    /// commit took the test broker about 4 ms, in which a poll used to wait).
    public func commit(_ offsets: [TopicPartition: Int64], onlyAssigned: Bool = false) async throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        let requested: Result<CommitReplies?, KafkaError> = await withCheckedContinuation { continuation in
            queue.async { [self] in
                guard !isClosed.load(ordering: .acquiring) else {
                    continuation.resume(returning: .failure(KafkaError(.closed, "the consumer is closed")))
                    return
                }
                var offsets = offsets
                if onlyAssigned {
                    let assigned = assignment
                    offsets = offsets.filter { assigned.contains($0.key) }
                    guard !offsets.isEmpty else {
                        continuation.resume(returning: .success(nil))
                        return
                    }
                }
                let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))
                defer { rd_kafka_topic_partition_list_destroy(list) }
                for (partition, offset) in offsets {
                    rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)?.pointee.offset = offset
                }
                guard let replies = rd_kafka_queue_new(handle) else {
                    continuation.resume(returning: .failure(KafkaError(.commit, "no queue for the commit's answer")))
                    return
                }
                commitsAwaited.enter()
                let result = rd_kafka_commit_queue(handle, list, replies, nil, nil)
                guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    rd_kafka_queue_destroy(replies)
                    commitsAwaited.leave()
                    continuation.resume(returning: .failure(KafkaError(.commit, response: result)))
                    return
                }
                continuation.resume(returning: .success(CommitReplies(queue: replies)))
            }
        }
        guard let replies = try requested.get() else { return }
        let result: rd_kafka_resp_err_t = await withCheckedContinuation { continuation in
            commitAnswers.async { [self] in
                defer { commitsAwaited.leave() }
                continuation.resume(returning: Self.awaitCommitAnswer(replies.queue))
            }
        }
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(.commit, response: result) }
    }

    /// The queue a commit's answer goes to, handed from the consumer's queue to the one that awaits it.
    private struct CommitReplies: @unchecked Sendable {
        let queue: OpaquePointer
    }

    /// The answer to the commit whose result goes to `replies` (then destroyed): its error, or the
    /// first partition's.
    private static func awaitCommitAnswer(_ replies: OpaquePointer) -> rd_kafka_resp_err_t {
        defer { rd_kafka_queue_destroy(replies) }
        // librdkafka answers every commit request, if only with a timeout error of its own.
        while true {
            guard let event = rd_kafka_queue_poll(replies, 1000) else { continue }
            defer { rd_kafka_event_destroy(event) }
            guard rd_kafka_event_type(event) == RD_KAFKA_EVENT_OFFSET_COMMIT else { continue }
            var result = rd_kafka_event_error(event)
            if result == RD_KAFKA_RESP_ERR_NO_ERROR, let list = rd_kafka_event_topic_partition_list(event) {
                for index in 0..<Int(list.pointee.cnt) where list.pointee.elems[index].err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    result = list.pointee.elems[index].err
                }
            }
            return result
        }
    }

    /// The partition count of `topic` as the cluster reports it.
    public func partitionCount(of topic: String, timeout: Duration = .seconds(10)) throws(KafkaError) -> Int {
        let topicHandle = rd_kafka_topic_new(handle, topic, nil)
        defer { rd_kafka_topic_destroy(topicHandle) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let result = rd_kafka_metadata(handle, 0, topicHandle, &metadata, Int32(timeout.components.seconds * 1000))
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(.metadata, response: result, topic: topic) }
        defer { rd_kafka_metadata_destroy(metadata) }
        guard metadata.pointee.topic_cnt > 0, metadata.pointee.topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.metadata, "no such topic", topic: topic)
        }
        return Int(metadata.pointee.topics[0].partition_cnt)
    }

    /// Leaves the group (its partitions go to the other members at once) and frees the client.
    public func close() async {
        guard !isClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { [self] in
                commitsAwaited.wait()
                _ = rd_kafka_consumer_close(handle)
                rd_kafka_destroy(handle)
                continuation.resume()
            }
        }
    }

    // MARK: Rebalance

    private func rebalance(
        handle: OpaquePointer, error: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        var changed: [TopicPartition] = []
        if let partitions {
            for index in 0..<Int(partitions.pointee.cnt) {
                let element = partitions.pointee.elems[index]
                changed.append(TopicPartition(topic: String(cString: element.topic), partition: element.partition))
            }
        }
        if error == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
            if cooperative { _ = rd_kafka_incremental_assign(handle, partitions) } else { _ = rd_kafka_assign(handle, partitions) }
            assignmentState.withLock { state in
                state.partitions = cooperative ? state.partitions.union(changed) : Set(changed)
                state.generation += 1
            }
        } else {
            // Revoked (or lost): nothing is committed for these partitions from now on; a batch in
            // progress is redelivered to their new owner.
            if cooperative { _ = rd_kafka_incremental_unassign(handle, partitions) } else { _ = rd_kafka_assign(handle, nil) }
            assignmentState.withLock { state in
                state.partitions = cooperative ? state.partitions.subtracting(changed) : []
                state.generation += 1
            }
        }
    }
}

/// Holds the consumer's address for the rebalance callback, which librdkafka gives only the opaque
/// set on the configuration (before the consumer exists).
private final class OpaqueBox: @unchecked Sendable {
    // @unchecked: written once in KafkaConsumer.init before any callback can run.
    var pointer: UnsafeMutableRawPointer?
    func set(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}
