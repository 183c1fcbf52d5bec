import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Receives StatsD packets on a loopback UDP port, as a real StatsD/Telegraf agent would, and keeps
/// every metric line.
final class StatsDListener: Sendable {
    private let channel: any Channel
    private let received: ReceivedLines
    let port: Int

    private init(channel: any Channel, received: ReceivedLines, port: Int) {
        self.channel = channel
        self.received = received
        self.port = port
    }

    static func start() async throws -> StatsDListener {
        let received = ReceivedLines()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(received: received)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return StatsDListener(channel: channel, received: received, port: channel.localAddress?.port ?? 0)
    }

    var lines: [String] { received.lines.withLock { $0 } }
    var packets: Int { received.packets.withLock { $0 } }

    func stop() async { try? await channel.close() }

    private final class ReceivedLines: Sendable {
        let lines = Mutex<[String]>([])
        let packets = Mutex(0)
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let received: ReceivedLines
        init(received: ReceivedLines) { self.received = received }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            let text = String(buffer: envelope.data)
            received.packets.withLock { $0 += 1 }
            received.lines.withLock { $0.append(contentsOf: text.split(separator: "\n").map(String.init)) }
        }
    }
}

/// One StatsD line in the Telegraf format: `name,tag=value,...:value|type`.
struct StatsDLine: Equatable {
    var name: String
    var tags: [String: String]
    var value: Double
    var type: String

    init?(_ line: String) {
        guard let colon = line.lastIndex(of: ":"), let bar = line.lastIndex(of: "|"), colon < bar,
            let value = Double(line[line.index(after: colon)..<bar])
        else { return nil }
        let type = String(line[line.index(after: bar)...])
        guard ["c", "ms", "g"].contains(type) else { return nil }
        let parts = line[..<colon].split(separator: ",", omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty else { return nil }
        var tags: [String: String] = [:]
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, !pair[0].isEmpty, !pair[1].isEmpty else { return nil }
            tags[String(pair[0])] = String(pair[1])
        }
        self.name = String(first)
        self.tags = tags
        self.value = value
        self.type = type
    }
}

/// A loopback HTTP server for the test: records every request it gets (path, headers, body), can
/// hold `/hold` requests until the test releases them, and answers `/redirect` with a 302 to `/landed`.
final class LoopbackHTTPServer: Sendable {
    struct Received: Sendable {
        var method: String
        var path: String
        var headers: [String: String]
        var body: [UInt8]
        /// What the server answered.
        var status: Int = 200
        /// `?query` of the request, without the `?`.
        var query: String = ""
    }

    private let failures = Mutex<[String: Int]>([:])
    /// Canned answers (status, JSON body) by path, or by the value of a request header (`x-amz-target`).
    private let answers = Mutex<[String: (status: Int, body: String)]>([:])
    private let requests = Mutex<[Received]>([])
    private let released = Mutex(false)
    private let task = Mutex<Task<Void, any Error>?>(nil)
    private let boundPort = Mutex(0)

    var port: Int { boundPort.withLock { $0 } }
    var received: [Received] { requests.withLock { $0 } }

