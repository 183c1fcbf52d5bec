import Synchronization

/// Bounds the messages in flight: up to `assured` of any size, and up to `limit` while the messages in
/// flight hold fewer than `byteBudget` bytes, so that a queue of large messages (session recording
/// chunks) cannot fill the whole window with them. Intake waits for room instead of piling work up in
/// memory.
final class InFlightLimiter: Sendable {
    /// What the next claim may take: up to `messages`, and past the first `assured` of them only
    /// while the ones taken hold fewer than `bytes` bytes.
    struct Room: Equatable, Sendable {
        var messages: Int
        var assured: Int
        var bytes: Int
    }

    private struct State {
        var inFlight = 0
        var bytesInFlight = 0
        var roomWaiters: [CheckedContinuation<Void, Never>] = []
    }
    let limit: Int
    let assured: Int
    let byteBudget: Int
    private let state = Mutex(State())

    init(limit: Int, assured: Int? = nil, byteBudget: Int = .max) {
        self.limit = max(1, limit)
        self.assured = min(self.limit, max(1, assured ?? limit))
        self.byteBudget = max(0, byteBudget)
    }

    var inFlight: Int { state.withLock { $0.inFlight } }

    /// Waits until an eighth of the current window is free (the whole window while the byte budget
    /// lasts, else the assured part), and returns the room there is then (not reserved). Taking
    /// messages a few at a time once the window is full keeps claims from shrinking to one message
    /// per round trip.
    func waitForRoom() async -> Room {
        while true {
            if let room = state.withLock({ roomIfOpen($0) }) { return room }
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Bool in
                    if roomIfOpen(state) != nil { return true }
                    state.roomWaiters.append(continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }

    /// The room left with `inFlight` messages of `bytesInFlight` bytes in flight.
    static func room(inFlight: Int, bytesInFlight: Int, limit: Int, assured: Int, byteBudget: Int) -> Room {
        Room(messages: max(0, limit - inFlight), assured: max(0, assured - inFlight), bytes: max(0, byteBudget - bytesInFlight))
    }

    /// The room left, once an eighth of the current window is free; `nil` before.
    private func roomIfOpen(_ state: State) -> Room? {
        let window = state.bytesInFlight < byteBudget ? limit : assured
        guard window - state.inFlight >= max(1, window / 8) else { return nil }
        return Self.room(
            inFlight: state.inFlight, bytesInFlight: state.bytesInFlight, limit: limit, assured: assured, byteBudget: byteBudget)
    }

    func acquire(bytes: Int) {
        state.withLock {
            $0.inFlight += 1
            $0.bytesInFlight += bytes
        }
    }

    func release(bytes: Int) {
        let room = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.inFlight -= 1
            state.bytesInFlight -= bytes
            let room = state.roomWaiters
            state.roomWaiters = []
            return room
        }
        room.forEach { $0.resume() }
    }
}

/// A flag set once, read from any task.
final class StopSignal: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}

/// The wait of a stopping consumer for the work it started.
enum StopGrace {
    /// Polls `isDone` (every 50 ms, only while a stop waits) until it holds, for at most `grace`; false
    /// when the grace ran out, or the task was cancelled, first.
    static func wait(_ grace: Duration, until isDone: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + grace
        while !isDone() {
            guard ContinuousClock.now < deadline, !Task.isCancelled else { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return true
    }
}
