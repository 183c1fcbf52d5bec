import CEngineHooks
import CJavaScriptCore
import Foundation
import PostHogEvents
import Synchronization

/// One worker: an OS thread owning one JSC context group with a sandbox per plugin config in force
/// (reference §1: one sandbox per config per worker thread, each with its own `global`), the sandboxes
/// of one plugin sharing a context (`PluginContext`). Its actor executor is that thread, so all
/// isolated code (and every JSC call) runs there, and async work awaiting host calls interleaves on it.
actor PluginWorker {
    nonisolated let thread: WorkerThread
    nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }
    private nonisolated let engine: Engine
    private let watchdog: Watchdog
    private let host: any PluginHost
    private let settings: PluginRuntimeSettings
    nonisolated let logWriter: PluginLogWriter
    /// Starts the sandboxes' host calls, off this thread.
    nonisolated let hostCalls = HostCallDispatcher()
    /// Host call results waiting to be handed to their sandboxes (`drainHostResults`).
    nonisolated let hostResults = HostResultInbox()
    private var sandboxes: [SandboxKey: Sandbox] = [:]
    /// The context new configs of each plugin join.
    private var sharedContexts: [Int: PluginContext] = [:]

    init(index: Int, host: any PluginHost, settings: PluginRuntimeSettings) {
        thread = WorkerThread(name: "plugin-worker-\(index)")
        self.host = host
        self.settings = settings
        logWriter = PluginLogWriter(host: host)
        var definition = kJSClassDefinitionEmpty
        definition.callAsFunction = nativeBridgeCallback
        var pureDefinition = kJSClassDefinitionEmpty
        pureDefinition.callAsFunction = pureBridgeCallback
        engine = Engine(
            group: JSContextGroupCreate(), bridgeClass: JSClassCreate(&definition), pureBridgeClass: JSClassCreate(&pureDefinition))
        watchdog = Watchdog(
            timeLimit: settings.executionTimeLimit ?? PluginRuntimeSettings.defaultExecutionTimeLimit(taskTimeout: settings.taskTimeout),
            memoryLimitBytes: settings.memoryLimitBytes)
        // The limit counts wall time (see WatchdogClock.c); if that cannot be set up, it counts CPU time.
        _ = watchdog_clock_install()
        watchdog.install(on: engine.group)
        thread.onTimer { [weak self] in
            self?.assumeIsolated { $0.fireDueTimers() }
        }
    }

    deinit {
        // The engine goes on its own thread, after the jobs still queued there. Its contexts hold
        // the group as long as they live; the watchdog, freed with this worker, is unhooked first.
        let engine = self.engine
        thread.stop { engine.release() }
    }

    /// Why the watchdog terminated the last JavaScript entry, if it did; resets the mark.
    nonisolated func takeTermination() -> Watchdog.Termination? {
        watchdog.take()
    }

    /// Why the watchdog is terminating the running entry, if it is; keeps the mark.
    nonisolated func pendingTermination() -> Watchdog.Termination? {
        watchdog.peek()
    }

    /// Counts an entry into JavaScript from Swift (see `Watchdog`).
    nonisolated func noteEntry() {
        watchdog.noteEntry()
    }

    struct LoadRequest: Sendable {
        var key: SandboxKey
        var descriptor: PluginConfigDescriptor
        var code: String
    }

    /// Loads several configs, each in a task of its own on this thread, so that one waiting in
    /// `setupPlugin` does not hold up the others; the batch costs one visit to the thread, not one per
    /// config. The outcomes are in the order of `requests`.
    func load(_ requests: [LoadRequest]) async -> [Result<PluginCapabilities, JSThrown>] {
        let loads = requests.map { request in
            Task { () -> Result<PluginCapabilities, JSThrown> in
                do throws(JSThrown) {
                    return .success(try await self.load(request.key, request.descriptor, code: request.code))
                } catch {
                    return .failure(error)
                }
            }
        }
        var outcomes: [Result<PluginCapabilities, JSThrown>] = []
        outcomes.reserveCapacity(loads.count)
        for load in loads { outcomes.append(await load.value) }
        return outcomes
    }

    /// Builds the sandbox (prelude, plugin code, export discovery) and runs `setupPlugin` in it, in the
    /// context the plugin's configs share (see `PluginContext`): the first config loads there alone and
    /// decides whether the context stays shared (sealed) or the plugin gets a context per config. A load
    /// failing in a sealed context with a ReferenceError is tried again in a context of its own (the
    /// plugin may rely on a sloppy-mode global the seal refuses); when that works, so are the next. A
    /// plugin whose code assigns names it never declares gets a context per config from the start.
    func load(_ key: SandboxKey, _ descriptor: PluginConfigDescriptor, code: String) async throws(JSThrown) -> PluginCapabilities {
        let pluginId = descriptor.pluginId
        while isolatedCode[pluginId] != code {
            let shared: PluginContext
            if let existing = sharedContexts[pluginId], existing.code == code {
                shared = existing
            } else {
                if !ImplicitGlobals.names(in: code).isEmpty {
                    // Its undeclared names must be globals of each config's own (see `ImplicitGlobals`).
                    isolatedCode[pluginId] = code
                    break
                }
                shared = try makeContext(pluginId: pluginId, code: code, isShared: true)
                sharedContexts[pluginId] = shared
                return try await loadFirst(key, descriptor, code: code, in: shared)
            }
            if !shared.isSealed {
                // The first config is still loading: it decides whether configs share.
                await withCheckedContinuation { shared.waiting.append($0) }
                continue
            }
            do {
                return try await load(key, descriptor, code: code, in: shared)
            } catch  where error.name == "ReferenceError" {
                let capabilities = try await load(key, descriptor, code: code, in: nil)
                isolatedCode[pluginId] = code
                return capabilities
            }
        }
        return try await load(key, descriptor, code: code, in: nil)
    }

    /// The first config of a new shared context: loads alone, then seals the context, or gives the
    /// plugin a context per config when the load wrote to the global object. Waiting loads go on.
    private func loadFirst(_ key: SandboxKey, _ descriptor: PluginConfigDescriptor, code: String, in shared: PluginContext)
        async throws(JSThrown) -> PluginCapabilities
    {
        defer {
            // No members left: the load failed (or was closed) and the context is gone already.
            if shared.members > 0 && !shared.globalsWereWritten() { shared.seal() }
            if !shared.isSealed { isolate(shared) }
            for waiter in shared.waiting { waiter.resume() }
            shared.waiting = []
        }
        return try await load(key, descriptor, code: code, in: shared)
    }

    /// The context stops taking configs; when its global was written, the plugin's configs (of this
    /// code) get a context each from now on.
    private func isolate(_ pluginContext: PluginContext) {
        if sharedContexts[pluginContext.pluginId] === pluginContext { sharedContexts[pluginContext.pluginId] = nil }
        guard pluginContext.isShared else { return }
        pluginContext.isShared = false
        if pluginContext.members > 0 { isolatedCode[pluginContext.pluginId] = pluginContext.code }
    }

    /// `shared` nil: a context of the config's own.
    private func load(_ key: SandboxKey, _ descriptor: PluginConfigDescriptor, code: String, in shared: PluginContext?)
        async throws(JSThrown) -> PluginCapabilities
    {
        close(key)
        let pluginContext: PluginContext
        if let shared {
            pluginContext = shared
        } else {
            pluginContext = try makeContext(pluginId: descriptor.pluginId, code: code, isShared: false)
        }
        let sandbox: Sandbox
        do {
            sandbox = try Sandbox(
                key: key, descriptor: descriptor, pluginContext: pluginContext, bridgeClass: engine.bridgeClass, worker: self,
                thread: thread,
                host: host, instanceId: settings.instanceId)
        } catch {
            release(pluginContext)
            throw error
        }
        do {
            try sandbox.evaluatePlugin()
        } catch {
            sandbox.close()
            release(pluginContext)
            throw error
        }
        sandboxes[key] = sandbox
        // exportEvents plugins get a setupPlugin reading the bounds of the historical export (§13.2).
        if sandbox.capabilities.methods.contains("setupPlugin") || sandbox.capabilities.methods.contains("exportEvents") {
            do {
                _ = try await call(key, kind: .method, name: "setupPlugin", arguments: [], wantsResult: false, bounded: true)
            } catch {
                close(key)
                throw error
            }
        }
        return sandbox.capabilities
    }

    private func makeContext(pluginId: Int, code: String, isShared: Bool) throws(JSThrown) -> PluginContext {
        try PluginContext(
            pluginId: pluginId, code: code, isShared: isShared, group: engine.group, pureBridgeClass: engine.pureBridgeClass,
            thread: thread,
            testTimer: settings.exposesTestTimer)
    }

    /// The code of each plugin that loads only with a global object of its own.
    private var isolatedCode: [Int: String] = [:]

    private func release(_ pluginContext: PluginContext) {
        guard pluginContext.leave() else { return }
        if sharedContexts[pluginContext.pluginId] === pluginContext { sharedContexts[pluginContext.pluginId] = nil }
        pluginContext.close()
    }

    /// Calls an export of a sandbox. `bounded` applies `TASK_TIMEOUT` to the awaited promise.
    nonisolated func call(_ key: SandboxKey, kind: ExportKind, name: String, arguments: [JSON], wantsResult: Bool, bounded: Bool)
        async throws(JSThrown) -> CallResult
    {
        guard
            let result = try await callIfActive(
                key, kind: kind, name: name, arguments: arguments, wantsResult: wantsResult, bounded: bounded, skipRetired: false)
        else { throw JSThrown(name: "Error", message: "Plugin config \(key.configId) is not loaded", stack: nil) }
        return result
    }

    /// As `call`, but `nil` when the sandbox is gone or retired (a reload replaced it, and its
    /// replacement serves the next events). The arguments are written as JSON text and the result parsed
    /// here, on the caller's executor, so the worker's thread only runs the plugin (see `JSONText`).
    nonisolated func callIfActive(
        _ key: SandboxKey, kind: ExportKind, name: String, arguments: [JSON], wantsResult: Bool, bounded: Bool,
        skipRetired: Bool = true
    ) async throws(JSThrown) -> CallResult? {
        let prepared = CallArguments(arguments)
        guard
            let result = try await run(
                key, kind: kind, name: name, arguments: prepared, wantsResult: wantsResult, bounded: bounded, skipRetired: skipRetired)
        else { return nil }
        return CallResult(value: try result.value?.parsed() ?? .null, returnedArgument: result.returnedArgument)
    }

    private func run(
        _ key: SandboxKey, kind: ExportKind, name: String, arguments: CallArguments, wantsResult: Bool, bounded: Bool,
        skipRetired: Bool
    ) async throws(JSThrown) -> SandboxResult? {
        guard let sandbox = sandboxes[key], !(skipRetired && sandbox.isRetired) else { return nil }
        sandbox.runningCalls += 1
        let started = DispatchTime.now().uptimeNanoseconds
        var failed = false
        defer { finished(key, sandbox, method: kind == .job ? "jobs.\(name)" : name, started: started, failed: failed) }
        do {
            return try await sandbox.invoke(
                kind: kind, name: name, arguments: arguments, wantsResult: wantsResult,
                timeout: bounded ? settings.taskTimeout : nil)
        } catch {
            failed = true
            throw error
        }
    }

    private func finished(_ key: SandboxKey, _ sandbox: Sandbox, method: String, started: UInt64, failed: Bool) {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        host.recordInvocation(PluginInvocation(method: method, config: sandbox.descriptor.ref, seconds: seconds, failed: failed))
        sandbox.runningCalls -= 1
        closeIfDone(key, sandbox)
    }

    /// Runs `teardownPlugin` when the plugin has it (or buffers exports), then closes the sandbox once
    /// its running calls and the host calls it started are done, or after the task timeout. Node kept
    /// a replaced VM's promises running: a teardown's `buffer.flush()` that nobody awaits still delivers.
    /// Pending `createBuffer` timeouts fire at once, so what the buffers hold is flushed, not lost.
    /// `awaitClose` (at shutdown) returns only once it is closed. Returns the teardown's error.
    func retire(_ key: SandboxKey, runTeardown: Bool, awaitClose: Bool = false) async -> JSThrown? {
        guard let sandbox = sandboxes[key] else { return nil }
        var failure: JSThrown?
        let capabilities = sandbox.capabilities
        if runTeardown && (capabilities.methods.contains("teardownPlugin") || capabilities.methods.contains("exportEvents")) {
            do {
                _ = try await call(key, kind: .method, name: "teardownPlugin", arguments: [], wantsResult: false, bounded: true)
            } catch {
                failure = error
            }
        }
        guard sandboxes[key] === sandbox else { return failure }
        // A `createBuffer` waiting on its timeout flushes now: Node kept a replaced VM's timers
        // running, and at shutdown the original lost what they held.
        sandbox.fireTimers()
        sandbox.isRetired = true
        closeIfDone(key, sandbox)
        guard !sandbox.isClosed else { return failure }
        let seconds = settings.taskTimeout
        Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            await self?.closeRetired(key)
        }
        if awaitClose { await sandbox.closed() }
        return failure
    }

    // MARK: timers

    private var timers = WorkerTimers()

    /// Settles sandbox `key`'s timer call `id` after `milliseconds`, on this worker's thread.
    func addTimer(_ key: SandboxKey, id: Int, milliseconds: Double) {
        thread.wake(at: timers.add(key: key, id: id, milliseconds: milliseconds))
    }

    /// Settles the timers due, an entry into JavaScript per run of one sandbox's timers; returns the
    /// next deadline. Timers of sandboxes gone since, or fired early (`fireTimers`), are skipped.
    private func fireDueTimers() -> UInt64? {
        forEachRun(timers.takeDue(), key: \.key) { sandbox, run in sandbox.fireTimers(ids: run.map(\.id)) }
        return timers.nextDeadline
    }

    /// Settles the timers in flight of every sandbox now (see `Sandbox.fireTimers`).
    func fireTimers() {
        for (key, sandbox) in sandboxes {
            sandbox.fireTimers()
            closeIfDone(key, sandbox)
        }
    }

    /// Closes a retired sandbox whose calls and host calls are all done.
    private func closeIfDone(_ key: SandboxKey, _ sandbox: Sandbox) {
        guard sandbox.isRetired && sandbox.runningCalls == 0 && sandbox.hostWorkInFlight == 0 && sandboxes[key] === sandbox else {
            return
        }
        close(key)
    }

    private func closeRetired(_ key: SandboxKey) {
        if sandboxes[key]?.isRetired == true { close(key) }
    }

    /// Closes at once, failing the calls still waiting on the sandbox.
    func close(_ key: SandboxKey) {
        guard let sandbox = sandboxes.removeValue(forKey: key) else { return }
        sandbox.close()
        release(sandbox.pluginContext)
    }

    /// Settles the host calls finished since the last drain, a JavaScript entry per run of one sandbox's
    /// results (at most `hostResultsPerEntry`, which bounds the continuations one entry runs).
    func drainHostResults() {
        forEachRun(hostResults.take(), key: \.key) { sandbox, run in sandbox.completeHostWork(run) }
    }

    /// Calls `body` with each run of consecutive items of one sandbox still open (at most
    /// `hostResultsPerEntry` items, which bounds the continuations one entry into JavaScript runs),
    /// then closes the sandbox if it retired and has nothing left running.
    private func forEachRun<Item>(_ items: [Item], key: (Item) -> SandboxKey, _ body: (Sandbox, ArraySlice<Item>) -> Void) {
        var start = items.startIndex
        while start < items.endIndex {
            let runKey = key(items[start])
            var end = start + 1
            while end < items.endIndex && key(items[end]) == runKey && end - start < Self.hostResultsPerEntry { end += 1 }
            if let sandbox = sandboxes[runKey] {
                body(sandbox, items[start..<end])
                closeIfDone(runKey, sandbox)
            }
            start = end
        }
    }

    static let hostResultsPerEntry = 256

    // MARK: awaited promises' deadlines

    /// Fails call `id` of the sandbox with a timeout unless its promise settled within `seconds`.
    /// One timer per worker serves every deadline (a timer per call cost more than the call).
    func scheduleExpiry(_ key: SandboxKey, id: Int, after seconds: Double) {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        var index = expiries.count
        while index > expiryHead && expiries[index - 1].deadline > deadline { index -= 1 }
        expiries.insert(Expiry(deadline: deadline, key: key, id: id, seconds: seconds), at: index)
        if expiries.count - expiryHead > 4096 && expiries.count - expiryHead > 4 * pendingExpiriesAtLastPrune {
            pruneExpiries()
        }
        if !expiryTimerRunning {
            expiryTimerRunning = true
            // Holds the worker only while expiring: a worker nobody uses any more goes with its thread
            // and engine, instead of living until the last deadline (the task timeout, 30 s by default).
            Task.detached { [weak self] in
                while let wait = await self?.expireDue() {
                    try? await Task.sleep(nanoseconds: wait)
                }
            }
        }
    }

    private struct Expiry {
        var deadline: UInt64
        var key: SandboxKey
        var id: Int
        var seconds: Double
    }

    /// Sorted by deadline; entries before `expiryHead` are done.
    private var expiries: [Expiry] = []
    private var expiryHead = 0
    private var expiryTimerRunning = false
    private var pendingExpiriesAtLastPrune = 0

    /// Expires the calls whose deadline passed. Returns the nanoseconds until the next deadline, or
    /// `nil` when none is left (the timer then stops). Deadlines come in order (the task timeout is one
    /// setting), so the timer only ever sleeps until the first.
    private func expireDue() -> UInt64? {
        while expiryHead < expiries.count {
            let now = DispatchTime.now().uptimeNanoseconds
            let next = expiries[expiryHead]
            if next.deadline > now { return next.deadline - now }
            expiryHead += 1
            sandboxes[next.key]?.expireAwait(id: next.id, after: next.seconds)
            if expiryHead > 1024 && expiryHead * 2 > expiries.count {
                expiries.removeFirst(expiryHead)
                expiryHead = 0
            }
        }
        expiries.removeAll(keepingCapacity: true)
        expiryHead = 0
        pendingExpiriesAtLastPrune = 0
        expiryTimerRunning = false
        return nil
    }

    /// Drops the deadlines of calls that already settled, so the list stays as long as the calls waiting.
    private func pruneExpiries() {
        expiries = expiries[expiryHead...].filter { sandboxes[$0.key]?.isAwaiting($0.id) == true }
        expiryHead = 0
        pendingExpiriesAtLastPrune = expiries.count
    }

    var sandboxCount: Int { sandboxes.count }

    /// Runs JavaScriptCore's garbage collector for this worker's contexts (benchmarks read RSS after it).
    func collectGarbage() {
        guard let sandbox = sandboxes.values.first else { return }
        JSSynchronousGarbageCollectForDebugging(sandbox.context)
    }

    /// JavaScript contexts alive on this worker (tests: configs of one plugin share one).
    var contextCount: Int { Set(sandboxes.values.map { ObjectIdentifier($0.pluginContext) }).count }

    /// The sandbox's `meta.metrics` values since the last call, reset.
    func takeMetrics(_ key: SandboxKey) -> JSONObject { sandboxes[key]?.takeMetrics() ?? [:] }
}

