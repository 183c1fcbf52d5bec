import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// One TCP connection to Redis, authenticated and on the configured database. Commands sent
/// concurrently are pipelined; once it has failed or closed it stays unusable.
public final class RedisConnection: Sendable {
    let channel: any Channel
    let id: Int
    let endpoint: String
    let commandTimeout: Duration?
    let logger: Logger

    private init(channel: any Channel, id: Int, endpoint: String, commandTimeout: Duration?, logger: Logger) {
        self.channel = channel
        self.id = id
        self.endpoint = endpoint
        self.commandTimeout = commandTimeout
        self.logger = logger
    }

    /// False once the connection failed or was closed; it never becomes usable again.
    public var isOpen: Bool { channel.isActive }

    /// Sends one command. An error reply is thrown as a `RedisError` with code `.server`.
    public func send(_ command: String, _ arguments: [RedisArgument] = []) async throws -> RESPValue {
        try await send([RedisArgument(command)] + arguments, timeout: commandTimeout)
    }

    /// Sends a blocking command (BLMOVE, BLPOP …) whose reply may take `blockingFor` longer than the
    /// configured command timeout allows; nil means it may block forever (a block timeout of 0).
    public func send(_ command: String, _ arguments: [RedisArgument], blockingFor: Duration?) async throws -> RESPValue {
        try await send([RedisArgument(command)] + arguments, timeout: replyTimeout(blockingFor: blockingFor))
    }

    /// The reply timeout for a command that may block for `duration` (nil: forever) on the server.
    func replyTimeout(blockingFor duration: Duration?) -> Duration? {
        guard let duration, let commandTimeout else { return nil }
        return commandTimeout + duration
    }

    /// Sends all commands in one write. Replies come back in order; error replies stay inline as `.error`.
    public func pipeline(_ commands: [[RedisArgument]]) async throws -> [RESPValue] {
        try await pipeline(commands, timeout: commandTimeout)
    }

    /// Closes the connection; commands still waiting fail with `.connectionClosed`.
    public func close() async {
        try? await channel.close()
    }

    func send(_ arguments: [RedisArgument], timeout: Duration?) async throws -> RESPValue {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        let command = Self.commandName(arguments)
        write(arguments: [arguments], responder: .one(promise), timeout: timeout, command: command)
        let reply = try await promise.futureResult.get()
        if case .error(let message) = reply {
            throw RedisError(.server, serverMessage: message, command: command, endpoint: endpoint)
        }
        return reply
    }

