import PostHogEvents

@testable import PluginRuntime

func plugin(_ id: Int, team: Int = 2, order: Int = 0, name: String? = nil, config: JSONObject = [:], _ source: String)
    -> PluginConfigDescriptor
{
    PluginConfigDescriptor(
        id: id, teamId: team, pluginId: 100 + id, pluginName: name ?? "plugin\(id)", order: order, config: config,
        code: .source(source), updatedMarker: "v1")
}

func makeRuntime(
    taskTimeout: Double = 30, executionLimit: Double? = nil, workers: Int = 1, tasksPerWorker: Int = 10, loadAttempts: Int = 1,
    disableOnFailure: Bool = false, memoryLimitBytes: Int? = PluginRuntimeSettings.defaultMemoryLimitBytes
) -> (PluginRuntime, InMemoryPluginHost) {
    let host = InMemoryPluginHost()
    let runtime = PluginRuntime(
        workerCount: workers, tasksPerWorker: tasksPerWorker, host: host,
        settings: PluginRuntimeSettings(
            taskTimeout: taskTimeout, executionTimeLimit: executionLimit, instanceId: "instance-1", loadAttempts: loadAttempts,
            loadRetryDelay: 0.05, disableOnFailure: disableOnFailure, memoryLimitBytes: memoryLimitBytes))
    return (runtime, host)
}

let sampleEvent: JSON = ["event": "$pageview", "distinct_id": "user1", "team_id": 2, "properties": ["a": 1, "b": "two"]]

extension ChainResult {
    var event: JSON? { if case .event(let e) = self { return e } else { return nil } }
}

/// Waits for fire-and-forget host writes (console logs) to land.
func settleHost() async throws { try await Task.sleep(nanoseconds: 50_000_000) }
