import Foundation
import PostHogEvents
import Synchronization

/// The plugin runtime the pipeline drives. Every config in force has a sandbox on every worker
/// (reference §1, §12.3); an event's whole chain, or its `onEvent` fan-out, runs on one worker chosen
/// by `WorkerSlots`, so an event crosses threads once, not once per plugin.
///
/// Loading is serialised by the actor; the event path reads an immutable table under a lock and never
/// waits for the actor. A reload builds new sandboxes while the old ones keep serving, swaps the table,
/// then tears the old ones down (reference §11.2).
public actor PluginRuntime {
    nonisolated let workers: [PluginWorker]
    private let slots: WorkerSlots
    private let settings: PluginRuntimeSettings
    private let compilations: CompilationQueue
    private let reporter: PluginErrorReporter
    private let table = Mutex(PluginTable())
    private var generation = 0
    /// Pending load retries by config id.
    private var retries: [Int: Task<Void, Never>] = [:]

    public init(workerCount: Int = 1, tasksPerWorker: Int = 10, host: any PluginHost, settings: PluginRuntimeSettings = .init()) {
        let count = max(1, workerCount)
        workers = (0..<count).map { PluginWorker(index: $0, host: host, settings: settings) }
        slots = WorkerSlots(workerCount: count, tasksPerWorker: tasksPerWorker)
        self.settings = settings
        reporter = PluginErrorReporter(host: host, instanceId: settings.instanceId)
        compilations = CompilationQueue(
            compiler: PluginCompiler(esbuildPath: settings.esbuildPath, loopTimeoutSeconds: settings.taskTimeout))
    }

    public nonisolated var workerCount: Int { workers.count }

    /// Configs built at once: enough to keep every worker and the database busy.
    static let concurrentBuilds = 64
    /// Configs handed to the workers together: a worker loads a chunk in one visit to its thread, so
    /// loading 1,000 configs does not wake the thread pool twice per config and worker.
    static let buildChunk = 8

    // MARK: loading

    /// Loads every config (running `setupPlugin` in each worker's sandbox), replacing loaded ones of the
    /// same ids.
    public func load(_ descriptors: [PluginConfigDescriptor]) async {
        let built = await build(descriptors.map { ($0, 1) })
        let replaced = publish(built, removing: [])
        await retire(replaced)
    }

    /// Keeps unchanged configs (same id and marker: `global` survives), rebuilds changed and new ones,
    /// tears down replaced and removed ones (reference §11.2, with the recommended teardown of removed
    /// configs). Until a changed config's new sandboxes are ready, its old ones keep serving events.
    public func reload(_ descriptors: [PluginConfigDescriptor]) async {
        let wanted = Set(descriptors.map(\.id))
        let current = table.withLock { $0.configs }
        var changed: [PluginConfigDescriptor] = []
        for descriptor in descriptors {
            if let state = current[descriptor.id], state.descriptor.updatedMarker == descriptor.updatedMarker {
                table.withLock { $0.updateDescriptor(descriptor) }
                continue
            }
            changed.append(descriptor)
        }
        let gone = current.keys.filter { !wanted.contains($0) }
        for id in gone + changed.map(\.id) { retries.removeValue(forKey: id)?.cancel() }
        let built = await build(changed.map { ($0, 1) })
        let replaced = publish(built, removing: gone)
        await retire(replaced)
    }

    public func teardownAll() async {
        for task in retries.values { task.cancel() }
        retries = [:]
        let all = table.withLock { table -> [LoadedPlugin] in
            let loaded = table.configs.values.compactMap(\.plugin)
            table = PluginTable()
            return loaded
        }
        await retire(all, awaitClose: true)
        for worker in workers { await worker.logWriter.flush() }
    }

    /// Fires every pending timer (`createBuffer`'s `timeoutSeconds`) at once, starting the flushes they
    /// guard; call it before `teardownAll`, which then waits for the host calls those flushes make.
    /// For a local run only: the server lets timers run their time.
    public nonisolated func fireTimers() async {
        for worker in workers { await worker.fireTimers() }
    }

    public func capabilities(configId: Int) -> PluginCapabilities? {
        table.withLock { $0.configs[configId]?.plugin?.capabilities }
    }

    /// `{runEveryMinute: [ids], …}` for every loaded config having the task.
    public func schedule() -> [String: [Int]] {
        var result: [String: [Int]] = ["runEveryMinute": [], "runEveryHour": [], "runEveryDay": []]
        let plugins = table.withLock { $0.configs.values.compactMap(\.plugin) }.sorted { $0.descriptor.id < $1.descriptor.id }
        for plugin in plugins {
            for task in plugin.capabilities.scheduledTasks where result[task] != nil { result[task]!.append(plugin.descriptor.id) }
        }
        return result
    }

    /// Compiles each config once, then builds its sandbox on every worker. `nil` plugin = failed load,
    /// already recorded (and retried later when the code ran but failed).
    private func build(_ requests: [(PluginConfigDescriptor, Int)]) async -> [ConfigState] {
        var keyed: [BuildRequest] = []
        for (descriptor, attempt) in requests {
            generation += 1
            keyed.append(
                BuildRequest(descriptor: descriptor, attempt: attempt, key: SandboxKey(configId: descriptor.id, generation: generation)))
        }
        let chunks = stride(from: 0, to: keyed.count, by: Self.buildChunk).map { Array(keyed[$0..<min($0 + Self.buildChunk, keyed.count)]) }
        // A bounded window of chunks at a time: a task group's bookkeeping grows with its pending
        // children, and 10,000 configs at once made start-up quadratic.
        return await withTaskGroup(of: [ConfigState].self) { group in
            var states: [ConfigState] = []
            var running = 0
            for chunk in chunks {
                if running == Self.concurrentBuilds / Self.buildChunk, let built = await group.next() {
                    states += built
                    running -= 1
                }
                group.addTask { await self.buildChunk(chunk) }
                running += 1
            }
            for await built in group { states += built }
            return states
        }
    }

    private struct BuildRequest: Sendable {
        var descriptor: PluginConfigDescriptor
        var attempt: Int
        var key: SandboxKey
    }

    /// Compiles a chunk's configs, loads them on every worker (one batch per worker), then records
    /// each config's outcome.
    private nonisolated func buildChunk(_ chunk: [BuildRequest]) async -> [ConfigState] {
        var states: [ConfigState] = []
        var compiled: [(request: BuildRequest, code: String)] = []
        let sources = chunk.map { request in Result { () throws(PluginLoadError) in try PluginSource.resolve(request.descriptor) } }
        for (request, outcome) in zip(chunk, await compilations.compile(sources)) {
            let descriptor = request.descriptor
            switch outcome {
            case .success(let code):
                compiled.append((request, code))
            case .failure(let error):
                if error.isStringError {
                    await reporter.recordError(descriptor, name: nil, message: error.message, stack: nil, event: nil)
                } else {
                    await reporter.recordError(
                        descriptor, name: error.isSyntaxError ? "SyntaxError" : "Error", message: error.message, stack: nil, event: nil)
                    await reporter.systemLog(descriptor, .error, "Plugin failed to load (instance ID \(settings.instanceId)).")
                }
                states.append(ConfigState(descriptor: descriptor, plugin: nil))
            }
        }
        guard !compiled.isEmpty else { return states }
        let loads = compiled.map { PluginWorker.LoadRequest(key: $0.request.key, descriptor: $0.request.descriptor, code: $0.code) }
        let outcomes = await withTaskGroup(of: (Int, [Result<PluginCapabilities, JSThrown>]).self) { group in
            for (index, worker) in workers.enumerated() {
                group.addTask { (index, await worker.load(loads)) }
            }
            var byWorker = [[Result<PluginCapabilities, JSThrown>]](repeating: [], count: workers.count)
            for await (index, results) in group { byWorker[index] = results }
            return byWorker
        }
        // The outcomes are recorded concurrently: in the server each is a few database writes.
        return await withTaskGroup(of: ConfigState.self) { group in
            for (position, item) in compiled.enumerated() {
                let results = outcomes.map { $0[position] }
                group.addTask { await self.finishBuild(item.request, results) }
            }
            for await state in group { states.append(state) }
            return states
        }
    }

    /// Records a config's load on every worker: a failure on any closes it on all of them.
    private nonisolated func finishBuild(_ request: BuildRequest, _ outcomes: [Result<PluginCapabilities, JSThrown>]) async -> ConfigState {
        let descriptor = request.descriptor
        for outcome in outcomes {
            guard case .failure(let error) = outcome else { continue }
            for worker in workers { await worker.close(request.key) }
            await reporter.recordError(descriptor, error, event: nil)
            await loadFailed(descriptor, attempt: request.attempt)
            return ConfigState(descriptor: descriptor, plugin: nil)
        }
        guard case .success(let capabilities) = outcomes.first else { return ConfigState(descriptor: descriptor, plugin: nil) }
        await reporter.host.clearError(config: descriptor.ref)
        await reporter.host.recordCapabilities(capabilities, config: descriptor.ref)
        if !capabilities.metrics.isEmpty { await reporter.host.recordMetricTypes(capabilities.metrics, config: descriptor.ref) }
        await reporter.systemLog(descriptor, .info, "Plugin loaded (instance ID \(settings.instanceId)).")
        return ConfigState(
            descriptor: descriptor, plugin: LoadedPlugin(descriptor: descriptor, capabilities: capabilities, key: request.key))
    }

    /// Logs the failure and schedules the next attempt with back-off, or gives up (reference §11.2 Later,
    /// `configuration.md` §7 PLUGIN_LOAD_RETRIES / PLUGIN_DISABLE_ON_FAILURE).
    private func loadFailed(_ descriptor: PluginConfigDescriptor, attempt: Int) async {
        let prefix = "Plugin failed to load (instance ID \(settings.instanceId))."
        guard attempt < settings.loadAttempts else {
            if settings.disableOnFailure {
                await reporter.systemLog(
                    descriptor, .error,
                    "\(prefix) Disabling it due to too many retries – tried to load it \(attempt) times before giving up.")
                await reporter.host.disable(config: descriptor.ref)
            } else if settings.loadAttempts == 1 {
                await reporter.systemLog(descriptor, .error, prefix)
            } else {
                await reporter.systemLog(descriptor, .error, "\(prefix) Tried to load it \(attempt) times before giving up.")
            }
            return
        }
        let delay = settings.loadRetryDelay * pow(2, Double(attempt - 1))
        await reporter.systemLog(descriptor, .error, "\(prefix) Retrying in \(JSNumberFormatter.string(delay)) s.")
        retries[descriptor.id]?.cancel()
        retries[descriptor.id] = Task {
            try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            guard !Task.isCancelled else { return }
            await self.retryLoad(descriptor, attempt: attempt + 1)
        }
    }

    private func retryLoad(_ descriptor: PluginConfigDescriptor, attempt: Int) async {
        // Only while the same version is still wanted and still failed.
        guard let state = table.withLock({ $0.configs[descriptor.id] }), state.plugin == nil,
            state.descriptor.updatedMarker == descriptor.updatedMarker
        else { return }
        retries[descriptor.id] = nil
        let built = await build([(descriptor, attempt)])
        guard !Task.isCancelled, table.withLock({ $0.configs[descriptor.id]?.plugin == nil }) else {
            await retire(built.compactMap(\.plugin))
            return
        }
        let replaced = publish(built, removing: [])
        await retire(replaced)
    }

    /// Swaps the new states in and returns the loaded plugins they replaced or removed.
    private func publish(_ states: [ConfigState], removing gone: [Int]) -> [LoadedPlugin] {
        table.withLock { table in
            var replaced: [LoadedPlugin] = []
            for state in states {
                if let old = table.configs[state.descriptor.id]?.plugin { replaced.append(old) }
                table.configs[state.descriptor.id] = state
            }
            for id in gone {
                if let old = table.configs.removeValue(forKey: id)?.plugin { replaced.append(old) }
            }
            table.rebuildTeams()
            return replaced
        }
    }

    /// Runs `teardownPlugin` on every worker and closes the sandboxes (reference §11.2, §11.3).
    private nonisolated func retire(_ plugins: [LoadedPlugin], awaitClose: Bool = false) async {
        await withTaskGroup(of: Void.self) { group in
            for plugin in plugins {
                group.addTask {
                    var failure: JSThrown?
                    for worker in self.workers {
                        if let error = await worker.retire(plugin.key, runTeardown: true, awaitClose: awaitClose), failure == nil {
                            failure = error
                        }
                    }
                    let instance = self.settings.instanceId
                    if let failure {
                        await self.reporter.recordError(plugin.descriptor, failure, event: nil)
                        await self.reporter.systemLog(plugin.descriptor, .error, "Plugin failed to unload (instance ID \(instance)).")
                    } else {
                        await self.reporter.systemLog(plugin.descriptor, .info, "Plugin unloaded (instance ID \(instance)).")
                    }
                }
            }
        }
    }

    // MARK: events

    /// Runs the team's `processEvent` chain (reference §9.2) on one worker.
    public nonisolated func processEventChain(teamId: Int, event: JSON) async -> ChainResult {
        guard let links = table.withLock({ $0.teams[teamId]?.processEvent }), !links.isEmpty else { return .event(event) }
        let index = await slots.acquire()
        defer { slots.release(index) }
        return await workers[index].runChain(links, event: event, reporter: reporter)
    }

    /// Runs a batch of one team's events through the team's plugins as one task on one worker (the
    /// 0.20.3 `processEventBatch` task, reference §9.3). Returns the surviving events, in order.
    public nonisolated func processEventBatch(teamId: Int, events: [JSON]) async -> [JSON] {
        guard !events.isEmpty, let links = table.withLock({ $0.teams[teamId]?.processEvent }), !links.isEmpty else { return events }
        let index = await slots.acquire()
        defer { slots.release(index) }
        return await workers[index].runBatch(links, teamId: teamId, events: events, reporter: reporter)
    }

    /// Runs `onEvent` of every config of the team concurrently, each on its own copy (reference §9.4).
    public nonisolated func onEvent(teamId: Int, event: JSON) async {
        guard let targets = table.withLock({ $0.teams[teamId]?.onEvent }), !targets.isEmpty else { return }
        await fanOut(targets, method: "onEvent", event: event)
    }

    public nonisolated func onSnapshot(teamId: Int, event: JSON) async {
        guard let targets = table.withLock({ $0.teams[teamId]?.onSnapshot }), !targets.isEmpty else { return }
        await fanOut(targets, method: "onSnapshot", event: event)
    }

    private nonisolated func fanOut(_ targets: [LoadedPlugin], method: String, event: JSON) async {
        let index = await slots.acquire()
        defer { slots.release(index) }
        await workers[index].fanOut(targets, method: method, event: event, reporter: reporter)
    }

    /// Flushes the `exportEvents` buffers whose oldest event reached `exportEventsBufferSeconds`
    /// (reference §13.2), on every worker. The server calls it every second.
    public nonisolated func flushDueExports() async {
        await flushExports(method: "__flushExportIfDue")
    }

    /// Flushes every `exportEvents` buffer now, due or not (`run-plugin --run-jobs`, so that the retries
    /// an export enqueues run before teardown).
    public nonisolated func flushAllExports() async {
        await flushExports(method: "__flushExport")
    }

    private nonisolated func flushExports(method: String) async {
        let exporters = table.withLock { $0.configs.values.compactMap(\.plugin) }.filter {
            $0.capabilities.methods.contains("exportEvents")
        }
        guard !exporters.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            for worker in workers {
                group.addTask {
                    for plugin in exporters {
                        do throws(JSThrown) {
                            _ = try await worker.callIfActive(
                                plugin.key, kind: .method, name: method, arguments: [], wantsResult: false, bounded: true)
                        } catch {
                            await self.reporter.recordError(plugin.descriptor, error, event: nil)
                        }
                    }
                }
            }
        }
    }

    /// Keeps this instance's exportEvents buffers recoverable: marks the instance alive and, with
    /// `recover`, exports what instances no longer alive left buffered or pending (an addition to
    /// reference §13.2: nothing buffered is lost across a crash).
    public nonisolated func maintainExports(recover: Bool) async {
        let exporters = table.withLock { $0.configs.values.compactMap(\.plugin) }.filter {
            $0.capabilities.methods.contains("exportEvents")
        }
        guard !exporters.isEmpty else { return }
        let host = reporter.host
        await host.exportHeartbeat(instance: settings.instanceId)
        guard recover else { return }
        for plugin in exporters {
            let batches: [(batchKey: String, events: [JSON])]
            do {
                batches = try await host.exportRecover(config: plugin.descriptor.ref, instance: settings.instanceId)
            } catch {
                await reporter.systemLog(plugin.descriptor, .error, "Could not recover buffered events: \(error)")
                continue
            }
            for batch in batches where !batch.events.isEmpty {
                await reporter.systemLog(
                    plugin.descriptor, .info,
                    "Exporting \(batch.events.count) events buffered by an instance that stopped (batch \(batch.batchKey)).")
                do {
                    try await runUnbounded(
                        plugin, kind: .method, name: "__exportRecovered", arguments: [.array(batch.events), .string(batch.batchKey)])
                } catch {
                    // Recorded on the config by runUnbounded; the batch stays pending for the next attempt.
                }
            }
        }
    }

    /// Takes the `meta.metrics` values of every worker, merges them by type and sends one
    /// `$$plugin_metrics` capture per config that has values (reference §13.3; the server calls it
    /// every 30 minutes and at shutdown).
    public nonisolated func flushPluginMetrics() async {
        let plugins = table.withLock { $0.configs.values.compactMap(\.plugin) }.filter { !$0.capabilities.metrics.isEmpty }
        for plugin in plugins {
            var merged: JSONObject = [:]
            for worker in workers {
                for (name, value) in await worker.takeMetrics(plugin.key) {
                    guard let number = value.numberValue else { continue }
                    let old = merged[name]?.numberValue
                    let type = plugin.capabilities.metrics[name] ?? "sum"
                    let next = old.map { type == "max" ? max($0, number) : type == "min" ? min($0, number) : $0 + number } ?? number
                    merged[name] = .number(next)
                }
            }
            guard !merged.isEmpty else { continue }
            let descriptor = plugin.descriptor
            merged["plugin_name"] = .string(descriptor.pluginName)
            merged["plugin_id"] = .number(Double(descriptor.pluginId))
            merged["plugin_tag"] = descriptor.pluginTag.map(JSON.string) ?? .null
            do {
                try await reporter.host.capture(
                    PluginCapture(
                        event: "$$plugin_metrics", properties: merged, distinctId: descriptor.pluginName, teamId: descriptor.teamId,
                        pluginConfigId: descriptor.id, pluginName: descriptor.pluginName))
            } catch {
                await reporter.systemLog(descriptor, .error, "Could not send plugin metrics: \(error)")
            }
        }
    }

    // MARK: tasks and jobs

    /// Runs a `runEvery*` task (not bounded by `TASK_TIMEOUT`, reference §8.1) on one worker.
    public nonisolated func runTask(configId: Int, name: String) async throws(PluginError) {
        let state = table.withLock { $0.configs[configId] }
        guard let plugin = state?.plugin, plugin.capabilities.scheduledTasks.contains(name) else {
            throw PluginError(
                teamId: state?.descriptor.teamId, pluginConfigId: configId, method: name, name: "Error",
                message: "Task \"\(name)\" not found for plugin config \(configId)", stack: nil)
        }
        try await runUnbounded(plugin, kind: .task, name: name, arguments: [])
    }

    /// Runs `jobs.<type>(payload, meta)`; a falsy payload calls `f(meta)` (reference §8.1 quirk).
    public nonisolated func runJob(configId: Int, type: String, payload: JSON) async throws(PluginError) {
        let state = table.withLock { $0.configs[configId] }
        guard let plugin = state?.plugin, plugin.capabilities.jobs.contains(type) || type == "exportEventsWithRetry" else {
            let name = state?.descriptor.pluginName ?? "undefined"
            let error = PluginError(
                teamId: state?.descriptor.teamId, pluginConfigId: configId, method: "jobs.\(type)", name: "Error",
                message: "Task \"\(type)\" not found for plugin \"\(name)\" with config id \(configId)", stack: nil)
            if let descriptor = state?.descriptor {
                await reporter.recordError(descriptor, name: error.name, message: error.message, stack: nil, event: nil)
            }
            throw error
        }
        try await runUnbounded(plugin, kind: .job, name: type, arguments: [payload])
    }

    private nonisolated func runUnbounded(_ plugin: LoadedPlugin, kind: ExportKind, name: String, arguments: [JSON])
        async throws(PluginError)
    {
        let index = await slots.acquire()
        defer { slots.release(index) }
        do {
            _ = try await workers[index].call(plugin.key, kind: kind, name: name, arguments: arguments, wantsResult: false, bounded: false)
        } catch {
            await reporter.recordError(plugin.descriptor, error, event: nil)
            throw PluginError(
                teamId: plugin.descriptor.teamId, pluginConfigId: plugin.descriptor.id,
                method: kind == .job ? "jobs.\(name)" : name, name: error.name, message: error.message, stack: error.stack)
        }
    }

    // MARK: introspection (tests, benchmarks)

    /// Returns once every console line written so far has reached the host (a local runner prints them
    /// before the event that caused them).
    public nonisolated func flushLogs() async {
        for worker in workers { await worker.logWriter.flush() }
    }

    /// Sandboxes alive on each worker.
    public func sandboxCounts() async -> [Int] {
        var counts: [Int] = []
        for worker in workers { counts.append(await worker.sandboxCount) }
        return counts
    }

    /// Collects JavaScript garbage on every worker (benchmarks measure memory after it, as the anchor does).
    public func collectGarbage() async {
        for worker in workers { await worker.collectGarbage() }
    }

    /// JavaScript contexts alive on each worker (the configs of one plugin share one).
    public func contextCounts() async -> [Int] {
        var counts: [Int] = []
        for worker in workers { counts.append(await worker.contextCount) }
        return counts
    }

    /// Tasks in flight on each worker right now.
    public nonisolated var tasksInFlight: [Int] { slots.inFlight }
}

