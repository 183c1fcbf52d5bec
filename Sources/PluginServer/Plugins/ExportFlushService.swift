import Logging
import PluginRuntime
import ServiceLifecycle

/// Ticks every second so that `exportEvents` buffers flush by age as well as by size (reference
/// §13.2): plugin sandboxes have no timers of their own. Each tick also marks the instance alive for
/// the crash-safe export buffers, every fifth takes over what stopped instances left buffered, and
/// every `metricsInterval` sends the `meta.metrics` values (§13.3).
struct ExportFlushService: Service {
    let runtime: PluginRuntime
    var interval: Duration = .seconds(1)
    var metricsInterval: Duration = .seconds(1800)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var ticks = 0
            let clock = ContinuousClock()
            var metricsDue = clock.now.advanced(by: metricsInterval)
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                await runtime.flushDueExports()
                ticks += 1
                await runtime.maintainExports(recover: ticks % 5 == 0)
                if clock.now >= metricsDue {
                    metricsDue = clock.now.advanced(by: metricsInterval)
                    await runtime.flushPluginMetrics()
                }
            }
        }
    }
}
