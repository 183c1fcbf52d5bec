import Foundation
import PostHogEvents

/// The plugin runtime the pipeline drives: loads configs into sandboxes spread over worker threads,
/// runs the team chains, `onEvent`/`onSnapshot`, tasks and jobs, and writes the SYSTEM/PLUGIN logs and
/// config errors of reference §4 through the host.
///
/// Each config gets one sandbox, on worker `config id % workerCount` (not one per worker as in the
/// original: plugins cannot rely on `global` being shared or unique either way, §1).
public actor PluginRuntime {
    private let workers: [PluginWorker]
    private let host: any PluginHost
    private let settings: PluginRuntimeSettings
    private let compiler: PluginCompiler
    private var configs: [Int: LoadedConfig] = [:]
    private var chains: [Int: [Int]] = [:]
    private let tasksPerWorker: Int

    private struct LoadedConfig {
        var descriptor: PluginConfigDescriptor
        /// `nil` when the load failed: the config then passes events untouched (reference §3).
        var capabilities: PluginCapabilities?
        var worker: PluginWorker
    }

    public init(workerCount: Int = 1, tasksPerWorker: Int = 10, host: any PluginHost, settings: PluginRuntimeSettings = .init()) {
        let count = max(1, workerCount)
        workers = (0..<count).map { PluginWorker(index: $0, host: host, settings: settings) }
        self.host = host
        self.settings = settings
        self.tasksPerWorker = tasksPerWorker
        compiler = PluginCompiler(esbuildPath: settings.esbuildPath)
    }

    // MARK: loading

    /// Loads every config (running `setupPlugin`), replacing sandboxes of the same ids.
    public func load(_ descriptors: [PluginConfigDescriptor]) async {
        await withTaskGroup(of: Void.self) { group in
            for descriptor in descriptors {
                group.addTask { await self.loadOne(descriptor) }
            }
        }
        rebuildChains()
    }

    /// Keeps unchanged sandboxes (same id and marker), builds changed and new ones, tears down replaced
    /// and removed ones (reference §11.2, recommended teardown of removed configs).
    public func reload(_ descriptors: [PluginConfigDescriptor]) async {
        let wanted = Dictionary(descriptors.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        var changed: [PluginConfigDescriptor] = []
        var gone: [LoadedConfig] = []
        for descriptor in descriptors {
            if let current = configs[descriptor.id], current.descriptor.updatedMarker == descriptor.updatedMarker {
                configs[descriptor.id]?.descriptor = descriptor
                continue
            }
            changed.append(descriptor)
            if let current = configs[descriptor.id] { gone.append(current) }
        }
        for (id, current) in configs where wanted[id] == nil {
            gone.append(current)
            configs[id] = nil
        }
        for old in gone { await teardown(old) }
        await load(changed)
    }

    public func teardownAll() async {
        for config in configs.values { await teardown(config) }
        configs = [:]
        chains = [:]
    }

    public func capabilities(configId: Int) -> PluginCapabilities? { configs[configId]?.capabilities }

    /// `{runEveryMinute: [ids], …}` for every loaded config having the task.
    public func schedule() -> [String: [Int]] {
        var result: [String: [Int]] = ["runEveryMinute": [], "runEveryHour": [], "runEveryDay": []]
        for (id, config) in configs.sorted(by: { $0.key < $1.key }) {
            for task in config.capabilities?.scheduledTasks ?? [] where result[task] != nil { result[task]!.append(id) }
        }
        return result
    }

    private func loadOne(_ descriptor: PluginConfigDescriptor) async {
        let worker = workers[abs(descriptor.id) % workers.count]
        if let old = configs[descriptor.id] { await old.worker.unload(descriptor.id) }
        configs[descriptor.id] = LoadedConfig(descriptor: descriptor, capabilities: nil, worker: worker)
        let code: String
        do {
            let source = try PluginSource.resolve(descriptor)
            let compiler = self.compiler
            code = try await Task.detached { () throws(PluginLoadError) -> String in
                if source.needsBundling, let files = source.files {
                    return try compiler.bundle(files: files, main: source.mainPath)
                }
                return try compiler.compile(source.main)
            }.value
        } catch let error as PluginLoadError {
            if error.isStringError {
                await recordError(descriptor, name: nil, message: error.message, stack: nil, event: nil)
            } else {
                await recordError(descriptor, name: error.isSyntaxError ? "SyntaxError" : "Error", message: error.message, stack: nil, event: nil)
                await systemLog(descriptor, .error, "Plugin failed to load (instance ID \(settings.instanceId)).")
            }
            return
        } catch {
            return
        }
        do {
            let capabilities = try await worker.createSandbox(descriptor, code: code)
            if capabilities.methods.contains("setupPlugin") {
                _ = try await worker.call(
                    configId: descriptor.id, kind: .method, name: "setupPlugin", arguments: [], wantsResult: false,
                    bounded: true)
            }
            configs[descriptor.id]?.capabilities = capabilities
            await host.clearError(config: descriptor.ref)
            await systemLog(descriptor, .info, "Plugin loaded (instance ID \(settings.instanceId)).")
        } catch {
            await worker.unload(descriptor.id)
            await recordError(descriptor, error, event: nil)
            await systemLog(descriptor, .error, "Plugin failed to load (instance ID \(settings.instanceId)).")
        }
    }

    private func teardown(_ config: LoadedConfig) async {
        let descriptor = config.descriptor
        guard let capabilities = config.capabilities else { return }
        if capabilities.methods.contains("teardownPlugin") || capabilities.methods.contains("exportEvents") {
            do {
                _ = try await config.worker.call(
                    configId: descriptor.id, kind: .method, name: "teardownPlugin", arguments: [], wantsResult: false,
                    bounded: true)
                await systemLog(descriptor, .info, "Plugin unloaded (instance ID \(settings.instanceId)).")
            } catch {
                await recordError(descriptor, error, event: nil)
                await systemLog(descriptor, .error, "Plugin failed to unload (instance ID \(settings.instanceId)).")
            }
        } else {
            await systemLog(descriptor, .info, "Plugin unloaded (instance ID \(settings.instanceId)).")
        }
        await config.worker.unload(descriptor.id)
    }

    private func rebuildChains() {
        var result: [Int: [Int]] = [:]
        for (id, config) in configs {
            guard let team = config.descriptor.teamId else { continue }
            result[team, default: []].append(id)
        }
        for team in result.keys {
            result[team]!.sort {
                let a = configs[$0]!.descriptor.order
                let b = configs[$1]!.descriptor.order
                return a != b ? a < b : $0 < $1
            }
        }
        chains = result
    }

    // MARK: events

    /// Runs the team's `processEvent` chain (reference §9.2).
    public func processEventChain(teamId: Int, event: JSON) async -> ChainResult {
        var current = event
        var originalSurvives = true
        var succeeded: [String] = []
        var failed: [String] = []
        for id in chains[teamId] ?? [] {
            guard let config = configs[id], let capabilities = config.capabilities,
                capabilities.methods.contains("processEvent") || capabilities.methods.contains("processEventBatch")
            else { continue }
            let descriptor = config.descriptor
            do {
                let result = try await config.worker.call(
                    configId: id, kind: .method, name: "processEvent", arguments: [current], wantsResult: true,
                    bounded: true)
                guard result.value.isTruthy else { return .dropped(byConfigId: id) }
                var next = result.value
                originalSurvives = originalSurvives && result.returnedArgument
                if next["team_id"] != current["team_id"] {
                    // 0.21.4+: restore the team and count the plugin failed.
                    next["team_id"] = current["team_id"]
                    current = next
                    failed.append(descriptor.chainName)
                    await recordError(
                        descriptor, name: "IllegalOperationError", message: "Plugin tried to change event.team_id",
                        stack: nil, event: current)
                    continue
                }
                current = next
                succeeded.append(descriptor.chainName)
            } catch {
                await recordError(descriptor, error, event: current)
                if let after = error.argumentAfter, after.objectValue != nil { current = after }
                failed.append(descriptor.chainName)
            }
        }
        if (!succeeded.isEmpty || !failed.isEmpty) && originalSurvives, case .object(var object) = current {
            var properties = object["properties"]?.objectValue ?? [:]
            properties["$plugins_succeeded"] = .array(succeeded.map(JSON.string))
            properties["$plugins_failed"] = .array(failed.map(JSON.string))
            object["properties"] = .object(properties)
            current = .object(object)
        }
        return .event(current)
    }

    /// Runs `onEvent` of every config of the team concurrently, each on its own copy (reference §9.4).
    public func onEvent(teamId: Int, event: JSON) async {
        await fanOut(teamId: teamId, method: "onEvent", event: event)
    }

    public func onSnapshot(teamId: Int, event: JSON) async {
        await fanOut(teamId: teamId, method: "onSnapshot", event: event)
    }

    private func fanOut(teamId: Int, method: String, event: JSON) async {
        let targets = (chains[teamId] ?? []).compactMap { id -> LoadedConfig? in
            guard let config = configs[id], config.capabilities?.methods.contains(method) == true
                || (method == "onEvent" && config.capabilities?.methods.contains("exportEvents") == true)
            else { return nil }
            return config
        }
        await withTaskGroup(of: Void.self) { group in
            for config in targets {
                group.addTask {
                    do throws(JSThrown) {
                        _ = try await config.worker.call(
                            configId: config.descriptor.id, kind: .method, name: method, arguments: [event],
                            wantsResult: false, bounded: true)
                    } catch {
                        await self.recordError(config.descriptor, error, event: event)
                    }
                }
            }
        }
    }

    // MARK: tasks and jobs

    /// Runs a `runEvery*` task (not bounded by `TASK_TIMEOUT`, reference §8.1).
    public func runTask(configId: Int, name: String) async throws(PluginError) {
        guard let config = configs[configId], config.capabilities?.scheduledTasks.contains(name) == true else {
            throw PluginError(
                teamId: configs[configId]?.descriptor.teamId, pluginConfigId: configId, method: name, name: "Error",
                message: "Task \"\(name)\" not found for plugin config \(configId)", stack: nil)
        }
        try await runUnbounded(config, kind: .task, name: name, arguments: [])
    }

    /// Runs `jobs.<type>(payload, meta)`; a falsy payload calls `f(meta)` (reference §8.1 quirk).
    public func runJob(configId: Int, type: String, payload: JSON) async throws(PluginError) {
        guard let config = configs[configId], config.capabilities != nil,
            config.capabilities?.jobs.contains(type) == true || type == "exportEventsWithRetry"
        else {
            let name = configs[configId]?.descriptor.pluginName ?? "undefined"
            let error = PluginError(
                teamId: configs[configId]?.descriptor.teamId, pluginConfigId: configId, method: "jobs.\(type)",
                name: "Error", message: "Task \"\(type)\" not found for plugin \"\(name)\" with config id \(configId)",
                stack: nil)
            if let descriptor = configs[configId]?.descriptor {
                await recordError(descriptor, name: error.name, message: error.message, stack: nil, event: nil)
            }
            throw error
        }
        try await runUnbounded(config, kind: .job, name: type, arguments: [payload])
    }

    private func runUnbounded(_ config: LoadedConfig, kind: ExportKind, name: String, arguments: [JSON]) async throws(PluginError) {
        do {
            _ = try await config.worker.call(
                configId: config.descriptor.id, kind: kind, name: name, arguments: arguments, wantsResult: false,
                bounded: false)
        } catch {
            await recordError(config.descriptor, error, event: nil)
            throw PluginError(
                teamId: config.descriptor.teamId, pluginConfigId: config.descriptor.id,
                method: kind == .job ? "jobs.\(name)" : name, name: error.name, message: error.message, stack: error.stack)
        }
    }

    // MARK: logs and errors

    private func recordError(_ descriptor: PluginConfigDescriptor, _ error: JSThrown, event: JSON?) async {
        await recordError(descriptor, name: error.name, message: error.message, stack: error.stack, event: event)
    }

    private func recordError(_ descriptor: PluginConfigDescriptor, name: String?, message: String, stack: String?, event: JSON?) async {
        let now = Date()
        let record = PluginErrorRecord(message: message, time: Self.isoTime(now), name: name, stack: stack, event: event)
        await host.recordError(record, config: descriptor.ref)
        await host.log(
            PluginLogEntry(
                config: descriptor.ref, source: .plugin, type: .error, message: message, timestamp: now,
                instanceId: settings.instanceId))
    }

    private func systemLog(_ descriptor: PluginConfigDescriptor, _ type: PluginLogEntry.Level, _ message: String) async {
        await host.log(
            PluginLogEntry(
                config: descriptor.ref, source: .system, type: type, message: message, timestamp: Date(),
                instanceId: settings.instanceId))
    }

    static func isoTime(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
