import Foundation
import GeoIP
import Logging
import PluginRuntime
import PostHogEvents
import RedisClient

/// `plugin-server run-plugin`: loads one plugin into the server's own runtime, runs `setupPlugin`, the
/// `processEvent` chain and `onEvent` on each input event, the requested `runEvery*` tasks, then
/// `teardownPlugin` (which flushes `exportEvents`), printing everything the plugin did.
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
            logger: logger)
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
        }
        for task in options.tasks {
            await output.setMethod(task)
            let before = await output.errorCount
            do {
                try await runtime.runTask(configId: descriptor.id, name: task)
            } catch {
                // A task the plugin does not have is refused before any plugin code runs: nothing recorded it.
                if await output.errorCount == before { await output.addError(name: error.name, message: error.message, stack: nil) }
            }
            await settle(runtime, output)
        }
        // Node would keep the process alive until a pending `createBuffer` timeout flushed; a local run
        // fast-forwards the clock instead, so the flush runs (and is shown) now, before teardown.
        await runtime.fireTimers()
        await settle(runtime, output)
        await output.setMethod("teardownPlugin")
        await runtime.teardownAll()
        await output.flush()
        return Summary(errorCount: await output.errorCount)
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
