import Logging
import PluginRuntime
import ServiceLifecycle

/// Ticks every second so that `exportEvents` buffers flush by age as well as by size (reference
/// §13.2): plugin sandboxes have no timers of their own.
struct ExportFlushService: Service {
    let runtime: PluginRuntime
    var interval: Duration = .seconds(1)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                await runtime.flushDueExports()
            }
        }
    }
}
