import Foundation

/// A Postgres cluster of the test's own, for tests that restart the database under the server.
final class PrivatePostgres: @unchecked Sendable {
    // @unchecked: immutable after init; the cluster is driven through pg_ctl subprocesses.
    let directory: String
    let port: Int
    var adminURL: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }
    private let runAsPostgres = getuid() == 0
    /// Whether connections may use TLS, with the test authority's certificate for localhost.
    private let tls: Bool

    init(tls: Bool = false) throws {
        self.tls = tls
        // Below Linux's ephemeral range, and apart from PrivateRedis's ports.
        port = Int.random(in: 10000...19999)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("pg")).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if runAsPostgres { try runCommand("chown", ["postgres:postgres", directory]) }
        try pg("initdb", ["-D", directory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
        if tls {
            // Postgres refuses a key others may read, and reads it as its own user.
            for name in ["server.pem", "server-key.pem"] {
                let copy = directory + "/" + name
                try FileManager.default.copyItem(atPath: PrivateRedis.tlsFixtures.appendingPathComponent(name).path, toPath: copy)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: copy)
                if runAsPostgres { try runCommand("chown", ["postgres:postgres", copy]) }
            }
        }
        try start()
    }

    private func pg(_ tool: String, _ arguments: [String]) throws {
        let path = TestEnvironment.postgresBinDirectory + "/" + tool
        if runAsPostgres {
            try runDaemonCommand("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments)
        } else {
            try runDaemonCommand(path, arguments)
        }
    }

    func start() throws {
        try pg(
            "pg_ctl",
            [
                "-D", directory, "-l", directory + "/server.log", "-w", "-o",
                "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c timezone=UTC"
                    + (tls ? " -c ssl=on -c ssl_cert_file=server.pem -c ssl_key_file=server-key.pem" : ""), "start",
            ])
    }

    func stop() throws { try pg("pg_ctl", ["-D", directory, "-m", "fast", "-w", "stop"]) }

    func destroy() {
        try? stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A Redis of the test's own, persisting to an append-only file so a restart keeps the queue.
final class PrivateRedis: @unchecked Sendable {
    // @unchecked: `process` and `port` are replaced only by init/start/stop, called from the test's task.
    let directory: String
    private(set) var port: Int
    /// A second port speaking TLS only (certificate for localhost from the test authority), when asked for.
    private(set) var tlsPort: Int?
    private var process: Process?
    var url: String { "redis://127.0.0.1:\(port)" }
    var tlsURL: String? { tlsPort.map { "rediss://localhost:\($0)" } }

    /// The test certificate authority's PEM file, which issued the TLS port's certificate.
    static let testAuthority = tlsFixtures.appendingPathComponent("ca.pem").path
    static let tlsFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("RedisClientTests/Fixtures/tls")

    /// Below Linux's ephemeral range (32768–60999), where an outgoing connection may hold the port.
    private static func randomPort() -> Int { Int.random(in: 20000...32000) }

    init(tls: Bool = false) throws {
        port = Self.randomPort()
        if tls { tlsPort = Self.randomPort() }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("redis")).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // A port taken by something else makes redis-server exit: another one then.
        for attempt in 1...5 {
            if try start() { return }
            guard attempt < 5 else { break }
            port = Self.randomPort()
            if tls { tlsPort = Self.randomPort() }
        }
        throw HarnessError(message: "redis-server did not start in \(directory)")
    }

    /// Starts redis-server and waits until it answers; false when it exited instead.
    @discardableResult
    func start() throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = [
            "--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
        ]
        if let tlsPort {
            process.arguments! += [
                "--tls-port", "\(tlsPort)", "--tls-auth-clients", "no",
                "--tls-cert-file", Self.tlsFixtures.appendingPathComponent("server.pem").path,
                "--tls-key-file", Self.tlsFixtures.appendingPathComponent("server-key.pem").path,
            ]
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<100 {
            if (try? runCommand("redis-cli", ["-p", "\(port)", "ping"]))?.contains("PONG") == true { return true }
            if !process.isRunning { return false }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return process.isRunning
    }

    /// SHUTDOWN flushes the append-only file, like a managed Redis restart.
    func stop() {
        _ = try? runCommand("redis-cli", ["-p", "\(port)", "shutdown"])
        waitForExit()
    }

    /// Polls rather than `waitUntilExit()`, which can spin forever on Linux when the exit was
    /// already observed elsewhere.
    private func waitForExit() {
        for _ in 0..<200 where process?.isRunning == true { Thread.sleep(forTimeInterval: 0.05) }
    }

    /// Shuts the server down without writing (SIGTERM makes it write its append-only file first, and
    /// a server that cannot write then refuses to exit), killing it when it does not go, before its
    /// directory is removed: a server left behind would outlive the test run.
    func destroy() {
        if let process {
            _ = try? runCommand("redis-cli", ["-p", "\(port)", "shutdown", "nosave"])
            waitForExit()
            if kill(process.processIdentifier, 0) == 0 {
                kill(process.processIdentifier, SIGKILL)
                waitForExit()
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
