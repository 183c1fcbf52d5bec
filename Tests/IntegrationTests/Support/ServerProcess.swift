import Foundation
import Synchronization

/// The real `plugin-server` binary run as a child process, so tests exercise signals, kill -9 and
/// restarts exactly as deployments do.
final class ServerProcess: @unchecked Sendable {
    // @unchecked: `process` is set in `start()` and only read afterwards, from the test's task.
    private var process: Process?
    let environment: [String: String]
    let arguments: [String]
    let logURL: URL

    init(environment: [String: String], arguments: [String] = []) {
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { $1 }
        self.environment = merged
        self.arguments = arguments
        self.logURL = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("server") + ".log")
    }

    /// Environment for a server that consumes the given queue into the given database.
    static func environment(database: TestDatabase, redisURL: String = TestEnvironment.redisURL, queue: String) -> [String: String] {
        [
            "DATABASE_URL": database.url, "REDIS_URL": redisURL, "PLUGINS_CELERY_QUEUE": queue,
            "CELERY_DEAD_LETTER_QUEUE": queue + ":dead-letter", "CELERY_DEFAULT_QUEUE": queue + ":celery",
            "CONSUMER_LEASE_SECONDS": "2", "LOG_LEVEL": "warn", "DISABLE_WEB": "true", "WORKER_CONCURRENCY": "2",
            "TASKS_PER_WORKER": "10",
            // As the original's test defaults: no GeoIP download unless a test asks for one.
            "DISABLE_MMDB": "true",
            // Every test server shares one Redis, and so the job-consumer and scheduler locks: a server
            // killed with -9 must not keep the next test's server from running jobs for a minute.
            "SCHEDULE_LOCK_TTL": "2",
        ]
    }

    func start() throws {
        let process = Process()
        process.executableURL = TestEnvironment.serverBinary
        process.arguments = arguments
        process.environment = environment
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.standardOutput = log
        process.standardError = log
        // Forgotten as it exits, before its id can be reused.
        process.terminationHandler = { RunningServers.forget($0.processIdentifier) }
        try process.run()
        RunningServers.remember(process.processIdentifier)
        if !process.isRunning { RunningServers.forget(process.processIdentifier) }
        self.process = process
    }

    var isRunning: Bool { process?.isRunning ?? false }
    var processIdentifier: Int32 { process?.processIdentifier ?? 0 }

    /// SIGTERM, then waits for the exit code.
    func terminate(timeout: Duration = .seconds(30)) async -> Int32? {
        guard let process, process.isRunning else { return process?.terminationStatus }
        process.terminate()
        return await waitForExit(timeout: timeout)
    }

    func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        guard let process else { return nil }
        let exited = await eventually(timeout: timeout, every: .milliseconds(50)) { !process.isRunning }
        return exited ? process.terminationStatus : nil
    }

    func kill9() async {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        _ = await waitForExit(timeout: .seconds(10))
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    deinit {
        if let process, process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Servers still running when the test process exits, killed then: a failing test's deferred stop
/// may not have run, and a server left behind holds the shared Redis's job and schedule locks.
private enum RunningServers {
    private static let pids = Mutex<Set<Int32>>([])
    private static let exitHandler: Void = {
        atexit {
            for pid in RunningServers.pids.withLock({ $0 }) { kill(pid, SIGKILL) }
        }
    }()

    static func remember(_ pid: Int32) {
        _ = exitHandler
        pids.withLock { _ = $0.insert(pid) }
    }

    static func forget(_ pid: Int32) {
        pids.withLock { _ = $0.remove(pid) }
    }
}
