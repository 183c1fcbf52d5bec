import Logging
import NIOCore
import NIOPosix
import PostHogEvents

/// INTERNAL_MMDB_SERVER_PORT. The original's workers asked the main thread's loopback server for
/// each lookup; here plugins look up in-process, and a port set to non-zero serves the same lookups
/// to local tools: one address per line (or per connection) in, one JSON line out.
struct GeoIPLineServer: Sendable {
    let port: Int
    let locator: GeoIPLocator
    let metrics: ServerMetrics
    let logger: Logger

    func run() async throws {
        let locator = self.locator
        let metrics = self.metrics
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(GeoIPLineHandler(locator: locator, metrics: metrics))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        logger.info("Internal MMDB server listening", metadata: ["port": "\(port)"])
        try await withTaskCancellationHandler {
            try await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// The reply to one request line: the City response, `null` (unknown or invalid address), or the
    /// error message as a JSON string (the original's server also answered errors as strings).
    static func reply(to line: String, locator: GeoIPLocator) -> String {
        do {
            return (try locator.locate(line) ?? .null).jsonString
        } catch {
            return JSON.string(error.message).jsonString
        }
    }
}

/// Splits what a client sends into lines and answers each; the text left when the client closes
/// its side is answered too, as the original's clients wrote one address and ended.
private final class GeoIPLineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// No address is this long: a client sending more without a newline is closed.
    private static let maximumLineLength = 1024
    private let locator: GeoIPLocator
    private let metrics: ServerMetrics
    private var pending = ByteBuffer()

    init(locator: GeoIPLocator, metrics: ServerMetrics) {
        self.locator = locator
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending.writeBuffer(&buffer)
        while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending.readString(length: newline - pending.readerIndex) ?? ""
            pending.moveReaderIndex(forwardBy: 1)
            answer(line, context: context)
        }
        pending.discardReadBytes()
        context.flush()
        if pending.readableBytes > Self.maximumLineLength { context.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case ChannelEvent.inputClosed = event else { return context.fireUserInboundEventTriggered(event) }
        if pending.readableBytes > 0 { answer(pending.readString(length: pending.readableBytes) ?? "", context: context) }
        // Close once every answer is written: writes complete in order, so after this empty one.
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: written)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { _ in bound.value.close(promise: nil) }
    }

    private func answer(_ line: String, context: ChannelHandlerContext) {
        let started = ContinuousClock.now
        let reply = GeoIPLineServer.reply(to: line, locator: locator)
        metrics.internalGeoIPRequest(seconds: (ContinuousClock.now - started).inSeconds)
        context.write(wrapOutboundOut(ByteBuffer(string: reply + "\n")), promise: nil)
    }
}
