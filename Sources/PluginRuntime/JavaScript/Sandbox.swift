import CJavaScriptCore
import Crypto
import Foundation
import PostHogEvents

/// One plugin config's JavaScript world: its bindings and `meta` in the context its plugin's configs
/// share on this worker (`PluginContext`), the prelude's helper object and the plugin's module state.
/// Lives inside its `PluginWorker` and is only touched on that worker's thread.
final class Sandbox {
    let key: SandboxKey
    let descriptor: PluginConfigDescriptor
    let thread: WorkerThread
    unowned let worker: PluginWorker
    let instanceId: String
    let pluginContext: PluginContext
    /// The config, instance and host every host call of this sandbox carries.
    private let hostCallOrigin: HostCallOrigin
    private var runtime: JSObjectRef?
    private var bridge: JSObjectRef?
    private(set) var capabilities = PluginCapabilities()
    /// Calls of the worker's running in this sandbox, so a retired sandbox closes only once they are done.
    var runningCalls = 0
    /// A reload replaced it: it takes no new calls and closes when `runningCalls` reaches 0.
    var isRetired = false
    /// Host calls started and not yet settled, timers aside: work a retiring sandbox lets finish.
    private(set) var hostWorkInFlight = 0
    /// Ids of the timer calls in flight (the worker keeps their deadlines), which no retirement waits for.
    private var timerCalls: Set<Int> = []
    private(set) var isClosed = false
    /// Waiting for `close` (see `PluginWorker.retire`).
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []

    private var nextId = 0
    /// Swift callers awaiting a JavaScript promise, resumed by the `settle` bridge call or a timeout.
    private var awaiting: [Int: (continuation: CheckedContinuation<SandboxResult, any Error>, wantsResult: Bool)] = [:]
    /// The call being made, whose promise may settle before the call returns (see `invoke`).
    private var invoking: (id: Int, wantsResult: Bool)?
    private var settledEarly: Result<SandboxResult, JSThrown>?
    /// The prelude's marker for "the result is a promise, its outcome comes through `settle`".
    private var pendingMarker: JSValueRef?
    /// The prelude's functions every call and every batch of host results enters by, looked up once.
    private var invokeFunction: JSObjectRef?
    private var completeFunction: JSObjectRef?
    /// Export kinds and names as JavaScript strings, made once per sandbox (all protected).
    private var nameValues: [String: JSValueRef] = [:]

    /// The context, checked to be used on the owning thread only.
    var context: JSGlobalContextRef { pluginContext.context }

    /// Configures the config in `pluginContext` (which it joins). Call `close` when done, also after a throw.
    init(
        key: SandboxKey, descriptor: PluginConfigDescriptor, pluginContext: PluginContext, bridgeClass: JSClassRef,
        worker: PluginWorker, thread: WorkerThread, host: any PluginHost, instanceId: String
    ) throws(JSThrown) {
        thread.assertCurrent()
        self.key = key
        self.descriptor = descriptor
        self.thread = thread
        self.worker = worker
        self.instanceId = instanceId
        self.pluginContext = pluginContext
        hostCallOrigin = HostCallOrigin(descriptor: descriptor, instanceId: instanceId, host: host)
        pluginContext.join()
        let ctx = pluginContext.context
        guard let configure = pluginContext.entryPoints?.configure else {
            throw JSThrown(name: "Error", message: "Plugin context is closed", stack: nil)
        }
        let bridge = JSObjectMake(ctx, bridgeClass, Unmanaged.passUnretained(self).toOpaque())!
        JSValueProtect(ctx, bridge)
        self.bridge = bridge
        var exception: JSValueRef?
        let result = JSC.call(
            ctx, configure, [bridge, JSC.makeValue(ctx, .object(descriptor.config)), makeAttachments(ctx)], exception: &exception)
        if let exception { throw JSThrown.from(ctx, exception) }
        runtime = JSC.object(ctx, result)
        JSValueProtect(ctx, runtime)
        if let runtime {
            pendingMarker = JSC.get(ctx, runtime, "pending")
            JSValueProtect(ctx, pendingMarker)
            invokeFunction = JSC.object(ctx, JSC.get(ctx, runtime, "invoke"))
            JSValueProtect(ctx, invokeFunction)
            completeFunction = JSC.object(ctx, JSC.get(ctx, runtime, "complete"))
            JSValueProtect(ctx, completeFunction)
        }
    }

