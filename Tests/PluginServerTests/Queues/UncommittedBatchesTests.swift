import Kafka
import Synchronization
import Testing

@testable import PluginServer

@Suite struct UncommittedBatchesTests {
    private func batch(_ offsets: Range<Int64>, bytes: Int = 10, mark: Int = 0) -> UncommittedBatches.Batch {
        let messages = offsets.map {
            KafkaMessage(topic: "events", partition: 0, offset: $0, key: nil, value: Array(repeating: 0, count: bytes))
        }
        return UncommittedBatches.Batch(messages: messages, mark: mark, start: .now)
    }

    /// Runs `add` in a task and reports whether it returned within a short wait.
    private func adding(_ window: UncommittedBatches, _ batch: UncommittedBatches.Batch) async throws -> (Task<Void, Never>, Bool) {
        let returned = Atomic<Bool>(false)
        let task = Task {
            await window.add(batch)
            returned.store(true, ordering: .relaxed)
        }
        try await Task.sleep(for: .milliseconds(50))
        return (task, returned.load(ordering: .relaxed))
    }

    @Test("the committer takes every batch waiting, oldest first, in one go")
    func takesAllWaiting() async {
        let window = UncommittedBatches(messageLimit: 100, byteLimit: 1 << 20)
        await window.add(batch(0..<10, mark: 1))
        await window.add(batch(10..<20, mark: 2))
        await window.add(batch(20..<25, mark: 3))
        let taken = await window.take()
        #expect(taken.map(\.mark) == [1, 2, 3])
        #expect(taken.flatMap(\.messages).map(\.offset) == Array(0..<25))
        #expect(window.messages == 25, "taken batches count until they are committed")
        window.done(taken)
        #expect(window.messages == 0)
    }

    @Test("past the message limit the next batch waits until a commit frees the window")
    func messageLimitHoldsTheConsumer() async throws {
        let window = UncommittedBatches(messageLimit: 15, byteLimit: 1 << 20)
        await window.add(batch(0..<10))
        let first = await window.take()
        let (task, returned) = try await adding(window, batch(10..<20))
        #expect(!returned, "20 messages waiting, over the limit of 15")
        window.done(first)
        await task.value
        #expect(window.messages == 10)
    }

    @Test("past the byte limit the next batch waits as well")
    func byteLimitHoldsTheConsumer() async throws {
        let window = UncommittedBatches(messageLimit: 1000, byteLimit: 1000)
        await window.add(batch(0..<2, bytes: 400))
        let (task, returned) = try await adding(window, batch(2..<4, bytes: 400))
        #expect(!returned, "1,600 bytes waiting, over the limit of 1,000")
        window.done(await window.take())
        await task.value
    }

    @Test("one batch larger than the limits never waits for itself")
    func oneLargeBatchPasses() async throws {
        let window = UncommittedBatches(messageLimit: 5, byteLimit: 100)
        let (_, returned) = try await adding(window, batch(0..<50, bytes: 1000))
        #expect(returned)
    }

    @Test("a committer waiting for batches gets the next one at once; after close, the rest and then nothing")
    func waitingCommitterAndClose() async throws {
        let window = UncommittedBatches(messageLimit: 100, byteLimit: 1 << 20)
        let committer = Task { await window.take() }
        try await Task.sleep(for: .milliseconds(20))
        await window.add(batch(0..<3, mark: 7))
        #expect(await committer.value.map(\.mark) == [7])
        await window.add(batch(3..<6, mark: 8))
        window.close()
        #expect(await window.take().map(\.mark) == [8])
        #expect(await window.take().isEmpty)
        let closedWhileWaiting = UncommittedBatches(messageLimit: 100, byteLimit: 1 << 20)
        let waiting = Task { await closedWhileWaiting.take() }
        try await Task.sleep(for: .milliseconds(20))
        closedWhileWaiting.close()
        #expect(await waiting.value.isEmpty)
    }
}
