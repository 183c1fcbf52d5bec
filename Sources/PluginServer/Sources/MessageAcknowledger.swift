/// Acknowledges handled queue messages many at a time: the first acknowledgement starts a flush at
/// once, and those arriving while it is under way go together in the next one. A message is
/// acknowledged only after its own handling finished, and its handler resumes once the flush that
/// carried it is done, so nothing is removed from the queue before it is stored, and a quiet queue
/// gets no added latency.
actor MessageAcknowledger {
    typealias Flush = @Sendable ([[UInt8]]) async -> Void

    private let flush: Flush
    private let maxBatch: Int
    private var waiting: [(message: [UInt8], done: CheckedContinuation<Void, Never>)] = []
    private var flushing = false

    /// `flush` must not return before the messages are acknowledged (or given up on at shutdown).
    init(maxBatch: Int = 500, flush: @escaping Flush) {
        self.flush = flush
        self.maxBatch = max(1, maxBatch)
    }

    func acknowledge(_ message: [UInt8]) async {
        await withCheckedContinuation { continuation in
            waiting.append((message, continuation))
            if !flushing {
                flushing = true
                Task { await self.flushWaiting() }
            }
        }
    }

    /// Acknowledgements waiting for a flush (tests).
    var waitingCount: Int { waiting.count }

    private func flushWaiting() async {
        while !waiting.isEmpty {
            let batch = Array(waiting.prefix(maxBatch))
            waiting.removeFirst(batch.count)
            await flush(batch.map(\.message))
            for entry in batch { entry.done.resume() }
        }
        flushing = false
    }
}