    /// Drops every reference into the context and fails the Swift callers still waiting on it. The
    /// owner then lets go of the shared context (`PluginContext.leave`).
    func close() {
        let ctx = context
        for (_, waiting) in awaiting {
            waiting.continuation.resume(throwing: JSThrown(name: "Error", message: "Plugin was unloaded", stack: nil))
        }
        awaiting = [:]
        isClosed = true
        let waiters = closeWaiters
        closeWaiters = []
        for waiter in waiters { waiter.resume() }
        for value in [pendingMarker, invokeFunction, completeFunction] + Array(nameValues.values) {
            if let value { JSValueUnprotect(ctx, value) }
        }
        pendingMarker = nil
        invokeFunction = nil
        completeFunction = nil
        nameValues = [:]
        if let bridge {
            JSObjectSetPrivate(bridge, nil)
            JSValueUnprotect(ctx, bridge)
        }
        if let runtime { JSValueUnprotect(ctx, runtime) }
        bridge = nil
        runtime = nil
    }

    /// The config's attachments by key, or null when it has none (most have none).
    private func makeAttachments(_ ctx: JSContextRef) -> JSValueRef? {
        guard !descriptor.attachments.isEmpty else { return JSValueMakeNull(ctx) }
        let attachments = JSObjectMake(ctx, nil, nil)!
        for attachment in descriptor.attachments {
            let item = JSObjectMake(ctx, nil, nil)!
            JSC.set(ctx, item, "content_type", JSC.makeString(ctx, attachment.contentType))
            JSC.set(ctx, item, "file_name", JSC.makeString(ctx, attachment.fileName))
            JSC.set(ctx, item, "contents", JSC.makeBytes(ctx, attachment.contents))
            JSC.set(ctx, attachments, attachment.key, item)
        }
        return attachments
    }

    // MARK: running plugin code