    func pipeline(_ commands: [[RedisArgument]], timeout: Duration?) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        write(
            arguments: commands, responder: .many(count: commands.count, promise), timeout: timeout, command: "PIPELINE"
        )
        return try await promise.futureResult.get()
    }

    /// Switches to subscriber mode: every later reply goes to `onPush`, on the event loop.
    func subscribe(to channels: [String], onPush: @escaping @Sendable (RESPValue) -> Void) async throws {
        try await channel.eventLoop.submit { [channel] in
            let handler = try channel.pipeline.syncOperations.handler(type: RedisChannelHandler.self)
            handler.enterSubscriberMode(onPush)
        }.get()
        let arguments = [RedisArgument("SUBSCRIBE")] + channels.map { RedisArgument($0) }
        var bytes = channel.allocator.buffer(capacity: 64)
        bytes.writeRESPCommand(arguments)
        let request = RedisRequest(bytes: bytes, responder: .none, timeout: nil, command: "SUBSCRIBE")
        do {
            try await channel.writeAndFlush(request).get()
        } catch {
            throw RedisError(.connectionClosed, command: "SUBSCRIBE", endpoint: endpoint, underlying: error)
        }
    }

    private func write(
        arguments: [[RedisArgument]], responder: RedisRequest.Responder, timeout: Duration?, command: String?
    ) {
        var bytes = channel.allocator.buffer(capacity: 64)
        for command in arguments { bytes.writeRESPCommand(command) }
        let request = RedisRequest(
            bytes: bytes, responder: responder, timeout: timeout.map(TimeAmount.init), command: command)
        let writePromise = channel.eventLoop.makePromise(of: Void.self)
        // A write to a closed channel never reaches the handler, so its waiter must be failed here.
        writePromise.futureResult.whenFailure { [endpoint] error in
            let redisError =
                (error as? RedisError)
                ?? RedisError(.connectionClosed, command: command, endpoint: endpoint, underlying: error)
            switch responder {
            case .none: break
            case .one(let promise): promise.fail(redisError)
            case .many(_, let promise): promise.fail(redisError)
            }
        }
        channel.writeAndFlush(request, promise: writePromise)
    }

    /// The name sent as SNI and checked against the certificate: none for an IP address, which SNI
    /// cannot carry.
    static func serverHostname(_ host: String) -> String? {
        (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }

    private static func commandName(_ arguments: [RedisArgument]) -> String? {
        guard case .string(let name)? = arguments.first?.storage else { return nil }
        return name.uppercased()
    }

    /// Opens a connection and runs AUTH and SELECT, all within `connectTimeout`.
    static func connect(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup,
        id: Int,
        logger: Logger
    ) async throws -> RedisConnection {
        let endpoint = configuration.endpoint
        var logger = logger
        logger[metadataKey: "redis_connection_id"] = "\(id)"
        let tls: (context: NIOSSLContext, serverHostname: String?)?
        do {
            tls = try configuration.tls.map { (try NIOSSLContext(configuration: $0), Self.serverHostname(configuration.host)) }
        } catch {
            throw RedisError(.connectionFailed, endpoint: endpoint, detail: "the TLS configuration is unusable", underlying: error)
        }
        let bootstrap = ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverHostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(endpoint: endpoint))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            let isTimeout = (error as? ChannelError) == .connectTimeout(TimeAmount(configuration.connectTimeout))
            throw RedisError(
                isTimeout ? .timeout : .connectionFailed,
                endpoint: endpoint,
                detail: isTimeout ? "connecting took longer than \(configuration.connectTimeout)" : "could not connect",
                underlying: error
            )
        }
        let connection = RedisConnection(
            channel: channel,
            id: id,
            endpoint: endpoint,
            commandTimeout: configuration.commandTimeout,
            logger: logger
        )

        var handshake: [[RedisArgument]] = []
        if let password = configuration.password {
            if let username = configuration.username {
                handshake.append(["AUTH", RedisArgument(username), RedisArgument(password)])
            } else {
                handshake.append(["AUTH", RedisArgument(password)])
            }
        }
        if configuration.database != 0 {
            handshake.append(["SELECT", RedisArgument(configuration.database)])
        }
        // The TLS handshake completes with the first reply: a refused certificate shows here, at
        // connect, rather than on the first command.
        if handshake.isEmpty && tls != nil { handshake.append(["PING"]) }
        do {
            let replies = try await connection.pipeline(handshake, timeout: configuration.connectTimeout)
            for (index, reply) in replies.enumerated() {
                if case .error(let message) = reply {
                    let step = Self.commandName(handshake[index]) ?? "handshake"
                    throw RedisError(
                        .connectionFailed, serverMessage: message, command: step, endpoint: endpoint,
                        detail: "\(step) was refused")
                }
            }
        } catch let error as RedisError {
            await connection.close()
            guard error.code != .connectionFailed else { throw error }
            // A TLS failure (an untrusted certificate, a name it does not cover) is named as such.
            if let tlsError = error.underlying as? NIOSSLError {
                throw RedisError(.connectionFailed, endpoint: endpoint, detail: "the TLS handshake failed", underlying: tlsError)
            }
            throw RedisError(.connectionFailed, endpoint: endpoint, detail: "the handshake failed", underlying: error)
        }
        logger.debug("Redis connection opened", metadata: ["redis_endpoint": "\(endpoint)"])
        return connection
    }
}
