import NIOSSL
import Testing

@testable import RedisClient

@Suite("Redis over TLS (rediss://)")
struct TLSTests {
    /// A client of a TLS server, reaching it as `host`.
    private func client(_ server: RedisServer, host: String, tls: TLSConfiguration) -> RedisClient {
        var configuration = server.configuration()
        configuration.host = host
        configuration.tls = tls
        return RedisClient(configuration: configuration, logger: testLogger)
    }

    private var trustingTestAuthority: TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = [.file(RedisServer.testAuthority)]
        return tls
    }

    @Test(
        "commands, pipelines and a subscription over TLS, the certificate checked for the host name", arguments: ["localhost", "127.0.0.1"])
    func commands(host: String) async throws {
        let server = try await RedisServer.start(tls: true)
        defer { server.stop() }
        let client = client(server, host: host, tls: trustingTestAuthority)
        #expect(try await client.ping() == "PONG")
        #expect(try await client.set("k", [0, 13, 10, 255]))
        #expect(try await client.get("k") == [0, 13, 10, 255])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<50 { group.addTask { _ = try await client.incr("n\(index % 5)") } }
            try await group.waitForAll()
        }
        #expect(try await client.get("n0") == "10".bytes)

        var iterator = client.subscribe(to: ["news"]).makeAsyncIterator()
        let deadline = ContinuousClock.now + .seconds(10)
        while try await client.publish("news", "over tls") == 0 {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(await iterator.next()?.message == "over tls".bytes)
        await client.close()
    }

    @Test("a certificate from an authority the client does not trust is refused when connecting")
    func untrusted() async throws {
        let server = try await RedisServer.start(tls: true)
        defer { server.stop() }
        let client = client(server, host: "localhost", tls: .makeClientConfiguration())
        let error = try await #require(throws: RedisError.self) { try await client.ping() }
        #expect(error.code == .connectionFailed)
        #expect("\(error)".uppercased().contains("CERTIFICATE_VERIFY_FAILED"), "\(error)")
        await client.close()
    }

    @Test("with verification off (NODE_TLS_REJECT_UNAUTHORIZED=0) any certificate is accepted")
    func unverified() async throws {
        let server = try await RedisServer.start(tls: true)
        defer { server.stop() }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        let client = client(server, host: "localhost", tls: tls)
        #expect(try await client.ping() == "PONG")
        await client.close()
    }

    @Test("a plain-TCP client of a TLS port fails with a connection error instead of hanging")
    func plainClient() async throws {
        let server = try await RedisServer.start(tls: true)
        defer { server.stop() }
        var configuration = server.configuration()
        configuration.commandTimeout = .seconds(2)
        let client = RedisClient(configuration: configuration, logger: testLogger)
        let error = try await #require(throws: RedisError.self) { try await client.ping() }
        #expect(error.isConnectionProblem || error.code == .timeout, "\(error)")
        await client.close()
    }
}
