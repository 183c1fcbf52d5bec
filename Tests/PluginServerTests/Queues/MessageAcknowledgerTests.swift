import Synchronization
import Testing

@testable import PluginServer

@Suite struct MessageAcknowledgerTests {
    /// A flush that records its batches and holds the first one until released.
    final class Recorder: Sendable {
        let batches = Mutex<[[String]]>([])
        let releaseFirst = Mutex<CheckedContinuation<Void, Never>?>(nil)
        /// Messages whose `acknowledge` returned.
        let done = Mutex<[String]>([])

        func flush(_ messages: [[UInt8]]) async {
            let isFirst = batches.withLock { batches in
                batches.append(messages.map { String(decoding: $0, as: UTF8.self) })
                return batches.count == 1
            }
            guard isFirst else { return }
            await withCheckedContinuation { continuation in releaseFirst.withLock { $0 = continuation } }
        }

        var isHoldingFirst: Bool { releaseFirst.withLock { $0 != nil } }
    }

    @Test("acknowledgements arriving during a flush go together in the next one, each returning after its own flush")
    func batching() async throws {
        let recorder = Recorder()
        let acknowledger = MessageAcknowledger(maxBatch: 3) { await recorder.flush($0) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await acknowledger.acknowledge(Array("m0".utf8))
                recorder.done.withLock { $0.append("m0") }
            }
            while !recorder.isHoldingFirst { await Task.yield() }
            // The first flush is under way and held: these gather meanwhile.
            for index in 1...4 {
                group.addTask {
                    await acknowledger.acknowledge(Array("m\(index)".utf8))
                    recorder.done.withLock { $0.append("m\(index)") }
                }
            }
            while await acknowledger.waitingCount < 4 { await Task.yield() }
            #expect(recorder.done.withLock { $0 }.isEmpty)
            recorder.releaseFirst.withLock { $0 }?.resume()
            await group.waitForAll()
        }
        let batches = recorder.batches.withLock { $0 }
        #expect(batches.count == 3)
        #expect(batches.first == ["m0"])
        #expect(batches.dropFirst().map(\.count) == [3, 1])
        #expect(Set(batches.joined()) == ["m0", "m1", "m2", "m3", "m4"])
        #expect(recorder.done.withLock { $0 }.count == 5)
    }
}
