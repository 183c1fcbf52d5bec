import Synchronization

/// Starts a worker's host calls off its thread. The worker hands each call over with a lock and an
/// append; one long-lived task takes what has gathered and starts a child task per call, so the
/// worker thread neither creates tasks nor wakes pool threads per call (a `Task` per call cost the
/// worker about 2 µs, most of an async plugin call's own cost).
final class HostCallDispatcher: Sendable {
    typealias Call = @Sendable () async -> Void

    private struct State {
        var calls: [Call] = []
        var waiter: CheckedContinuation<Void, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    init() {
        Task.detached { [self] in await run() }
    }

    /// Queues calls; they start soon on Swift's global pool.
    func submit(contentsOf calls: [Call]) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.calls.append(contentsOf: calls)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Lets the dispatcher end once the calls already submitted have started.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    private func run() async {
        await withDiscardingTaskGroup { group in
            var batch: [Call] = []
            while true {
                let finished = state.withLock { state -> Bool in
                    swap(&batch, &state.calls)
                    return state.finished
                }
                for call in batch { group.addTask { await call() } }
                if batch.isEmpty && finished { return }
                if !batch.isEmpty {
                    batch.removeAll(keepingCapacity: true)
                    continue
                }
                await withCheckedContinuation { continuation in
                    let ready = state.withLock { state -> Bool in
                        if !state.calls.isEmpty || state.finished { return true }
                        state.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
        }
    }
}
