import Synchronization

/// Admission to the workers: at most `tasksPerWorker` tasks (an event's chain, its `onEvent` fan-out,
/// a scheduled task, a job) in flight on each worker (reference §12.1). A task goes to the least busy
/// worker; when all are full it waits, first come first served.
final class WorkerSlots: Sendable {
    private struct State {
        var inFlight: [Int]
        var waiters: [CheckedContinuation<Int, Never>] = []
        var head = 0
    }

    let tasksPerWorker: Int
    private let state: Mutex<State>

    init(workerCount: Int, tasksPerWorker: Int) {
        self.tasksPerWorker = max(1, tasksPerWorker)
        state = Mutex(State(inFlight: Array(repeating: 0, count: max(1, workerCount))))
    }

    /// The index of a worker with a free slot, taken for the caller.
    func acquire() async -> Int {
        if let index = state.withLock({ Self.take(&$0, limit: tasksPerWorker) }) { return index }
        return await withCheckedContinuation { continuation in
            let index = state.withLock { state -> Int? in
                if let index = Self.take(&state, limit: tasksPerWorker) { return index }
                state.waiters.append(continuation)
                return nil
            }
            if let index { continuation.resume(returning: index) }
        }
    }

    /// Frees the slot, or hands it straight to the longest waiting task.
    func release(_ index: Int) {
        let next = state.withLock { state -> CheckedContinuation<Int, Never>? in
            if state.head < state.waiters.count {
                let waiter = state.waiters[state.head]
                state.head += 1
                if state.head == state.waiters.count {
                    state.waiters.removeAll(keepingCapacity: true)
                    state.head = 0
                }
                return waiter
            }
            state.inFlight[index] -= 1
            return nil
        }
        next?.resume(returning: index)
    }

    /// Runs `body` holding a slot.
    func withSlot<T: Sendable>(_ body: (Int) async -> T) async -> T {
        let index = await acquire()
        defer { release(index) }
        return await body(index)
    }

    var inFlight: [Int] { state.withLock { $0.inFlight } }

    private static func take(_ state: inout State, limit: Int) -> Int? {
        guard state.head == state.waiters.count else { return nil }
        var best: Int?
        for (index, count) in state.inFlight.enumerated() where count < limit {
            if best == nil || count < state.inFlight[best!] { best = index }
        }
        if let best { state.inFlight[best] += 1 }
        return best
    }
}
