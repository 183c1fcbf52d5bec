import Logging
import NIOCore
import Synchronization

/// Lends connections to one caller at a time, opening them on demand. The decisions are made by
/// `ConnectionPoolStateMachine`; this type only connects, resumes waiters and closes.
final class ConnectionPool: Sendable {
    private typealias Waiter = CheckedContinuation<RedisConnection, any Error>
    private typealias Machine = ConnectionPoolStateMachine

    private struct State {
        var machine: Machine
        var connections: [Machine.ConnectionID: RedisConnection] = [:]
        var waiters: [Machine.WaiterID: Waiter] = [:]
        var nextWaiterID = 0
        /// Failed connects not logged since the last warning, and when that was: every caller waiting
        /// on an unreachable Redis tries again, which logged a warning or two each second.
        var unreportedFailures = 0
        var lastFailureWarning: ContinuousClock.Instant?
    }

    /// Between two warnings of failed connects while Redis stays unreachable.
    static let failureWarningInterval = Duration.seconds(30)

    /// What `apply` must do once the lock is released.
    private struct Effects {
        var resumes: [(Waiter, RedisConnection)] = []
        var failures: [Waiter] = []
        var open: [Machine.ConnectionID] = []
        var close: [RedisConnection] = []
    }

    private let configuration: RedisConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let state: Mutex<State>

    init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        let machine = Machine(
            minimumConnections: configuration.minimumConnections,
            maximumConnections: configuration.maximumConnections
        )
        self.state = Mutex(State(machine: machine))
    }

    /// Runs `body` with a connection nobody else uses meanwhile, and gives it back afterwards.
    func withConnection<R: Sendable>(_ body: (RedisConnection) async throws -> R) async throws -> R {
        let connection = try await lease()
        defer {
            let reusable = connection.isOpen
            apply { $0.connectionReleased(connection.id, reusable: reusable) }
        }
        return try await body(connection)
    }

    var isClosed: Bool { state.withLock { $0.machine.isClosed } }

    /// Fails waiters and closes every open connection, leased ones included, so that commands in
    /// flight (a long BLMOVE) fail with `.connectionClosed` instead of holding up shutdown.
    func close() async {
        let connections = state.withLock { Array($0.connections.values) }
        apply { $0.close() }
        for connection in connections {
            connection.channel.close(promise: nil)
            try? await connection.channel.closeFuture.get()
        }
    }

    private func lease() async throws -> RedisConnection {
        let waiterID = state.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: Waiter) in
                state.withLock { $0.waiters[waiterID] = continuation }
                apply { $0.leaseRequested(waiterID) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.machine.waiterCancelled(waiterID) ? state.waiters.removeValue(forKey: waiterID) : nil
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Feeds one event to the machine and carries out its actions: bookkeeping under the lock,
    /// resuming, connecting and closing after it. `failure` is what failed waiters receive.
    private func apply(
        failure: RedisError? = nil,
        _ event: (inout Machine) -> Machine.Actions
    ) {
        let effects = state.withLock { state in
            var effects = Effects()
            var pending = [event(&state.machine)]
            while let actions = pending.popLast() {
                for lease in actions.leases {
                    guard let waiter = state.waiters.removeValue(forKey: lease.waiter),
                        let connection = state.connections[lease.connection]
                    else {
                        preconditionFailure("the pool machine leased to an unknown waiter or connection")
                    }
                    if connection.isOpen {
                        effects.resumes.append((waiter, connection))
                    } else {
                        // It closed before its close callback ran: never hand it out; the waiter asks again.
                        state.waiters[lease.waiter] = waiter
                        pending.append(state.machine.connectionReleased(lease.connection, reusable: false))
                        pending.append(state.machine.leaseRequested(lease.waiter))
                    }
                }
                for id in actions.failWaiters {
                    if let waiter = state.waiters.removeValue(forKey: id) { effects.failures.append(waiter) }
                }
                effects.open += actions.open
                for id in actions.close {
                    if let connection = state.connections.removeValue(forKey: id) { effects.close.append(connection) }
                }
            }
            return effects
        }
        for (waiter, connection) in effects.resumes { waiter.resume(returning: connection) }
        let error =
            failure ?? RedisError(.poolClosed, endpoint: configuration.endpoint, detail: "the client was closed")
        for waiter in effects.failures { waiter.resume(throwing: error) }
        for connection in effects.close { connection.channel.close(promise: nil) }
        for id in effects.open { open(id) }
    }

    private func open(_ id: Machine.ConnectionID) {
        // The connection may serve a later waiter than the one whose lease started it, so connecting
        // runs in its own task rather than in that caller's (whose cancellation must not abort it).
        Task {
            do {
                let connection = try await RedisConnection.connect(
                    configuration: configuration,
                    eventLoopGroup: eventLoopGroup,
                    id: id,
                    logger: logger
                )
                state.withLock { state in
                    state.connections[id] = connection
                    state.unreportedFailures = 0
                    state.lastFailureWarning = nil
                }
                connection.channel.closeFuture.whenComplete { _ in
                    self.apply { $0.connectionClosed(id) }
                }
                apply { $0.connectionOpened(id) }
            } catch {
                let failure =
                    (error as? RedisError)
                    ?? RedisError(.connectionFailed, endpoint: configuration.endpoint, underlying: error)
                // The first failure, then one warning every 30 s with the count since, until a connect works.
                let unreported = state.withLock { state -> Int? in
                    let now = ContinuousClock.now
                    if let last = state.lastFailureWarning, now - last < Self.failureWarningInterval {
                        state.unreportedFailures += 1
                        return nil
                    }
                    defer { state.unreportedFailures = 0 }
                    state.lastFailureWarning = now
                    return state.unreportedFailures
                }
                if let unreported {
                    var metadata: Logger.Metadata = ["redis_endpoint": "\(configuration.endpoint)", "error": "\(failure)"]
                    if unreported > 0 { metadata["failed_since_last_warning"] = "\(unreported)" }
                    logger.warning("Redis connect failed", metadata: metadata)
                }
                apply(failure: failure) { $0.connectionFailed(id) }
            }
        }
    }
}
