import Kafka
import Testing

@testable import PluginServer

/// The original's producer wrapper tests (wire-formats.md §3.4): max queue 4, max bytes 500,
/// frequency 20 s.
@Suite struct ProducerBufferTests {
    static func message(_ bytes: Int) -> KafkaOutgoingMessage {
        KafkaOutgoingMessage(topic: "t", key: Array("key".utf8), value: [UInt8](repeating: 0x61, count: bytes))
    }

    static func buffer(queue: Int = 4) -> ProducerBuffer {
        ProducerBuffer(maxQueueSize: queue, maxBatchBytes: 500, flushIntervalMilliseconds: 20_000, nowMilliseconds: 0)
    }

    @Test("three small messages stay buffered; the fourth sends all four")
    func queueSize() {
        var buffer = Self.buffer()
        for _ in 0..<3 { #expect(buffer.enqueue(Self.message(10), nowMilliseconds: 0).isEmpty) }
        let sends = buffer.enqueue(Self.message(10), nowMilliseconds: 0)
        #expect(sends.map(\.count) == [4])
        #expect(buffer.messages.isEmpty && buffer.bytes == 0)
    }

    @Test("450 + 40 bytes stay buffered; a further 40 sends the first two and keeps the new one")
    func batchBytes() {
        var buffer = Self.buffer()
        #expect(buffer.enqueue(Self.message(450), nowMilliseconds: 0).isEmpty)
        #expect(buffer.enqueue(Self.message(40), nowMilliseconds: 0).isEmpty)
        let sends = buffer.enqueue(Self.message(40), nowMilliseconds: 0)
        #expect(sends.map { $0.map(\.value.count) } == [[450, 40]])
        #expect(buffer.messages.count == 1 && buffer.bytes == 40)
    }

    @Test("at t, t+15 s and t+21 s the third enqueue sends all three (strictly more than 20 s)")
    func frequency() {
        var buffer = Self.buffer()
        #expect(buffer.enqueue(Self.message(1), nowMilliseconds: 0).isEmpty)
        #expect(buffer.enqueue(Self.message(1), nowMilliseconds: 15_000).isEmpty)
        #expect(buffer.enqueue(Self.message(1), nowMilliseconds: 21_000).map(\.count) == [3])
    }

    @Test("exactly 20 s after the last send is not yet more than 20 s")
    func frequencyBoundary() {
        var buffer = Self.buffer()
        #expect(buffer.enqueue(Self.message(1), nowMilliseconds: 20_000).isEmpty)
        #expect(buffer.enqueue(Self.message(1), nowMilliseconds: 20_001).map(\.count) == [2])
    }

    @Test("a message larger than the batch limit is sent alone, after what was buffered (not dropped)")
    func oversized() {
        var buffer = Self.buffer()
        #expect(buffer.enqueue(Self.message(600), nowMilliseconds: 0).map { $0.map(\.value.count) } == [[600]])
        #expect(buffer.enqueue(Self.message(10), nowMilliseconds: 0).isEmpty)
        #expect(buffer.enqueue(Self.message(600), nowMilliseconds: 0).map { $0.map(\.value.count) } == [[10], [600]])
        #expect(buffer.messages.isEmpty)
    }

    @Test("max queue size 0 (the test environment) sends every message at once")
    func zeroQueue() {
        var buffer = Self.buffer(queue: 0)
        #expect(buffer.enqueue(Self.message(1), nowMilliseconds: 0).map(\.count) == [1])
        #expect(buffer.enqueue(Self.message(1), nowMilliseconds: 0).map(\.count) == [1])
    }

    @Test("the timer and shutdown drain what is buffered, keeping enqueue order")
    func drain() {
        var buffer = Self.buffer()
        _ = buffer.enqueue(Self.message(1), nowMilliseconds: 0)
        _ = buffer.enqueue(Self.message(2), nowMilliseconds: 0)
        #expect(buffer.drain(nowMilliseconds: 5)?.map(\.value.count) == [1, 2])
        #expect(buffer.drain(nowMilliseconds: 6) == nil)
        #expect(buffer.lastSendMilliseconds == 5)
    }
}
