import Synchronization

/// Runs `operation` in a task of its own and waits for its result, or, when the waiting task is
/// cancelled first, stops waiting at once with `CancellationError` and leaves the operation to finish
/// or die with the process. For work that does not answer cancellation (a store waiting on the event
/// writer's shared statement, a Postgres pool that keeps a lease request for a minute) when a stop
/// must not wait for it: the message it served is left for redelivery.
func abandonOnCancel<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = OneOutcome<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            guard outcome.wait(continuation) else { return }
            Task {
                do {
                    outcome.resume(.success(try await operation()))
                } catch {
                    outcome.resume(.failure(error))
                }
            }
        }
    } onCancel: {
        outcome.resume(.failure(CancellationError()))
    }
}

/// The continuation of one wait, resumed by whichever comes first: the result or the cancellation.
private final class OneOutcome<T: Sendable>: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<T, any Error>)
        /// Cancelled before the wait began.
        case cancelled
        case done
    }

    private let state = Mutex<State>(.idle)

    /// Registers the wait; false when cancellation came first (the continuation is then resumed here).
    func wait(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        let cancelled = state.withLock { state -> Bool in
            guard case .idle = state else { return true }
            state = .waiting(continuation)
            return false
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
        return !cancelled
    }

    func resume(_ result: Result<T, any Error>) {
        let waiting = state.withLock { state -> CheckedContinuation<T, any Error>? in
            switch state {
            case .waiting(let continuation):
                state = .done
                return continuation
            case .idle:
                // Only cancellation can come before the wait.
                state = .cancelled
                return nil
            case .cancelled, .done:
                return nil
            }
        }
        waiting?.resume(with: result)
    }
}
