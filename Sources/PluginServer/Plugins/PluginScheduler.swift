import Foundation
import Logging
import PluginRuntime
import ServiceLifecycle
import Synchronization

/// Runs plugins' runEveryMinute / runEveryHour / runEveryDay (plugin-runtime.md §10.1), in UTC, on
/// the one instance holding `plugin-server:locks:schedule`. A config whose previous run of a task
/// is still going is skipped for that tick.
struct PluginScheduler: Service {
    let runtime: PluginRuntime
    let lock: RedisLock
    /// Length of a "minute"; 60 s except in tests (SCHEDULE_MINUTE_SECONDS).
    let minute: Duration
    let logger: Logger
    private let running = RunningTasks()

    init(runtime: PluginRuntime, lock: RedisLock, minute: Duration, logger: Logger) {
        self.runtime = runtime
        self.lock = lock
        self.minute = minute
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await lock.runAsLeader(logger: logger) { await self.tick() }
        }
        // Wait for running tasks to finish before the stores close (configuration.md §4).
        while !running.isEmpty { try? await Task.sleep(for: .milliseconds(50)) }
    }

    private func tick() async {
        let minuteSeconds = Double(minute.components.seconds) + Double(minute.components.attoseconds) / 1e18
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                // Sleep to the next minute boundary (second 0 with a real minute).
                let now = Date().timeIntervalSince1970
                let next = (floor(now / minuteSeconds) + 1) * minuteSeconds
                try? await Task.sleep(for: .milliseconds(Int((next - now) * 1000)))
                if Task.isCancelled { return }
                let minutesSinceEpoch = Int((next / minuteSeconds).rounded())
                var due = ["runEveryMinute"]
                if minutesSinceEpoch % 60 == 0 { due.append("runEveryHour") }
                if minutesSinceEpoch % (60 * 24) == 0 { due.append("runEveryDay") }
                let schedule = await runtime.schedule()
                for task in due {
                    for configId in schedule[task] ?? [] {
                        let key = "\(task)/\(configId)"
                        let started = running.start(key)
                        guard started else {
                            logger.debug(
                                "Previous run still going, skipped", metadata: ["task": "\(task)", "plugin_config_id": "\(configId)"])
                            continue
                        }
                        group.addTask {
                            defer { running.finish(key) }
                            do {
                                try await runtime.runTask(configId: configId, name: task)
                            } catch {
                                logger.warning(
                                    "Scheduled task failed",
                                    metadata: [
                                        "task": "\(task)", "plugin_config_id": "\(configId)", "error": .failure(error),
                                    ])
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The task/config pairs running now, so a tick never overlaps the previous run of the same task.
private final class RunningTasks: Sendable {
    private let keys = Mutex<Set<String>>([])
    var isEmpty: Bool { keys.withLock { $0.isEmpty } }
    func start(_ key: String) -> Bool { keys.withLock { $0.insert(key).inserted } }
    func finish(_ key: String) { _ = keys.withLock { $0.remove(key) } }
}
