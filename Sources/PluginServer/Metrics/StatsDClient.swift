import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// StatsD over UDP in the Telegraf tag format (`name,tag=value:1|c`, metrics.md): lines are batched
/// into packets under a lock and sent without waiting, so recording never blocks an event.
final class StatsDClient: Service, Sendable {
    /// Fits an Ethernet MTU with IP and UDP headers, as StatsD clients usually size packets.
    static let maximumPacketSize = 1432
    /// Packets kept while the socket is not open yet (or the host does not resolve); older ones are dropped.
    static let maximumQueuedPackets = 1000

    enum Kind: String, Sendable {
        case counter = "c"
        case timing = "ms"
        case gauge = "g"
    }

    let host: String
    let port: Int
    let prefix: String
    let flushInterval: Duration
    let logger: Logger
    /// Send errors go to Sentry too, as the original's did.
    let errors: SentryReporter?

    private struct Target: @unchecked Sendable {
        // @unchecked: a NIO Channel is thread-safe (every operation hops to its event loop).
        let channel: any Channel
        let address: SocketAddress
    }

    private struct State {
        var current: [UInt8] = []
        var ready: [[UInt8]] = []
        var target: Target?
        var dropped = 0
        var lastWarning: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    init(
        host: String, port: Int, prefix: String, flushInterval: Duration = .milliseconds(250), errors: SentryReporter? = nil,
        logger: Logger
    ) {
        self.host = host
        self.port = port
        self.prefix = prefix
        self.flushInterval = flushInterval
        self.errors = errors
        self.logger = logger
    }

    // MARK: Recording

    func increment(_ name: String, tags: KeyValuePairs<String, String> = [:]) { record(name, value: "1", kind: .counter, tags: tags) }

    func timing(_ name: String, seconds: Double, tags: KeyValuePairs<String, String> = [:]) {
        record(name, value: Self.milliseconds(seconds), kind: .timing, tags: tags)
    }

    func gauge(_ name: String, value: Double, tags: KeyValuePairs<String, String> = [:]) {
        record(name, value: Self.number(value), kind: .gauge, tags: tags)
    }

    func record(_ name: String, value: String, kind: Kind, tags: KeyValuePairs<String, String>) {
        let line = Self.line(prefix: prefix, name: name, value: value, kind: kind, tags: tags)
        let full: [[UInt8]]? = state.withLock { state in
            if !state.current.isEmpty && state.current.count + 1 + line.utf8.count > Self.maximumPacketSize {
                state.ready.append(state.current)
                state.current = []
            }
            if !state.current.isEmpty { state.current.append(UInt8(ascii: "\n")) }
            state.current.append(contentsOf: line.utf8)
            guard !state.ready.isEmpty else { return nil }
            if state.target == nil {
                if state.ready.count > Self.maximumQueuedPackets {
                    state.dropped += state.ready.count - Self.maximumQueuedPackets
                    state.ready.removeFirst(state.ready.count - Self.maximumQueuedPackets)
                }
                return nil
            }
            defer { state.ready = [] }
            return state.ready
        }
        if let full { send(full) }
    }

    /// One metric line: the prefix and name verbatim (metrics.md: names are built from plugin names
    /// used raw), tags appended Telegraf-style. Characters that would split a line or a tag are
    /// replaced by `_`, since a receiver would otherwise misread the whole packet.
    static func line(prefix: String, name: String, value: String, kind: Kind, tags: KeyValuePairs<String, String>) -> String {
        var line = sanitized(prefix + name, forbidden: "\n:|")
        for (key, tagValue) in tags {
            line += "," + sanitized(key, forbidden: "\n:|,= ") + "=" + sanitized(tagValue, forbidden: "\n:|,= ")
        }
        return line + ":" + value + "|" + kind.rawValue
    }

    private static func sanitized(_ text: String, forbidden: String) -> String {
        guard text.contains(where: { forbidden.contains($0) }) else { return text }
        return String(text.map { forbidden.contains($0) ? "_" : $0 })
    }

    static func milliseconds(_ seconds: Double) -> String { number((seconds * 1_000_000).rounded() / 1000) }

    static func number(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    // MARK: Sending

    private func send(_ packets: [[UInt8]]) {
        guard let target = state.withLock({ $0.target }) else { return }
        for packet in packets {
            let envelope = AddressedEnvelope(remoteAddress: target.address, data: target.channel.allocator.buffer(bytes: packet))
            target.channel.writeAndFlush(envelope).whenFailure { error in self.warn("StatsD packet not sent", error: error) }
        }
    }

    /// Full packets waiting for the socket, then the partial one (for tests).
    var queuedPackets: [[UInt8]] { state.withLock { $0.ready + ($0.current.isEmpty ? [] : [$0.current]) } }

    /// Sends what is buffered, even a partial packet.
    func flush() {
        let packets: [[UInt8]] = state.withLock { state in
            guard state.target != nil else { return [] }
            if !state.current.isEmpty {
                state.ready.append(state.current)
                state.current = []
            }
            defer { state.ready = [] }
            return state.ready
        }
        if !packets.isEmpty { send(packets) }
    }

    /// A send error is a warning and never affects ingestion (metrics.md); at most one a minute.
    private func warn(_ message: Logger.Message, error: any Error) {
        let now = ContinuousClock.now
        let shouldLog = state.withLock { state in
            if let last = state.lastWarning, now - last < .seconds(60) { return false }
            state.lastWarning = now
            return true
        }
        guard shouldLog else { return }
        logger.warning(message, metadata: ["error": .failure(error), "statsd": "\(host):\(port)"])
        errors?.capture(error, tags: ["statsd": "\(host):\(port)"])
    }

    /// Opens the socket once the host resolves, then flushes every `flushInterval` until shutdown,
    /// and once more at the end.
    func run() async throws {
        var target: Target?
        while target == nil && !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
                let bindHost = address.protocol == .inet6 ? "::" : "0.0.0.0"
                let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: bindHost, port: 0).get()
                target = Target(channel: channel, address: address)
            } catch {
                warn("StatsD host not reachable yet, retrying", error: error)
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(5)) }
            }
        }
        guard let target else { return }
        state.withLock { $0.target = target }
        logger.info("Sending StatsD metrics", metadata: ["statsd": "\(host):\(port)", "prefix": "\(prefix)"])
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            flush()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.flushInterval) }
        }
        flush()
        state.withLock { $0.target = nil }
        try? await target.channel.close()
        let dropped = state.withLock { $0.dropped }
        if dropped > 0 { logger.warning("StatsD packets dropped while the socket was not open", metadata: ["packets": "\(dropped)"]) }
    }
}
