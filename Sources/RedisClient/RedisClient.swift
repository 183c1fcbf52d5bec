import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A Redis client: commands go through a small connection pool, subscriptions get connections of
/// their own. Connections lost with the server are replaced on the next command; nothing is re-sent.
public final class RedisClient: Sendable {
    let configuration: RedisConfiguration
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    let pool: ConnectionPool
    private let subscriptions = Mutex(SubscriptionRegistry())
    /// Script SHA-1s by script text, so EVALSHA needs no hashing after the first call.
    private let scriptHashes = Mutex<[String: String]>([:])

    private struct SubscriptionRegistry {
        var tasks: [Int: Task<Void, Never>] = [:]
        var nextID = 0
        var isClosed = false
    }

    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        var logger = logger
        logger[metadataKey: "redis_endpoint"] = "\(configuration.endpoint)"
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.pool = ConnectionPool(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// Sends one command on a pooled connection. An error reply is thrown as `RedisError` `.server`.
    public func send(_ command: String, _ arguments: [RedisArgument] = []) async throws -> RESPValue {
        try await pool.withConnection { try await $0.send(command, arguments) }
    }

    /// Sends the commands in one write on one connection. Error replies are returned inline as `.error`.
    public func pipeline(_ commands: [[RedisArgument]]) async throws -> [RESPValue] {
        try await pool.withConnection { try await $0.pipeline(commands) }
    }

    /// Lends a connection for the duration of `body` and to nobody else meanwhile, e.g. for
    /// blocking commands or MULTI/EXEC.
    public func withConnection<R: Sendable>(_ body: (RedisConnection) async throws -> R) async throws -> R {
        try await pool.withConnection(body)
    }

    /// Messages published to `channels`, delivered on a connection of its own that is re-established
    /// (with backoff) after it drops. Messages published while it is down are lost, as pub/sub is.
    public func subscribe(to channels: [String]) -> RedisSubscription {
        RedisSubscription(client: self, channels: channels)
    }

    /// Closes all connections and ends all subscriptions. Later commands throw `.poolClosed`.
    public func close() async {
        let tasks = subscriptions.withLock { registry in
            registry.isClosed = true
            return Array(registry.tasks.values)
        }
        for task in tasks { task.cancel() }
        await pool.close()
        for task in tasks { await task.value }
    }

    // MARK: Subscriptions

    /// Starts the task that feeds one subscription's stream; nil if the client is closed.
    func startSubscription(
        channels: [String],
        continuation: AsyncStream<RedisSubscription.Element>.Continuation
    ) -> Task<Void, Never>? {
        subscriptions.withLock { registry in
            guard !registry.isClosed else { return nil }
            let id = registry.nextID
            registry.nextID += 1
            let task = Task {
                await self.runSubscription(id: id, channels: channels, continuation: continuation)
            }
            registry.tasks[id] = task
            return task
        }
    }

    private func runSubscription(
        id: Int,
        channels: [String],
        continuation: AsyncStream<RedisSubscription.Element>.Continuation
    ) async {
        var logger = logger
        logger[metadataKey: "redis_subscription_id"] = "\(id)"
        logger[metadataKey: "redis_channels"] = "\(channels.joined(separator: ","))"
        defer {
            continuation.finish()
            _ = subscriptions.withLock { $0.tasks.removeValue(forKey: id) }
        }
        let initialBackoff = Duration.milliseconds(100)
        var backoff = initialBackoff
        // While Redis stays down: the first failure, then one warning every 30 s with the count since.
        var lastFailureWarning: ContinuousClock.Instant?
        var unreportedFailures = 0
        while !Task.isCancelled {
            do {
                let connection = try await RedisConnection.connect(
                    configuration: configuration,
                    eventLoopGroup: eventLoopGroup,
                    id: id,
                    logger: logger
                )
                try await withTaskCancellationHandler {
                    try await connection.subscribe(to: channels) { reply in
                        if let message = RedisSubscription.message(from: reply) { continuation.yield(message) }
                    }
                    logger.info("Redis subscription active")
                    backoff = initialBackoff
                    lastFailureWarning = nil
                    unreportedFailures = 0
                    try? await connection.channel.closeFuture.get()
                } onCancel: {
                    connection.channel.close(promise: nil)
                }
                if !Task.isCancelled { logger.warning("Redis subscription connection closed; reconnecting") }
            } catch {
                let now = ContinuousClock.now
                if let last = lastFailureWarning, now - last < ConnectionPool.failureWarningInterval {
                    unreportedFailures += 1
                } else {
                    var metadata: Logger.Metadata = ["error": "\(error)", "retry_in": "\(backoff)"]
                    if unreportedFailures > 0 { metadata["failed_since_last_warning"] = "\(unreportedFailures)" }
                    logger.warning("Redis subscription could not connect", metadata: metadata)
                    lastFailureWarning = now
                    unreportedFailures = 0
                }
            }
            guard !Task.isCancelled else { break }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    // MARK: Scripts

    func scriptHash(_ script: String) -> String {
        if let hash = scriptHashes.withLock({ $0[script] }) { return hash }
        let hash = SHA1.hexDigest(script)
        scriptHashes.withLock { $0[script] = hash }
        return hash
    }
}