    /// Runs the plugin's top-level code for this config (its module function, see `PluginModule`), then
    /// discovers its exports (reference §5.1, §7).
    func evaluatePlugin() throws(JSThrown) {
        guard let module = pluginContext.entryPoints?.module else {
            throw JSThrown(name: "Error", message: "Plugin context is closed", stack: nil)
        }
        let result = try callHelper("load", [module])
        let ctx = context
        // `load` answers with the capabilities as one JSON text (see the prelude's `discover`).
        let described = JSValueIsString(ctx, result) ? try JSONText(adopting: JSValueToStringCopy(ctx, result, nil)).parsed() : .null
        let list = { (name: String) -> [String] in described[name]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        var metrics: [String: String] = [:]
        for (name, type) in described["metrics"]?.objectValue ?? [:] { metrics[name] = type.stringValue }
        capabilities = PluginCapabilities(methods: list("methods"), scheduledTasks: list("tasks"), jobs: list("jobs"), metrics: metrics)
    }

    /// Calls an export with `meta` appended; returns the result as JSON text (when `wantsResult`),
    /// awaiting a returned promise. `timeout` bounds the wait for a promise (reference §8.1 "whole call
    /// bounded"). On failure the first argument's state is attached, since the chain continues with the
    /// plugin's mutations (§9.2).
    nonisolated(nonsending) func invoke(
        kind: ExportKind, name: String, arguments: CallArguments, wantsResult: Bool, timeout: Double?
    ) async throws(JSThrown) -> SandboxResult {
        let ctx = context
        // Made (and protected) before the arguments, which nothing roots but the stack until the call.
        let kindValue = nameValue(kind.rawValue)
        let nameValue = nameValue(name)
        defer {
            for name in [kindValue, nameValue] where !name.isKept { JSValueUnprotect(context, name.value) }
        }
        let array = arguments.makeArray(ctx)
        let argument = arguments.count == 0 ? nil : array.flatMap { JSObjectGetPropertyAtIndex(ctx, $0, 0, nil) }
        if let argument { JSValueProtect(ctx, argument) }
        defer { if let argument { JSValueUnprotect(context, argument) } }
        nextId += 1
        let id = nextId
        do throws(JSThrown) {
            guard let invokeFunction, let array else {
                throw JSThrown(name: "Error", message: "Sandbox is closed", stack: nil)
            }
            // One entry into JavaScript calls the export and, for a promise, attaches the callbacks. Its
            // microtasks drain before the entry returns, so a promise already settled (an async function
            // that never waited) reports through `settle` first: `invoking` keeps that outcome.
            invoking = (id, wantsResult)
            let called = Result { () throws(JSThrown) in
                try enter(
                    invokeFunction, [kindValue.value, nameValue.value, array, JSValueMakeNumber(ctx, Double(id))])
            }
            invoking = nil
            let early = settledEarly
            settledEarly = nil
            let result = try called.get()
            if let early { return try early.get() }
            guard let pendingMarker, JSValueIsStrictEqual(ctx, result, pendingMarker) else {
                let same = argument.map { JSValueIsStrictEqual(ctx, $0, result) } ?? false
                return SandboxResult(value: wantsResult ? try resultText(result) : nil, returnedArgument: same)
            }
            return try await awaitPromise(id: id, wantsResult: wantsResult, timeout: timeout)
        } catch {
            var error = error
            // Writing the event runs its `toJSON` methods and getters, plugin code: not again after the
            // watchdog stopped it, and as a run of its own otherwise.
            if !error.isTermination, let argument, JSValueIsObject(context, argument) {
                worker.noteEntry()
                error.argumentAfter = try? JSC.json(context, argument)
                _ = worker.takeTermination()
            }
            throw error
        }
    }

    /// Waits for the outcome of call `id`'s promise, reported through `settle`; `timeout` bounds the wait.
    nonisolated(nonsending) private func awaitPromise(id: Int, wantsResult: Bool, timeout: Double?) async throws(JSThrown) -> SandboxResult
    {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                awaiting[id] = (continuation, wantsResult)
                if let timeout {
                    let key = self.key
                    worker.assumeIsolated { $0.scheduleExpiry(key, id: id, after: timeout) }
                }
            }
        } catch let error as JSThrown {
            throw error
        } catch {
            throw JSThrown(name: "Error", message: "\(error)", stack: nil)
        }
    }

    /// Whether call `id` still waits for its promise.
    func isAwaiting(_ id: Int) -> Bool { awaiting[id] != nil }

    /// The `meta.metrics` values aggregated since the last call (reference §13.3), reset.
    func takeMetrics() -> JSONObject {
        guard let result = try? callHelper("takeMetrics", []), let json = try? JSC.json(context, result) else { return [:] }
        return json["values"]?.objectValue ?? [:]
    }

    func expireAwait(id: Int, after seconds: Double) {
        guard let waiting = awaiting.removeValue(forKey: id) else { return }
        let unit = seconds == 1 ? "second" : "seconds"
        waiting.continuation.resume(
            throwing: JSThrown(
                name: "TimeoutError",
                message: "Script execution timed out after promise waited for \(JSNumberFormatter.string(seconds)) \(unit)",
                stack: nil))
    }

    /// An export kind or name as a protected JavaScript string, kept for the sandbox's life: the names a
    /// plugin is called by are few (its methods, tasks and jobs), and each call would otherwise make two
    /// strings. Past `keptNames` (job names come from the queue) the caller unprotects it after use.
    private func nameValue(_ name: String) -> (value: JSValueRef, isKept: Bool) {
        if let value = nameValues[name] { return (value, true) }
        let value = JSC.makeString(context, name)
        JSValueProtect(context, value)
        guard runtime != nil, nameValues.count < Self.keptNames else { return (value, false) }
        nameValues[name] = value
        return (value, true)
    }

    private static let keptNames = 64

    private func callHelper(_ name: String, _ arguments: [JSValueRef?]) throws(JSThrown) -> JSValueRef? {
        guard let runtime, let function = JSC.object(context, JSC.get(context, runtime, name)) else {
            throw JSThrown(name: "Error", message: "Sandbox is closed", stack: nil)
        }
        return try enter(function, arguments)
    }

    /// Calls one of the prelude's functions: an entry into JavaScript, whose microtasks run before it returns.
    private func enter(_ function: JSObjectRef, _ arguments: [JSValueRef?]) throws(JSThrown) -> JSValueRef? {
        let ctx = context
        var exception: JSValueRef?
        if entryDepth == 0 { worker.noteEntry() }
        entryDepth += 1
        let result = JSC.call(ctx, function, arguments, exception: &exception)
        entryDepth -= 1
        // The host calls this entry made (its microtasks included) start together.
        if entryDepth == 0 { handOverHostCalls() }
        if let exception { throw thrown(exception) }
        return result
    }

    /// Host calls made during the current entry into JavaScript, handed to the dispatcher as it ends.
    private var startedHostCalls: [HostCallDispatcher.Call] = []
    private var entryDepth = 0

    private func handOverHostCalls() {
        guard !startedHostCalls.isEmpty else { return }
        worker.hostCalls.submit(contentsOf: startedHostCalls)
        startedHostCalls.removeAll(keepingCapacity: true)
    }

    /// A thrown value, or the watchdog's termination: the §5.5 timeout error, or the memory limit.
    private func thrown(_ exception: JSValueRef) -> JSThrown {
        Self.terminationError(worker.takeTermination()) ?? pluginContext.mapped(JSThrown.from(context, exception))
    }

    private static func terminationError(_ termination: Watchdog.Termination?) -> JSThrown? {
        switch termination {
        case .time(let seconds):
            var error = JSThrown(
                name: "TimeoutError",
                message: "Script execution timed out after \(JSNumberFormatter.string(seconds)) seconds", stack: nil)
            error.isTermination = true
            return error
        case .memory(let limitBytes):
            var error = JSThrown(
                name: "RangeError",
                message: "Out of memory: stopped while the server's memory passed its limit of \(limitBytes >> 20) MB", stack: nil)
            error.isTermination = true
            return error
        case nil:
            return nil
        }
    }

    /// A returned value's JSON text, written after the entry that returned it. Its `toJSON` methods are
    /// plugin code: this is a run of its own for the watchdog, and a termination is reported as such.
    private func resultText(_ value: JSValueRef?) throws(JSThrown) -> JSONText? {
        worker.noteEntry()
        return try JSONText.stringify(context, value, thrown: thrown)
    }

    // MARK: host call completion

    /// Settles host calls' promises in one entry into JavaScript; their continuations run as it ends.
    func completeHostCalls(_ results: ArraySlice<(key: SandboxKey, id: Int, result: HostResult)>) {
        guard let completeFunction else { return }
        let ctx = context
        // Id, success and value of each call, flat; each element attached as it is made (see `JSC.makeArray`).
        guard let list = JSObjectMakeArray(ctx, 0, nil, nil) else { return }
        var index: UInt32 = 0
        for item in results {
            var succeeded = true
            if case .failure = item.result { succeeded = false }
            JSObjectSetPropertyAtIndex(ctx, list, index, JSValueMakeNumber(ctx, Double(item.id)), nil)
            JSObjectSetPropertyAtIndex(ctx, list, index + 1, JSValueMakeBoolean(ctx, succeeded), nil)
            JSObjectSetPropertyAtIndex(ctx, list, index + 2, Self.makeHostValue(ctx, item.result), nil)
            index += 3
        }
        do {
            _ = try enter(completeFunction, [list])
        } catch {
            // A continuation was stopped (the watchdog) or threw past its promise: its call fails by timeout.
            _ = worker.takeTermination()
        }
    }

    /// Settles every timer in flight now, as if its time had come, so that `createBuffer` timeouts flush
    /// what they hold: when the sandbox retires, and before teardown in a local run.
    func fireTimers() {
        fireTimers(ids: timerCalls.sorted())
    }

    /// Settles these timer calls, those still in flight, in one entry into JavaScript.
    func fireTimers(ids: [Int]) {
        let settled = ids.filter { timerCalls.remove($0) != nil }
        guard !settled.isEmpty else { return }
        completeHostCalls(ArraySlice(settled.map { (key: key, id: $0, result: HostResult.undefined) }))
    }

    /// Settles the results of host calls (timers aside) in one entry into JavaScript.
    func completeHostWork(_ results: ArraySlice<(key: SandboxKey, id: Int, result: HostResult)>) {
        hostWorkInFlight -= results.count
        completeHostCalls(results)
    }

    /// Returns once the sandbox is closed.
    nonisolated(nonsending) func closed() async {
        guard !isClosed else { return }
        await withCheckedContinuation { closeWaiters.append($0) }
    }

    private static func makeHostValue(_ ctx: JSContextRef, _ result: HostResult) -> JSValueRef? {
        switch result {
        case .value(let json):
            return JSC.makeValue(ctx, json)
        case .text(let text):
            return text.makeValue(ctx)
        case .undefined:
            return JSValueMakeUndefined(ctx)
        case .response(let response):
            let object = JSObjectMake(ctx, nil, nil)!
            JSC.set(ctx, object, "status", JSValueMakeNumber(ctx, Double(response.status)))
            JSC.set(ctx, object, "statusText", JSC.makeString(ctx, response.statusText))
            JSC.set(ctx, object, "url", JSC.makeString(ctx, response.url))
            JSC.set(ctx, object, "redirected", JSValueMakeBoolean(ctx, response.redirected))
            JSC.set(
                ctx, object, "headers",
                JSC.makeValue(ctx, .array(response.headers.map { [.string($0.name), .string($0.value)] })))
            JSC.set(ctx, object, "body", JSC.makeBytes(ctx, response.body))
            return object
        case .failure(let message, let properties):
            let error = JSObjectMakeError(ctx, 1, [JSC.makeString(ctx, message)], nil)
            if let error {
                for (key, value) in properties { JSC.set(ctx, error, key, JSC.makeValue(ctx, value)) }
            }
            return error
        }
    }

    // MARK: the native bridge

    /// Entry point of every `native(op, …)` call made by the prelude.
    func handleNative(_ ctx: JSContextRef, _ arguments: [JSValueRef?], exception: inout JSValueRef?) -> JSValueRef? {
        guard let first = arguments.first, let op = JSC.toString(ctx, first) else { return nil }
        let argument = { (index: Int) -> JSValueRef? in index < arguments.count ? arguments[index] : nil }
        switch op {
        case "log":
            let type = PluginLogEntry.Level(rawValue: JSC.toString(ctx, argument(1)) ?? "") ?? .log
            log(.console, type, JSC.toString(ctx, argument(2)) ?? "")
            return JSValueMakeUndefined(ctx)
        case "settle":
            let id = Int(JSValueToNumber(ctx, argument(1), nil))
            let outcome = { (wantsResult: Bool) -> Result<SandboxResult, JSThrown> in
                guard JSValueToBoolean(ctx, argument(2)) else {
                    return .failure(self.pluginContext.mapped(JSThrown.from(ctx, argument(3) ?? JSValueMakeUndefined(ctx))))
                }
                do throws(JSThrown) {
                    let value = wantsResult ? try JSONText.stringify(ctx, argument(3)) : nil
                    return .success(SandboxResult(value: value, returnedArgument: JSValueToBoolean(ctx, argument(4))))
                } catch {
                    // Inside the entry: the mark stays for the entry's own error.
                    return .failure(Self.terminationError(self.worker.pendingTermination()) ?? error)
                }
            }
            if let waiting = awaiting.removeValue(forKey: id) {
                waiting.continuation.resume(with: outcome(waiting.wantsResult).mapError { $0 as any Error })
            } else if let invoking, invoking.id == id {
                settledEarly = outcome(invoking.wantsResult)
            }
            return JSValueMakeUndefined(ctx)
        case "timer":
            return startTimer(ctx, milliseconds: JSValueToNumber(ctx, argument(1), nil))
        case "host":
            return startHostCall(
                ctx, op: JSC.toString(ctx, argument(1)) ?? "", arguments: argument(2), bytes: argument(3), exception: &exception)
        default:
            return PureNative.handle(ctx, op, arguments, exception: &exception)
        }
    }

    /// A timer the worker keeps and settles on its own thread when due; no retirement waits for it.
    private func startTimer(_ ctx: JSContextRef, milliseconds: Double) -> JSValueRef? {
        nextId += 1
        let id = nextId
        let key = self.key
        timerCalls.insert(id)
        worker.assumeIsolated { $0.addTimer(key, id: id, milliseconds: milliseconds) }
        // The prelude keeps the timer's callback under this id.
        return JSValueMakeNumber(ctx, Double(id))
    }

    private func startHostCall(
        _ ctx: JSContextRef, op: String, arguments: JSValueRef?, bytes: JSValueRef?, exception: inout JSValueRef?
    ) -> JSValueRef? {
        // Only stringified here: the text is parsed, and the result written, by the task, off this thread.
        let argumentsText: JSONText?
        do throws(JSThrown) {
            argumentsText = try JSONText.stringify(ctx, arguments)
        } catch {
            exception = JSObjectMakeError(ctx, 1, [JSC.makeString(ctx, error.message)], nil)
            return nil
        }
        let body = JSC.bytes(ctx, bytes)
        nextId += 1
        let id = nextId
        hostWorkInFlight += 1
        let origin = hostCallOrigin
        let worker = self.worker
        let key = self.key
        startedHostCalls.append {
            let result = await HostCall.perform(op: op, argumentsText: argumentsText, body: body, origin: origin)
            // The first result into an empty inbox takes the inbox to the worker; later ones ride along.
            if worker.hostResults.post(key: key, id: id, result: result) { await worker.drainHostResults() }
        }
        // Outside an entry `enter` made (none is expected), nothing would hand the call over later.
        if entryDepth == 0 { handOverHostCalls() }
        // The prelude keeps the promise's resolvers under this id.
        return JSValueMakeNumber(ctx, Double(id))
    }

    func log(_ source: PluginLogEntry.Source, _ type: PluginLogEntry.Level, _ message: String) {
        // A stack the plugin logs (`console.error(e.stack)`) names the author's lines, as recorded errors do.
        let message = source == .console ? pluginContext.mapped(stack: message) : message
        let entry = PluginLogEntry(
            config: descriptor.ref, source: source, type: type, message: message, timestamp: Date(), instanceId: instanceId)
        worker.logWriter.write(entry)
    }
}

