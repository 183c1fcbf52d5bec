import CJavaScriptCore
import Foundation
import PostHogEvents

/// One worker: an OS thread owning one JSC context group with a sandbox per plugin config. Its actor
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
    private var sandboxes: [Int: Sandbox] = [:]

    init(index: Int, host: any PluginHost, settings: PluginRuntimeSettings) {
        thread = WorkerThread(name: "plugin-worker-\(index)")
        self.host = host
        self.settings = settings
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

    /// Builds the sandbox: prelude, plugin code, export discovery. Replaces an existing one.
    func createSandbox(_ descriptor: PluginConfigDescriptor, code: String) throws(JSThrown) -> PluginCapabilities {
        unload(descriptor.id)
        let sandbox = try Sandbox(
            descriptor: descriptor, group: group, bridgeClass: bridgeClass, worker: self, thread: thread, host: host,
            instanceId: settings.instanceId)
        do {
            try sandbox.evaluatePlugin(code)
        } catch {
            sandbox.close()
            throw error
        }
        sandboxes[descriptor.id] = sandbox
        return sandbox.capabilities
    }

    /// Calls an export of the config's sandbox. `bounded` applies `TASK_TIMEOUT` to the awaited promise.
    func call(configId: Int, kind: ExportKind, name: String, arguments: [JSON], wantsResult: Bool, bounded: Bool)
        async throws(JSThrown) -> CallResult
    {
        guard let sandbox = sandboxes[configId] else {
            throw JSThrown(name: "Error", message: "Plugin config \(configId) is not loaded", stack: nil)
        }
        return try await sandbox.invoke(
            kind: kind, name: name, arguments: arguments, wantsResult: wantsResult,
            timeout: bounded ? settings.taskTimeout : nil)
    }

    func unload(_ configId: Int) {
        sandboxes.removeValue(forKey: configId)?.close()
    }

    func completeHostCall(configId: Int, id: Int, result: HostResult) {
        sandboxes[configId]?.completeHostCall(id: id, result: result)
    }

    func expireAwait(configId: Int, id: Int, after seconds: Double) {
        sandboxes[configId]?.expireAwait(id: id, after: seconds)
    }

    /// Runs `body` on the worker thread with the config's context (tests and benchmarks).
    func withContext<T: Sendable>(configId: Int, _ body: (JSGlobalContextRef) throws -> T) rethrows -> T? {
        guard let sandbox = sandboxes[configId] else { return nil }
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
