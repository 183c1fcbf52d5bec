/// Starts a worker's host calls off its thread. The worker hands over the calls of each entry into
/// JavaScript at once; one long-lived task starts a child task per call, so the worker thread neither
/// creates tasks nor wakes pool threads per call (a `Task` per call cost the worker about 2 µs, most
/// of an async plugin call's own cost). Ends when the dispatcher goes, once the calls handed over
/// have started.
final class HostCallDispatcher: Sendable {
    typealias Call = @Sendable () async -> Void

    private let calls: AsyncStream<[Call]>.Continuation

    init() {
        let (stream, calls) = AsyncStream.makeStream(of: [Call].self, bufferingPolicy: .unbounded)
        self.calls = calls
        Task.detached {
            await withDiscardingTaskGroup { group in
                for await batch in stream {
                    for call in batch { group.addTask { await call() } }
                }
            }
        }
    }

    deinit {
        calls.finish()
    }

    /// Queues calls; they start soon on Swift's global pool.
    func submit(contentsOf batch: [Call]) {
        calls.yield(batch)
    }
}
