import Foundation
import GeoIP
import Logging
import PluginRuntime
import PostHogEvents
import RedisClient

/// `plugin-server run-plugin`: loads one plugin into the server's own runtime, runs `setupPlugin`, the
/// `processEvent` chain and `onEvent` on each input event, the requested `runEvery*` tasks and jobs,
/// then `teardownPlugin` (which flushes `exportEvents`), printing everything the plugin did. With
/// `--run-jobs`, the jobs the plugin enqueues run after the step that enqueued them.
public struct PluginRunner: Sendable {
    /// How the run went: non-zero `errorCount` means a plugin function threw.
    public struct Summary: Sendable {
        public var errorCount: Int
    }

    let options: RunnerOptions
    let settings: ServerSettings
    let logger: Logger

    public init(options: RunnerOptions, settings: ServerSettings, logger: Logger) {
        self.options = options
        self.settings = settings
        self.logger = logger
    }

    /// Throws `RunnerError` before running anything when the plugin or the events cannot be read.
    public func run() async throws -> Summary {
        let descriptor = try RunnerPluginLoader.descriptor(options)
        let events = try RunnerEventInput.read(path: options.eventsPath)
        let output = RunnerOutput(json: options.json)
        let postgres = options.usePostgres ? PostgresStore(settings: settings.postgres, logger: logger) : nil
        let redis = options.useRedis ? RedisClient(configuration: PluginServer.redisConfiguration(settings), logger: logger) : nil
        let geoIP = try options.geoIPDatabasePath.map(Self.openGeoIPDatabase)
        let host = RunnerPluginHost(
            output: output, cache: redis.map(RedisPluginCache.init), storage: postgres.map(PostgresPluginStorage.init),
            fetchTimeout: settings.plugins.fetchTimeoutSeconds, extraTrustRootsFile: settings.extraTrustRootsFile, geoIP: geoIP,
            api: RunnerPluginHost.APIDefaults(
                siteURL: settings.plugins.siteURL, projectApiKey: options.projectApiKey, personalApiKey: options.personalApiKey),
            keepsEnqueuedJobs: options.runsEnqueuedJobs, logger: logger)
        let summary = await withTaskGroup(of: Void.self) { group in
            if let postgres { group.addTask { await postgres.client.run() } }
            let summary = await runPlugin(descriptor, events: events, host: host, output: output)
            group.cancelAll()
            return summary
        }
        await host.shutdown()
        await redis?.close()
        return summary
    }

    private func runPlugin(
        _ descriptor: PluginConfigDescriptor, events: [JSON], host: RunnerPluginHost, output: RunnerOutput
    ) async -> Summary {
        // The server's limits; one worker so output follows input order; no load retries in a one-off run.
        let runtime = PluginRuntime(
            workerCount: 1, tasksPerWorker: 1, host: host,
            settings: PluginRuntimeSettings(
                taskTimeout: settings.plugins.taskTimeoutSeconds, executionTimeLimit: settings.plugins.executionTimeLimitSeconds,
                instanceId: UUIDT().uuidString, loadAttempts: 1))
        await output.setMethod("setupPlugin")
        await runtime.load([descriptor])
        await settle(runtime, output)
        guard let capabilities = await runtime.capabilities(configId: descriptor.id) else {
            return Summary(errorCount: max(1, await output.errorCount))
        }
        var jobs = EnqueuedJobs(limit: options.runsEnqueuedJobs ? options.enqueuedJobLimit : 0)
        await runEnqueuedJobs(&jobs, runtime, host, output, configId: descriptor.id)
        if capabilities.methods.isEmpty && capabilities.scheduledTasks.isEmpty && capabilities.jobs.isEmpty {
            // It loads and does nothing: the server would never call it either.
            let names = PluginCapabilities.exportNames.filter { $0 != "metrics" }.joined(separator: ", ")
            FileHandle.standardError.write(
                Data("run-plugin: warning: the plugin exports none of the functions the server calls (\(names))\n".utf8))
        }
        for (index, input) in events.enumerated() {
            var event = input
            if event["team_id"] == nil { event["team_id"] = .number(Double(options.teamId)) }
            await output.setMethod("processEvent")
            let result = await runtime.processEventChain(teamId: options.teamId, event: event)
            await runtime.flushLogs()
            switch result {
            case .event(let processed):
                await output.add(.event(processed))
                await output.flush()
                await output.setMethod("onEvent")
                await runtime.onEvent(teamId: options.teamId, event: processed)
                await settle(runtime, output)
            case .dropped:
                await output.add(.dropped(index: index, input: input))
                await output.flush()
            }
            await runEnqueuedJobs(&jobs, runtime, host, output, configId: descriptor.id)
        }
        for task in options.tasks {
            await output.setMethod(task)
            let before = await output.errorCount
            do {
                try await runtime.runTask(configId: descriptor.id, name: task)
            } catch {
                // A task the plugin does not have is refused before any plugin code runs: nothing recorded it.
                let hint = capabilities.jobs.contains(task) ? " (it is a job: --job \(task) runs it)" : ""
                if await output.errorCount == before { await output.addError(name: error.name, message: error.message + hint, stack: nil) }
            }
            await settle(runtime, output)
            await runEnqueuedJobs(&jobs, runtime, host, output, configId: descriptor.id)
        }
        for job in options.jobs {
            await runJob(job.type, payload: job.payload, runtime, output, configId: descriptor.id)
            await runEnqueuedJobs(&jobs, runtime, host, output, configId: descriptor.id)
        }
        // Node would keep the process alive until a pending `createBuffer` timeout flushed; a local run
        // fast-forwards the clock instead, so the flush runs (and is shown) now, before teardown.
        await runtime.fireTimers()
        await settle(runtime, output)
        if options.runsEnqueuedJobs {
            // The exportEvents buffer too, which teardown would flush: the retries it enqueues can still run.
            await runtime.flushAllExports()
            await settle(runtime, output)
            await runEnqueuedJobs(&jobs, runtime, host, output, configId: descriptor.id)
        }
        await output.setMethod("teardownPlugin")
        await runtime.teardownAll()
        await output.flush()
        jobs.add(host.takeEnqueuedJobs())
        if !jobs.pending.isEmpty || jobs.skipped > 0 {
            let reason =
                jobs.skipped > 0
                ? "after \(jobs.limit) runs of enqueued jobs (a job that always enqueues another?)"
                : "by teardownPlugin, after the plugin's last step"
            let count = jobs.pending.count + jobs.skipped
            FileHandle.standardError.write(
                Data("run-plugin: warning: \(count) enqueued job\(count == 1 ? " was" : "s were") not run: enqueued \(reason)\n".utf8))
        }
        return Summary(errorCount: await output.errorCount)
    }

