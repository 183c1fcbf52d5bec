import Kafka
import Synchronization

/// The Kafka consumer's batches that were processed and wait for the broker to acknowledge their
/// output and for their offsets' commit, oldest first. The consumer adds each batch and goes on with
/// the next while those waiting hold at most `messageLimit` messages and `byteLimit` bytes (one
/// batch always fits); the committer takes every batch waiting at once, so one flush and one commit
/// cover all the batches processed while the previous commit ran.
final class UncommittedBatches: Sendable {
    struct Batch: Sendable {
        let messages: [KafkaMessage]
        /// The producer's mark before the batch was processed: its output was sent after it.
        let mark: Int
        let start: ContinuousClock.Instant
        let bytes: Int

        init(messages: [KafkaMessage], mark: Int, start: ContinuousClock.Instant) {
            self.messages = messages
            self.mark = mark
            self.start = start
            bytes = messages.reduce(0) { $0 + $1.value.count + ($1.key?.count ?? 0) }
        }
    }

    private struct State {
        var queued: [Batch] = []
        /// Waiting or being committed.
        var batches = 0
        var messages = 0
        var bytes = 0
        var committer: CheckedContinuation<[Batch], Never>?
        var consumer: CheckedContinuation<Void, Never>?
        var isClosed = false

        func hasRoom(messageLimit: Int, byteLimit: Int) -> Bool {
            batches <= 1 || (messages <= messageLimit && bytes <= byteLimit)
        }
    }

    let messageLimit: Int
    let byteLimit: Int
    private let state = Mutex(State())

    init(messageLimit: Int, byteLimit: Int) {
        self.messageLimit = messageLimit
        self.byteLimit = byteLimit
    }

    /// How many messages wait for their commit (or are being committed).
    var messages: Int { state.withLock { $0.messages } }

    /// Adds a processed batch; returns once there is room to process the next one.
    func add(_ batch: Batch) async {
        let committer = state.withLock { state -> CheckedContinuation<[Batch], Never>? in
            state.batches += 1
            state.messages += batch.messages.count
            state.bytes += batch.bytes
            if let committer = state.committer {
                state.committer = nil
                return committer
            }
            state.queued.append(batch)
            return nil
        }
        committer?.resume(returning: [batch])
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let hasRoom = state.withLock { state in
                if state.hasRoom(messageLimit: messageLimit, byteLimit: byteLimit) { return true }
                state.consumer = continuation
                return false
            }
            if hasRoom { continuation.resume() }
        }
    }

    /// Every batch waiting, oldest first, once there is one; empty once closed with none left.
    func take() async -> [Batch] {
        await withCheckedContinuation { continuation in
            let taken = state.withLock { state -> [Batch]? in
                if !state.queued.isEmpty || state.isClosed {
                    defer { state.queued.removeAll() }
                    return state.queued
                }
                state.committer = continuation
                return nil
            }
            if let taken { continuation.resume(returning: taken) }
        }
    }

    /// The batches last taken were committed (or given up at shutdown): they leave the window.
    func done(_ batches: [Batch]) {
        let consumer = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.batches -= batches.count
            for batch in batches {
                state.messages -= batch.messages.count
                state.bytes -= batch.bytes
            }
            guard state.hasRoom(messageLimit: messageLimit, byteLimit: byteLimit) else { return nil }
            defer { state.consumer = nil }
            return state.consumer
        }
        consumer?.resume()
    }

    /// No more batches: the committer takes what is left, then an empty list.
    func close() {
        let committer = state.withLock { state -> CheckedContinuation<[Batch], Never>? in
            state.isClosed = true
            defer { state.committer = nil }
            return state.committer
        }
        committer?.resume(returning: [])
    }
}
