import Foundation

/// A Postgres cluster of the test's own, for tests that restart the database under the server.
final class PrivatePostgres: @unchecked Sendable {
    // @unchecked: immutable after init; the cluster is driven through pg_ctl subprocesses.
    let directory: String
    let port: Int
    var adminURL: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }
    private let runAsPostgres = getuid() == 0

    init() throws {
        port = Int.random(in: 20000...40000)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("pg")).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if runAsPostgres { try runCommand("chown", ["postgres:postgres", directory]) }
        try pg("initdb", ["-D", directory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
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
                "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c timezone=UTC", "start",
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
    // @unchecked: `process` is replaced only by start/stop, called from the test's task.
    let directory: String
    let port: Int
    private var process: Process?
    var url: String { "redis://127.0.0.1:\(port)" }

    init() throws {
        port = Int.random(in: 40001...60000)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("redis")).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try start()
    }

    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = [
            "--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        Thread.sleep(forTimeInterval: 0.3)
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

    func destroy() {
        if let process, process.isRunning {
            process.terminate()
            waitForExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
