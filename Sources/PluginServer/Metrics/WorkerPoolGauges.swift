import ServiceLifecycle

/// Every 10 s, the original's `piscina.*` gauges for what this server has: plugin worker threads
/// and the share of in-flight event slots in use (metrics.md). Also `events_in_flight` for `/metrics`.
struct WorkerPoolGauges: Service {
    let metrics: ServerMetrics
    let threads: Int
    let capacity: Int
    let inFlight: @Sendable () -> Int
    var interval: Duration = .seconds(10)

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let current = inFlight()
            metrics.workerPool(
                threads: threads, inFlight: current, utilization: capacity > 0 ? Double(current) * 100 / Double(capacity) : 0)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
