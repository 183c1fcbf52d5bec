import Logging
import Synchronization
import Testing

@testable import RedisClient

@Suite("Server restarts")
struct ReconnectionTests {
    @Test("commands fail fast while redis-server is down and succeed once it is back")
    func restart() async throws {
        try await withRedis { client, server in
            try await client.set("k", "v")
            server.kill()

            for _ in 0..<3 {
                let start = ContinuousClock.now
                let error = try await #require(throws: RedisError.self) { try await client.ping() }
                #expect(error.isConnectionProblem)
                #expect([.connectionClosed, .connectionFailed].contains(error.code))
                #expect(ContinuousClock.now - start < .seconds(1))
            }

            try await server.start()
            // The data is gone (no persistence) but the client works again without being recreated.
            #expect(try await client.ping() == "PONG")
            #expect(try await client.get("k") == nil)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 { group.addTask { _ = try await client.incr("after\(index % 3)") } }
                try await group.waitForAll()
            }
        }
    }

    @Test("a command in flight when the server dies fails with a connection error")
    func inFlight() async throws {
        try await withRedis { client, server in
            let blocked = Task { try await client.blmove("nothing", "here", timeout: 10) }
            try await Task.sleep(for: .milliseconds(300))
            server.kill()
            let error = try await #require(throws: RedisError.self) { try await blocked.value }
            #expect(error.code == .connectionClosed)
        }
    }

    @Test("a reply slower than the command timeout fails with timeout and the connection is replaced")
    func commandTimeout() async throws {
        try await withRedis(extraArguments: ["--enable-debug-command", "yes"], commandTimeout: .milliseconds(200)) {
            client, _ in
            let error = try await #require(throws: RedisError.self) {
                try await client.send("DEBUG", ["SLEEP", "0.5"])
            }
            #expect(error.code == .timeout)
            // The server itself is asleep until then; afterwards a new connection serves commands.
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await client.ping() == "PONG")
        }
    }

    @Test("while Redis stays down, failed connects are warned of once, then every 30 s; again after it was back")
    func failedConnectsWarnOnce() async throws {
        let server = try await RedisServer.start()
        defer { server.stop() }
        let warnings = WarningRecorder()
        let client = RedisClient(configuration: server.configuration(), logger: Logger(label: "test") { _ in warnings })
        #expect(try await client.ping() == "PONG")
        let subscription = Task { for await _ in client.subscribe(to: ["c"]) {} }
        defer { subscription.cancel() }
        try await Task.sleep(for: .milliseconds(300))
        server.kill()
        for _ in 0..<5 { _ = try? await client.ping() }
        // The subscription retries after 0.1, 0.2, 0.4, 0.8 s…: several failed connects, one warning.
        try await Task.sleep(for: .seconds(2))
        #expect(warnings.messages.filter { $0 == "Redis connect failed" }.count == 1, "\(warnings.messages)")
        #expect(warnings.messages.filter { $0 == "Redis subscription could not connect" }.count == 1, "\(warnings.messages)")
        try await server.start()
        #expect(try await client.ping() == "PONG")
        server.kill()
        for _ in 0..<5 { _ = try? await client.ping() }
        #expect(warnings.messages.filter { $0 == "Redis connect failed" }.count == 2, "\(warnings.messages)")
        await client.close()
    }

    @Test("connecting to a port nobody listens on fails with connectionFailed")
    func refused() async throws {
        let server = try await RedisServer.start()
        let configuration = server.configuration()
        server.stop()
        let client = RedisClient(configuration: configuration, logger: testLogger)
        let error = try await #require(throws: RedisError.self) { try await client.ping() }
        #expect(error.code == .connectionFailed)
        #expect(error.endpoint == "127.0.0.1:\(configuration.port)")
        await client.close()
    }
}

@Suite("Closing the client")
struct ClosingTests {
    @Test("closing fails a blocking command in flight instead of waiting for it")
    func closeInFlight() async throws {
        try await withRedis { client, _ in
            let blocked = Task { try await client.blmove("nothing", "here", timeout: 30) }
            try await Task.sleep(for: .milliseconds(200))
            let start = ContinuousClock.now
            await client.close()
            #expect(ContinuousClock.now - start < .seconds(2))
            let error = try await #require(throws: RedisError.self) { try await blocked.value }
            #expect(error.code == .connectionClosed)
        }
    }
}

/// Keeps the messages logged at warning level and above.
final class WarningRecorder: LogHandler, @unchecked Sendable {
    // @unchecked Sendable: `recorded` is behind its lock; the handler's settings are not changed after set-up.
    private let recorded = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .warning

    var messages: [String] { recorded.withLock { $0 } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        recorded.withLock { $0.append(event.message.description) }
    }
}