/// What a sandbox call returns: its result as JSON text (`nil` for what `JSON.stringify` turns into
/// `undefined`, or when the caller wants no result), parsed by the caller off the worker's thread.
struct SandboxResult: Sendable {
    var value: JSONText?
    var returnedArgument: Bool
}

enum ExportKind: String, Sendable {
    case method, task, job
}

/// Which entry points a loaded plugin has (reference §4.4 capabilities).
public struct PluginCapabilities: Sendable, Equatable {
    /// The names the server looks for in a plugin's exports.
    public static let exportNames = PluginModule.exportNames

    public var methods: [String] = []
    public var scheduledTasks: [String] = []
    public var jobs: [String] = []
    /// `meta.metrics` declared by the plugin (and added for `exportEvents`): name → `sum`, `max` or `min`.
    public var metrics: [String: String] = [:]

    public var json: JSON {
        [
            "methods": .array(methods.map(JSON.string)), "scheduled_tasks": .array(scheduledTasks.map(JSON.string)),
            "jobs": .array(jobs.map(JSON.string)),
        ]
    }
}

/// What a host call resolves its promise with.
enum HostResult: Sendable {
    case value(JSON)
    /// An array or object as JSON text, written off the worker's thread.
    case text(JSONText)
    case undefined
    /// Boxed: the response is several times the size of the other payloads, and every frame on a host
    /// call's way holds a result.
    indirect case response(FetchResponse)
    /// An Error with this message and these own properties.
    case failure(String, properties: JSONObject = [:])
}

extension HostResult {
    /// An array or object value as JSON text, for the worker to parse in one engine call.
    var preparedForJavaScript: HostResult {
        switch self {
        case .value(let json):
            switch json {
            case .array, .object: JSONText(json).map(HostResult.text) ?? self
            case .null, .bool, .number, .string: self
            }
        default: self
        }
    }
}
