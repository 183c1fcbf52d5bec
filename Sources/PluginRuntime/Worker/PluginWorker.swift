import CJavaScriptCore
import Foundation
import PostHogEvents

/// One worker: an OS thread owning one JSC context group with a sandbox per plugin config in force
/// (reference §1: one sandbox per config per worker thread, each with its own `global`). Its actor
/// executor is that thread, so all isolated code (and every JSC call) runs there, and async work
/// awaiting host calls interleaves on it.
actor PluginWorker {
    nonisolated let thread: WorkerThread
    nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }
    private let group: JSContextGroupRef
    private let bridgeClass: JSClassRef
    private let watchdog: Watchdog
    private let host: any PluginHost
    private let settings: PluginRuntimeSettings
    nonisolated let logWriter: PluginLogWriter
    private var sandboxes: [SandboxKey: Sandbox] = [:]
    /// Calls running in each sandbox, so a retired sandbox closes only once they are done.
    private var running: [SandboxKey: Int] = [:]
    private var retired: Set<SandboxKey> = []

    init(index: Int, host: any PluginHost, settings: PluginRuntimeSettings) {
        thread = WorkerThread(name: "plugin-worker-\(index)")
        self.host = host
        self.settings = settings
        logWriter = PluginLogWriter(host: host)
        group = JSContextGroupCreate()
        var definition = kJSClassDefinitionEmpty
        definition.callAsFunction = nativeBridgeCallback
        bridgeClass = JSClassCreate(&definition)
        let limit = settings.executionTimeLimit ?? settings.taskTimeout
        watchdog = Watchdog(limit: limit)
        JSContextGroupSetExecutionTimeLimit(group, limit, watchdogCallback, Unmanaged.passUnretained(watchdog).toOpaque())
    }

    deinit {
        thread.stop()
    }

    /// The watchdog's limit when it terminated the last JavaScript entry; resets the mark.
    nonisolated func takeTermination() -> Double? {
        watchdog.take()
    }

    /// Builds the sandbox (prelude, plugin code, export discovery) and runs `setupPlugin` in it.
    func load(_ key: SandboxKey, _ descriptor: PluginConfigDescriptor, code: String) async throws(JSThrown) -> PluginCapabilities {
        close(key)
        let sandbox = try Sandbox(
            key: key, descriptor: descriptor, group: group, bridgeClass: bridgeClass, worker: self, thread: thread, host: host,
            instanceId: settings.instanceId)
        do {
            try sandbox.evaluatePlugin(code)
        } catch {
            sandbox.close()
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

    /// Calls an export of a sandbox. `bounded` applies `TASK_TIMEOUT` to the awaited promise.
    func call(_ key: SandboxKey, kind: ExportKind, name: String, arguments: [JSON], wantsResult: Bool, bounded: Bool)
        async throws(JSThrown) -> CallResult
    {
        guard let sandbox = sandboxes[key] else {
            throw JSThrown(name: "Error", message: "Plugin config \(key.configId) is not loaded", stack: nil)
        }
        running[key, default: 0] += 1
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
        let left = (running[key] ?? 1) - 1
        running[key] = left == 0 ? nil : left
        if left == 0 && retired.remove(key) != nil { close(key) }
    }

    /// Runs `teardownPlugin` when the plugin has it (or buffers exports), then closes the sandbox
    /// once its running calls are done. Returns the teardown's error.
    func retire(_ key: SandboxKey, runTeardown: Bool) async -> JSThrown? {
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
        if running[key] == nil { close(key) } else { retired.insert(key) }
        return failure
    }

    /// Closes at once, failing the calls still waiting on the sandbox.
    func close(_ key: SandboxKey) {
        retired.remove(key)
        sandboxes.removeValue(forKey: key)?.close()
    }

    func completeHostCall(_ key: SandboxKey, id: Int, result: HostResult) {
        sandboxes[key]?.completeHostCall(id: id, result: result)
    }

    func expireAwait(_ key: SandboxKey, id: Int, after seconds: Double) {
        sandboxes[key]?.expireAwait(id: id, after: seconds)
    }

    var sandboxCount: Int { sandboxes.count }

    /// The sandbox's `meta.metrics` values since the last call, reset.
    func takeMetrics(_ key: SandboxKey) -> JSONObject { sandboxes[key]?.takeMetrics() ?? [:] }

    func hasSandbox(_ key: SandboxKey) -> Bool { sandboxes[key] != nil && !retired.contains(key) }

    /// Runs `body` on the worker thread with the config's newest context (tests and benchmarks).
    func withContext<T: Sendable>(configId: Int, _ body: (JSGlobalContextRef) throws -> T) rethrows -> T? {
        guard let sandbox = sandboxes.filter({ $0.key.configId == configId }).max(by: { $0.key.generation < $1.key.generation })?.value
        else { return nil }
        return try body(sandbox.context)
    }
}

/// Marks that the execution time limit terminated JavaScript.
private final class Watchdog: @unchecked Sendable {
    // @unchecked Sendable: `fired` is guarded by `lock`; `limit` is immutable.
    let limit: Double
    private let lock = NSLock()
    private var fired = false

    init(limit: Double) { self.limit = limit }

    func fire() {
        lock.lock()
        fired = true
        lock.unlock()
    }

    func take() -> Double? {
        lock.lock()
        defer { lock.unlock() }
        guard fired else { return nil }
        fired = false
        return limit
    }
}

private func watchdogCallback(_ ctx: JSContextRef?, _ context: UnsafeMutableRawPointer?) -> Bool {
    guard let context else { return true }
    Unmanaged<Watchdog>.fromOpaque(context).takeUnretainedValue().fire()
    return true
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