/// One config in force: its descriptor and, when its load succeeded, the plugin.
struct ConfigState: Sendable {
    var descriptor: PluginConfigDescriptor
    var plugin: LoadedPlugin?
}

/// What the event path reads: configs by id and, per team, the plugins of each entry point in order.
struct PluginTable: Sendable {
    struct Team: Sendable {
        var processEvent: [LoadedPlugin] = []
        var onEvent: [LoadedPlugin] = []
        var onSnapshot: [LoadedPlugin] = []
    }

    var configs: [Int: ConfigState] = [:]
    var teams: [Int: Team] = [:]

    mutating func updateDescriptor(_ descriptor: PluginConfigDescriptor) {
        guard configs[descriptor.id] != nil else { return }
        configs[descriptor.id]!.descriptor = descriptor
        configs[descriptor.id]!.plugin?.descriptor = descriptor
        rebuildTeams()
    }

    /// Orders each team's plugins by `order`, then id (reference §9.1).
    mutating func rebuildTeams() {
        let plugins = configs.values.compactMap(\.plugin).filter { $0.descriptor.teamId != nil }.sorted {
            let a = $0.descriptor
            let b = $1.descriptor
            return a.order != b.order ? a.order < b.order : a.id < b.id
        }
        var result: [Int: Team] = [:]
        for plugin in plugins {
            let methods = plugin.capabilities.methods
            let team = plugin.descriptor.teamId!
            if methods.contains("processEvent") || methods.contains("processEventBatch") {
                result[team, default: Team()].processEvent.append(plugin)
            }
            if methods.contains("onEvent") || methods.contains("exportEvents") { result[team, default: Team()].onEvent.append(plugin) }
            if methods.contains("onSnapshot") { result[team, default: Team()].onSnapshot.append(plugin) }
        }
        teams = result
    }
}
