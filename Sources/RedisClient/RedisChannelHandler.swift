import NIOCore

/// Encoded commands on their way to the server, with whoever waits for the replies.
struct RedisRequest: Sendable {
    enum Responder: Sendable {
        /// Subscriber mode: replies go to the push handler, nobody waits.
        case none
        case one(EventLoopPromise<RESPValue>)
        case many(count: Int, EventLoopPromise<[RESPValue]>)
    }

    var bytes: ByteBuffer
    var responder: Responder
    /// How long the server may take to answer the last of these commands.
    var timeout: TimeAmount?
    /// Command name for error context.
    var command: String?
}

/// Writes requests and matches replies to them in order: Redis answers a connection's commands in the
/// order sent, so a FIFO of waiters is the whole pipelining protocol. Any failure fails every waiter
/// and closes the channel, since later replies could no longer be matched.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Waiter {
        var responder: RedisRequest.Responder
        var collected: [RESPValue]
        var timeoutTask: Scheduled<Void>?
        var command: String?
    }

    private let endpoint: String
    private var decoder = RESPDecoder()
    private var cumulation: ByteBuffer?
    private var waiters = CircularBuffer<Waiter>()
    /// Set in subscriber mode, where the server pushes messages nobody asked for.
    private var pushHandler: ((RESPValue) -> Void)?
    private var failure: RedisError?

    init(endpoint: String) {
        self.endpoint = endpoint
    }

    /// From now on every reply goes to `handler`; requests must use `Responder.none`.
    func enterSubscriberMode(_ handler: @escaping (RESPValue) -> Void) {
        pushHandler = handler
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            fail(request.responder, with: failure.with(command: request.command, endpoint: endpoint))
            promise?.fail(failure)
            return
        }
        switch request.responder {
        case .none:
            break
        case .one, .many:
            var timeoutTask: Scheduled<Void>?
            if let timeout = request.timeout {
                timeoutTask = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
                    let error = RedisError(.timeout, detail: "no reply within \(timeout)")
                    self?.failAll(with: error, context: context)
                }
            }
            waiters.append(
                Waiter(responder: request.responder, collected: [], timeoutTask: timeoutTask, command: request.command))
        }
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if cumulation == nil {
            cumulation = incoming
        } else {
            cumulation!.writeBuffer(&incoming)
        }
        do {
            while let value = try decoder.decode(&cumulation!) {
                deliver(value, context: context)
                guard cumulation != nil else { return }  // a delivery failed the connection
            }
        } catch {
            failAll(with: RedisError(.protocolViolation, detail: error.reason, underlying: error), context: context)
            return
        }
        if cumulation!.readableBytes == 0 {
            cumulation = nil
        } else if cumulation!.readerIndex > 64 * 1024 {
            cumulation!.discardReadBytes()
        }
    }

    private func deliver(_ value: RESPValue, context: ChannelHandlerContext) {
        if let pushHandler {
            pushHandler(value)
            return
        }
        guard var waiter = waiters.first else {
            failAll(with: RedisError(.protocolViolation, detail: "reply without a command"), context: context)
            return
        }
        switch waiter.responder {
        case .none:
            preconditionFailure("replies without responder are not queued")
        case .one(let promise):
            waiters.removeFirst()
            waiter.timeoutTask?.cancel()
            promise.succeed(value)
        case .many(let count, let promise):
            waiter.collected.append(value)
            if waiter.collected.count == count {
                waiters.removeFirst()
                waiter.timeoutTask?.cancel()
                promise.succeed(waiter.collected)
            } else {
                waiters[waiters.startIndex] = waiter
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(with: RedisError(.connectionClosed, detail: "the server closed the connection"), context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(
            with: RedisError(.connectionClosed, detail: "the connection failed", underlying: error), context: context)
    }

    private func failAll(with error: RedisError, context: ChannelHandlerContext) {
        if failure == nil { failure = error.with(command: nil, endpoint: endpoint) }
        cumulation = nil
        let pending = waiters
        waiters.removeAll()
        for waiter in pending {
            waiter.timeoutTask?.cancel()
            fail(waiter.responder, with: error.with(command: waiter.command, endpoint: endpoint))
        }
        if context.channel.isActive {
            context.close(promise: nil)
        }
    }

    private func fail(_ responder: RedisRequest.Responder, with error: RedisError) {
        switch responder {
        case .none: break
        case .one(let promise): promise.fail(error)
        case .many(_, let promise): promise.fail(error)
        }
    }
}
