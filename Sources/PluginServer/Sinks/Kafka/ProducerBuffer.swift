import Kafka

/// The original's producer buffer (wire-formats.md §3.4) as a state machine: given an enqueue or a
/// timer tick at a time, it says which batches to send now. Sizes are value bytes; keys are free.
struct ProducerBuffer: Sendable {
    let maxQueueSize: Int
    let maxBatchBytes: Int
    let flushIntervalMilliseconds: Int64

    private(set) var messages: [KafkaOutgoingMessage] = []
    private(set) var bytes = 0
    private(set) var lastSendMilliseconds: Int64

    init(maxQueueSize: Int, maxBatchBytes: Int, flushIntervalMilliseconds: Int64, nowMilliseconds: Int64) {
        self.maxQueueSize = maxQueueSize
        self.maxBatchBytes = maxBatchBytes
        self.flushIntervalMilliseconds = flushIntervalMilliseconds
        self.lastSendMilliseconds = nowMilliseconds
    }

    /// Batches to send, in order (zero, one or two).
    mutating func enqueue(_ message: KafkaOutgoingMessage, nowMilliseconds now: Int64) -> [[KafkaOutgoingMessage]] {
        let size = message.value.count
        var sends: [[KafkaOutgoingMessage]] = []
        if size > maxBatchBytes {
            // Bug fix (§3.4): the original silently dropped such a message when the buffer was
            // empty; it is sent alone instead, after what was buffered before it.
            if let batch = take(now: now) { sends.append(batch) }
            sends.append([message])
            lastSendMilliseconds = now
            return sends
        }
        if bytes + size > maxBatchBytes {
            if let batch = take(now: now) { sends.append(batch) }
            messages = [message]
            bytes = size
            return sends
        }
        messages.append(message)
        bytes += size
        if now - lastSendMilliseconds > flushIntervalMilliseconds || messages.count >= maxQueueSize {
            if let batch = take(now: now) { sends.append(batch) }
        }
        return sends
    }

    /// The timer's and shutdown's send: whatever is buffered.
    mutating func drain(nowMilliseconds now: Int64) -> [KafkaOutgoingMessage]? { take(now: now) }

    private mutating func take(now: Int64) -> [KafkaOutgoingMessage]? {
        guard !messages.isEmpty else { return nil }
        defer {
            messages = []
            bytes = 0
            lastSendMilliseconds = now
        }
        return messages
    }
}