/// The worker's engine: its context group (JavaScriptCore's VM) and the bridge classes, released on
/// the worker's thread when the worker goes.
private struct Engine: @unchecked Sendable {
    // @unchecked Sendable: used on the worker's thread only, and released there.
    let group: JSContextGroupRef
    let bridgeClass: JSClassRef
    let pureBridgeClass: JSClassRef

    func release() {
        JSContextGroupClearExecutionTimeLimit(group)
        JSContextGroupRelease(group)
        JSClassRelease(bridgeClass)
        JSClassRelease(pureBridgeClass)
    }
}

/// Results of host calls, posted from any thread and taken by the worker in one batch.
final class HostResultInbox: Sendable {
    private let results = Mutex<[(key: SandboxKey, id: Int, result: HostResult)]>([])

    /// Adds a result; true when the inbox was empty, so the caller must have the worker drain it.
    func post(key: SandboxKey, id: Int, result: HostResult) -> Bool {
        results.withLock { results in
            results.append((key, id, result))
            return results.count == 1
        }
    }

    func take() -> [(key: SandboxKey, id: Int, result: HostResult)] {
        results.withLock { results in
            var taken: [(key: SandboxKey, id: Int, result: HostResult)] = []
            swap(&taken, &results)
            return taken
        }
    }
}

/// `native(op, …)` of the prelude: dispatches to the sandbox stored as the function object's private data.
private func nativeBridgeCallback(
    _ ctx: JSContextRef?, _ function: JSObjectRef?, _ this: JSObjectRef?, _ count: Int,
    _ arguments: UnsafePointer<JSValueRef?>?, _ exception: UnsafeMutablePointer<JSValueRef?>?
) -> JSValueRef? {
    guard let ctx, let function, let pointer = JSObjectGetPrivate(function) else { return JSValueMakeUndefined(ctx) }
    let sandbox = Unmanaged<Sandbox>.fromOpaque(pointer).takeUnretainedValue()
    sandbox.thread.assertCurrent()
    let values = Array(UnsafeBufferPointer(start: arguments, count: count))
    var thrown: JSValueRef?
    let result = sandbox.handleNative(ctx, values, exception: &thrown)
    if let thrown { exception?.pointee = thrown }
    return result ?? JSValueMakeUndefined(ctx)
}

/// A call's converted result, and whether the plugin returned the very object it was handed.
struct CallResult: Sendable {
    var value: JSON
    var returnedArgument: Bool
}
