import Synchronization

/// Bounds how many messages are in flight (WORKER_CONCURRENCY × TASKS_PER_WORKER): intake waits
/// for a free slot instead of piling work up in memory.
final class InFlightLimiter: Sendable {
    private struct State {
        var inFlight = 0
        var slotWaiters: [CheckedContinuation<Void, Never>] = []
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }
    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) { self.limit = max(1, limit) }

    var inFlight: Int { state.withLock { $0.inFlight } }

    /// Waits until at least `minimum` slots are free (at most `limit`); returns how many are free now
    /// (not reserved). Taking messages a few at a time once the limit is reached keeps the claims
    /// from shrinking to one message per round trip.
    func waitForFreeSlots(minimum: Int = 1) async -> Int {
        let wanted = min(limit, max(1, minimum))
        while true {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Bool in
                    if limit - state.inFlight >= wanted { return true }
                    state.slotWaiters.append(continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
            let free = state.withLock { limit - $0.inFlight }
            if free >= wanted { return free }
        }
    }

    func acquire() { state.withLock { $0.inFlight += 1 } }

    func release() {
        let (slot, idle) = state.withLock { state -> ([CheckedContinuation<Void, Never>], [CheckedContinuation<Void, Never>]) in
            state.inFlight -= 1
            let slot = state.slotWaiters
            state.slotWaiters = []
            var idle: [CheckedContinuation<Void, Never>] = []
            if state.inFlight == 0 {
                idle = state.idleWaiters
                state.idleWaiters = []
            }
            return (slot, idle)
        }
        slot.forEach { $0.resume() }
        idle.forEach { $0.resume() }
    }

    func waitUntilIdle() async {
        await withCheckedContinuation { continuation in
            let idle = state.withLock { state -> Bool in
                if state.inFlight == 0 { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }
}

/// A flag set once, read from any task.
final class StopSignal: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}
