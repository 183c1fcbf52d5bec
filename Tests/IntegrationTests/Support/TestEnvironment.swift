import Foundation
import Logging
import PostHogEvents
import RedisClient

/// Where the test services and the built server are. `make test` starts the services and exports
/// TEST_POSTGRES_URL / TEST_REDIS_URL; the defaults match scripts/services.sh.
enum TestEnvironment {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let environment = ProcessInfo.processInfo.environment
    static var adminPostgresURL: String { environment["TEST_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:54329/postgres" }
    static var redisURL: String { environment["TEST_REDIS_URL"] ?? "redis://127.0.0.1:63799" }
    static var postgresBinDirectory: String { environment["POSTGRES_BIN_DIR"] ?? "/usr/lib/postgresql/15/bin" }
    static var serverBinary: URL {
        for configuration in ["debug", "release"] {
            let url = packageRoot.appendingPathComponent(".build/\(configuration)/plugin-server")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return packageRoot.appendingPathComponent(".build/debug/plugin-server")
    }

    static func redisClient(url: String = redisURL) throws -> RedisClient {
        var configuration = try RedisConfiguration(url: url)
        configuration.maximumConnections = 4
        return RedisClient(configuration: configuration, logger: Logger(label: "test-redis"))
    }

    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)_\(UInt64(Date().timeIntervalSince1970 * 1000))_\(UInt32.random(in: 0...UInt32.max))"
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(100), _ condition: () async throws -> Bool)
    async rethrows -> Bool
{
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// Runs a command that starts a daemon (which would keep an output pipe open forever): output goes
/// to /dev/null and only the exit status is checked.
func runDaemonCommand(_ executable: String, _ arguments: [String]) throws {
    // posix_spawn and waitpid directly: Foundation's Process can miss the exit of a child whose own
    // child (the daemon) lives on.
    var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
    guard spawned == 0 else {
        throw CommandError(command: executable, status: spawned, output: "posix_spawn failed")
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    let exitCode = (status >> 8) & 0xff
    guard status & 0x7f == 0, exitCode == 0 else {
        throw CommandError(command: ([executable] + arguments).joined(separator: " "), status: exitCode, output: "")
    }
}

/// Runs a command and returns its standard output; throws with its error output on failure.
@discardableResult
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
    process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CommandError(
            command: ([executable] + arguments).joined(separator: " "), status: process.terminationStatus,
            output: String(decoding: data, as: UTF8.self) + String(decoding: errorData, as: UTF8.self))
    }
    return String(decoding: data, as: UTF8.self)
}

struct CommandError: Error, CustomStringConvertible {
    var command: String
    var status: Int32
    var output: String
    var description: String { "`\(command)` exited \(status): \(output)" }
}

/// Stops a helper process (a loopback web server, a Celery worker) for good. SIGKILL, because the
/// test runner's children inherit a signal mask that blocks SIGTERM, and a survivor holding the
/// runner's output pipe keeps `swift test` from ever finishing.
func killHelper(_ process: Process) {
    guard process.isRunning else { return }
    kill(process.processIdentifier, SIGKILL)
}