    static func start() async throws -> LoopbackHTTPServer {
        let server = LoopbackHTTPServer()
        let router = Router()
        router.on("/", method: .post) { request, _ in try await server.record(request) }
        router.on("**", method: .post) { request, _ in try await server.record(request) }
        router.on("**", method: .get) { request, _ in try await server.record(request) }
        router.on("**", method: .put) { request, _ in try await server.record(request) }
        router.on("**", method: .delete) { request, _ in try await server.record(request) }
        // Quiet: stopping the test server by cancellation is logged as an error otherwise.
        var logger = Logger(label: "loopback-http")
        logger.logLevel = .critical
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in server.boundPort.withLock { $0 = channel.localAddress?.port ?? 0 } }, logger: logger)
        server.task.withLock { $0 = Task { try await application.run() } }
        guard await eventually(timeout: .seconds(10), every: .milliseconds(20), { server.port != 0 }) else {
            throw HarnessError(message: "loopback HTTP server did not start")
        }
        return server
    }

    private func record(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 4 << 20)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }  // lowercase names
        let path = request.uri.path
        let fail = failures.withLock { failures -> Bool in
            guard let left = failures[path], left > 0 else { return false }
            failures[path] = left - 1
            return true
        }
        requests.withLock {
            $0.append(
                Received(
                    method: request.method.rawValue, path: path, headers: headers, body: Array(buffer: body), status: fail ? 500 : 200,
                    query: request.uri.query ?? ""))
        }
        if fail { return Response(status: .internalServerError) }
        if path == "/redirect" { return Response(status: .found, headers: [.location: "/landed"]) }
        let canned = answers.withLock { $0 }
        if let answer = canned[path] ?? headers.values.compactMap({ canned[$0] }).first {
            return Response(
                status: .init(code: answer.status), headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: answer.body)))
        }
        if path == "/hold" {
            _ = await eventually(timeout: .seconds(120), every: .milliseconds(20)) { self.released.withLock { $0 } }
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
    }

    /// Requests to the path `match`, or with a header whose value is `match`, are answered with `status` and `body`.
    func answer(_ match: String, status: Int = 200, body: String) { answers.withLock { $0[match] = (status, body) } }

    /// The next `count` requests to `path` are answered with 500.
    func failNext(_ count: Int, path: String) { failures.withLock { $0[path] = count } }

    /// Lets held `/hold` requests answer.
    func release() { released.withLock { $0 = true } }

    func stop() {
        release()
        task.withLock { $0?.cancel() }
    }
}

/// A TCP port nothing listens on right now (bound to port 0, then closed).
func freeTCPPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 0
    try await channel.close()
    return port
}

/// GET `url`: status and body, or nil when nothing answers.
func httpGet(_ url: String) async -> (status: Int, body: String)? {
    var request = URLRequest(url: URL(string: url)!)
    request.timeoutInterval = 5
    guard let (data, response) = try? await URLSession.shared.data(for: request), let http = response as? HTTPURLResponse else {
        return nil
    }
    return (http.statusCode, String(decoding: data, as: UTF8.self))
}

/// A TCP port on 127.0.0.1 that nothing listens on now, as the system picks one for a bind to port 0
/// (it does not give the same one again soon): for a service the server under test opens itself. A
/// random number could be a port another process already holds.
func freeLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
    defer { close(descriptor) }
    guard let port = bindToLoopback(descriptor, listening: false) else { throw POSIXError(.EADDRINUSE) }
    return port
}

/// Binds `descriptor` to 127.0.0.1 on a port the system picks, and listens when asked: the port, or
/// nil when a step failed.
private func bindToLoopback(_ descriptor: Int32, listening: Bool) -> Int? {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(descriptor, socketAddress, length) == 0 && (!listening || listen(descriptor, 16) == 0)
                && getsockname(descriptor, socketAddress, &length) == 0
        }
    }
    return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
}

/// A loopback TCP port that takes connections (into the kernel's backlog) and never answers: a
/// service that hangs.
final class SilentListener: Sendable {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0, let port = bindToLoopback(descriptor, listening: true) else {
            if descriptor >= 0 { close(descriptor) }
            throw HarnessError(message: "could not listen on a loopback port")
        }
        self.descriptor = descriptor
        self.port = port
    }

    deinit { close(descriptor) }
}

/// An HTTPS server on loopback (Fixtures/https_server.py) with the test authority's certificate.
final class HTTPSEndpoint: @unchecked Sendable {
    // @unchecked: `process` is set in init and only terminated afterwards, from the test's task.
    let port: Int
    private let process = Process()

    init() throws {
        let script = TestEnvironment.packageRoot.appendingPathComponent("Tests/IntegrationTests/Fixtures/https_server.py")
        let fixtures = PrivateRedis.tlsFixtures
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", script.path, fixtures.appendingPathComponent("server.pem").path,
            fixtures.appendingPathComponent("server-key.pem").path,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line is the port, once the server listens.
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line += byte }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw HarnessError(message: "the HTTPS endpoint did not start")
        }
        self.port = port
    }

    /// SIGKILL: children of the test process inherit a signal mask that blocks SIGTERM.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