    /// The jobs enqueued and not run yet, and how many more may run.
    struct EnqueuedJobs {
        let limit: Int
        var pending: [(sequence: Int, job: PluginJob)] = []
        var ran = 0
        /// Enqueued after the limit was reached.
        var skipped = 0
        private var sequence = 0

        init(limit: Int) { self.limit = limit }

        mutating func add(_ jobs: [PluginJob]) {
            for job in jobs {
                sequence += 1
                pending.append((sequence, job))
            }
        }

        /// The next job to run: the earliest run time, then the first enqueued; `nil` when none is
        /// left or the limit is reached (what is left then counts as skipped).
        mutating func next() -> PluginJob? {
            guard ran < limit else {
                skipped += pending.count
                pending.removeAll()
                return nil
            }
            guard
                let index = pending.indices.min(by: {
                    (pending[$0].job.timestamp, pending[$0].sequence) < (pending[$1].job.timestamp, pending[$1].sequence)
                })
            else { return nil }
            ran += 1
            return pending.remove(at: index).job
        }
    }

    /// With `--run-jobs`, runs the jobs the steps so far enqueued and those these enqueue, without
    /// waiting for their run times (the clock is fast-forwarded, as for `createBuffer`).
    private func runEnqueuedJobs(
        _ jobs: inout EnqueuedJobs, _ runtime: PluginRuntime, _ host: RunnerPluginHost, _ output: RunnerOutput, configId: Int
    ) async {
        guard options.runsEnqueuedJobs else { return }
        jobs.add(host.takeEnqueuedJobs())
        while let job = jobs.next() {
            await runJob(job.type, payload: job.payload, runtime, output, configId: configId)
            jobs.add(host.takeEnqueuedJobs())
        }
    }

    private func runJob(_ type: String, payload: JSON, _ runtime: PluginRuntime, _ output: RunnerOutput, configId: Int) async {
        await output.setMethod("jobs.\(type)")
        // A job the plugin does not have is recorded by the runtime, as the server records it.
        try? await runtime.runJob(configId: configId, type: type, payload: payload)
        await settle(runtime, output)
    }

    /// Waits for the console lines already written, then prints what the step produced.
    private func settle(_ runtime: PluginRuntime, _ output: RunnerOutput) async {
        await runtime.flushLogs()
        await output.flush()
    }

    /// A `.mmdb` file, or one compressed with brotli (`.br`, as PostHog stores it).
    static func openGeoIPDatabase(_ path: String) throws -> MaxMindDatabase {
        guard let data = FileManager.default.contents(atPath: path) else { throw RunnerError("cannot read the GeoIP database \(path)") }
        do {
            return path.hasSuffix(".br")
                ? try MaxMindDatabase(brotliCompressed: Array(data)) : try MaxMindDatabase(contents: Array(data))
        } catch {
            throw RunnerError("\(path) is not a MaxMind database: \(error)")
        }
    }
}
