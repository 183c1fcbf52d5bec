import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import RedisClient

/// A throwaway redis-server on a random loopback port in a temporary directory. It can be killed
/// and started again on the same port, to test what clients do when the server goes away.
final class RedisServer: @unchecked Sendable {
    // @unchecked: `process` is only touched by the test that owns the server, one call at a time.
    let port: Int
    let directory: URL
    let extraArguments: [String]
    /// Whether the port speaks TLS only, with the certificate in `Fixtures/tls` (issued to localhost
    /// and 127.0.0.1 by the test authority `ca.pem`).
    let tls: Bool
    private var process: Process?

    static let executable = "/usr/bin/redis-server"
    static let tlsFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tls")
    static var testAuthority: String { tlsFixtures.appendingPathComponent("ca.pem").path }

    /// Starts a server, retrying on another port when the chosen one turns out to be taken.
    static func start(extraArguments: [String] = [], tls: Bool = false) async throws -> RedisServer {
        for _ in 0..<20 {
            let server = try RedisServer(port: Int.random(in: 20_000..<60_000), extraArguments: extraArguments, tls: tls)
            if try await server.start() { return server }
            server.removeDirectory()
        }
        throw ServerError(message: "could not start redis-server on any port")
    }

    private init(port: Int, extraArguments: [String], tls: Bool) throws {
        self.port = port
        self.extraArguments = extraArguments
        self.tls = tls
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    var logFile: URL { directory.appendingPathComponent("redis.log") }

    /// Starts the process and waits until it accepts connections; false if it exited (port taken).
    @discardableResult
    func start() async throws -> Bool {
        try? FileManager.default.removeItem(at: logFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        let ports =
            tls
            ? [
                "--port", "0", "--tls-port", "\(port)", "--tls-auth-clients", "no",
                "--tls-cert-file", Self.tlsFixtures.appendingPathComponent("server.pem").path,
                "--tls-key-file", Self.tlsFixtures.appendingPathComponent("server-key.pem").path,
            ] : ["--port", "\(port)"]
        process.arguments =
            ports + [
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", directory.path, "--logfile", logFile.path, "--daemonize", "no",
            ] + extraArguments
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if !process.isRunning { return false }
            if let log = try? String(contentsOf: logFile, encoding: .utf8), log.contains("Ready to accept connections") {
                return true
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw ServerError(message: "redis-server on port \(port) did not become ready")
    }

    /// SIGKILL, so clients see the connection drop as they would on a crash.
    func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        kill()
        removeDirectory()
    }

    private func removeDirectory() {
        try? FileManager.default.removeItem(at: directory)
    }

    func configuration(maximumConnections: Int = 3) -> RedisConfiguration {
        var configuration = RedisConfiguration(port: port, maximumConnections: maximumConnections)
        configuration.connectTimeout = .seconds(2)
        return configuration
    }

    struct ServerError: Error { var message: String }
}

/// Runs `body` with a fresh server and a client for it, and stops both afterwards.
func withRedis<R>(
    extraArguments: [String] = [],
    commandTimeout: Duration = .seconds(10),
    _ body: (RedisClient, RedisServer) async throws -> R
) async throws -> R {
    let server = try await RedisServer.start(extraArguments: extraArguments)
    defer { server.stop() }
    var configuration = server.configuration()
    configuration.commandTimeout = commandTimeout
    let client = RedisClient(configuration: configuration, logger: testLogger)
    do {
        let result = try await body(client, server)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}

let testLogger: Logger = {
    var logger = Logger(label: "redis-client-tests")
    logger.logLevel = ProcessInfo.processInfo.environment["REDIS_TEST_LOG"] == nil ? .critical : .trace
    return logger
}()

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
