import CJavaScriptCore

/// One JavaScript context of a worker, shared by the configs of one plugin that run the same code.
/// The prelude's shared builtins and the plugin's module function are made once here; each config
/// (`Sandbox`) then calls them for its own console, fetch, posthog, `meta` and module scope. A context
/// per config cost ~350 KB; a closure per config costs a few KB (the start-up and memory targets).
///
/// Module-level state stays per config, as in the original's VM per config: top-level declarations
/// live in the config's call of the module function, and `global`/`globalThis`/`this` are the config's
/// own object. The one shared place left is the context's real global object, which a sloppy-mode
/// assignment to an undeclared name writes to. So the first config loads alone; when its load wrote
/// to the global object, the plugin gets a context per config (`isShared` false), its global its
/// own as in the original; otherwise the global is sealed and the other configs join. A later write
/// cannot carry one team's data to another: it is dropped (reading the name back throws a
/// ReferenceError, recorded on the config).
final class PluginContext {
    let pluginId: Int
    let code: String
    private let thread: WorkerThread
    private let rawContext: JSGlobalContextRef
    private var configure: JSObjectRef?
    private var module: JSObjectRef?
    /// Configs whose sandboxes live in this context.
    private(set) var members = 0
    /// True while several configs may join; false for a config's own context.
    var isShared: Bool
    /// Set once the first config loaded without writing globals: the global object is sealed.
    private(set) var isSealed = false
    /// Loads waiting for the first config's load to settle whether this context is shared.
    var waiting: [CheckedContinuation<Void, Never>] = []
    private var helpers: JSObjectRef?
    private var baselineGlobalKeys: Double = 0
    /// The compiled code's source map, decoded at the first error that needs it.
    private var decodedSourceMap: SourceMap??

    /// `error` with its stack's frames in the plugin's code pointed at the author's own files and lines.
    func mapped(_ error: JSThrown) -> JSThrown {
        guard let stack = error.stack else { return error }
        var mapped = error
        mapped.stack = self.mapped(stack: stack)
        return mapped
    }

    /// `text` with the stack frames in it (`name@index.ts:line:column` lines) pointed at the author's
    /// own files and lines: a stack the plugin writes to its console, say.
    /// The prelude's frames (the server's wrappers around every call) are left out: they are not the
    /// author's code.
    func mapped(stack text: String) -> String {
        let text = Self.withoutPreludeFrames(text)
        guard text.contains("@" + PluginModule.file + ":") else { return text }
        if decodedSourceMap == nil { decodedSourceMap = .some(SourceMap(inlineIn: code)) }
        guard let sourceMap = decodedSourceMap ?? nil else { return text }
        return sourceMap.rewrite(stack: text, file: PluginModule.file, firstLineOffset: PluginModule.prefix.utf16.count)
    }

    /// Only whole frame lines go, and the frame a label shares a line with when a stack is logged
    /// after it (`console.error('failed:', error.stack)`: JavaScriptCore's stacks have no first line of
    /// their own); the rest of a message stays as the plugin wrote it.
    static func withoutPreludeFrames(_ text: String) -> String {
        guard text.contains("@" + Prelude.url + ":") else { return text }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var kept: [Substring] = []
        kept.reserveCapacity(lines.count)
        for (index, line) in lines.enumerated() {
            if StackFrame.isFrame(line, file: Prelude.url) { continue }
            let nextIsFrame = index + 1 < lines.count && StackFrame.isFrame(lines[index + 1])
            if nextIsFrame, let start = line.lastIndex(where: \.isWhitespace).map(line.index(after:)),
                StackFrame.isFrame(line[start...], file: Prelude.url)
            {
                kept.append(line[..<start])
                continue
            }
            kept.append(line)
        }
        return kept.joined(separator: "\n")
    }

    /// Evaluates the prelude and compiles the plugin's module function. A syntax error in the plugin
    /// throws here.
    init(
        pluginId: Int, code: String, isShared: Bool, group: JSContextGroupRef, pureBridgeClass: JSClassRef, thread: WorkerThread,
        testTimer: Bool = false
    ) throws(JSThrown) {
        thread.assertCurrent()
        self.pluginId = pluginId
        self.code = code
        self.isShared = isShared
        self.thread = thread
        rawContext = JSGlobalContextCreateInGroup(group, nil)
        do {
            try setUp(pureBridgeClass: pureBridgeClass, testTimer: testTimer)
        } catch {
            close()
            throw error
        }
    }

    private func setUp(pureBridgeClass: JSClassRef, testTimer: Bool) throws(JSThrown) {
        let ctx = rawContext
        var exception: JSValueRef?
        let preludeFunction = JSEvaluateScript(ctx, Prelude.script.string, nil, Prelude.script.url, 1, &exception)
        guard exception == nil, let function = JSC.object(ctx, preludeFunction) else {
            throw JSThrown.from(ctx, exception ?? JSValueMakeUndefined(ctx))
        }
        let bridge = JSObjectMake(ctx, pureBridgeClass, nil)
        let shared = JSC.call(ctx, function, [bridge, JSValueMakeBoolean(ctx, testTimer)], exception: &exception)
        if let exception { throw JSThrown.from(ctx, exception) }
        helpers = protectedObject(shared)
        guard let helpers else { throw JSThrown(name: "Error", message: "Prelude failed", stack: nil) }
        configure = protectedObject(JSC.get(ctx, helpers, "configure"))
        let source = JSC.string(PluginModule.source(code))
        let url = JSC.string(PluginModule.file)
        defer {
            JSStringRelease(source)
            JSStringRelease(url)
        }
        let moduleFunction = JSEvaluateScript(ctx, source, nil, url, 1, &exception)
        if let exception { throw JSThrown.from(ctx, exception) }
        module = protectedObject(moduleFunction)
        baselineGlobalKeys = callHelper("globalKeys").map { JSValueToNumber(ctx, $0, nil) } ?? 0
    }

    private func protectedObject(_ value: JSValueRef?) -> JSObjectRef? {
        guard let object = JSC.object(rawContext, value) else { return nil }
        JSValueProtect(rawContext, object)
        return object
    }

    /// The context, checked to be used on the owning thread only.
    var context: JSGlobalContextRef {
        thread.assertCurrent()
        return rawContext
    }

    /// The prelude's per-config factory and the plugin's module function.
    var entryPoints: (configure: JSObjectRef, module: JSObjectRef)? {
        thread.assertCurrent()
        guard let configure, let module else { return nil }
        return (configure, module)
    }

    func join() { members += 1 }

    /// Returns true when the last member left (the owner then closes the context).
    func leave() -> Bool {
        members -= 1
        return members == 0
    }

    /// True when code added properties to the real global object.
    func globalsWereWritten() -> Bool {
        guard let result = callHelper("globalKeys") else { return true }
        return JSValueToNumber(context, result, nil) != baselineGlobalKeys
    }

    /// Makes the global object non-extensible: from now on configs may share the context.
    func seal() {
        if callHelper("seal") != nil { isSealed = true }
    }

    private func callHelper(_ name: String) -> JSValueRef? {
        guard let helpers, let function = JSC.object(context, JSC.get(context, helpers, name)) else { return nil }
        var exception: JSValueRef?
        let result = JSC.call(context, function, [], exception: &exception)
        return exception == nil ? result : nil
    }

    func close() {
        let ctx = context
        for object in [configure, module, helpers] {
            if let object { JSValueUnprotect(ctx, object) }
        }
        helpers = nil
        configure = nil
        module = nil
        JSGlobalContextRelease(ctx)
    }
}

/// The plugin's compiled code wrapped as a function of the config's bindings, evaluated once per
/// context. The code runs in an inner function so its top-level `const fetch = require(...)` and the
/// like may shadow the bindings; it starts on the wrapper's first line, so plugin line numbers stay
/// right, after a statement, so a leading "use strict" is no directive (the original ran scripts
/// sloppy). The result carries `module`, `exports` and the top-level names export discovery reads
/// when the code exports nothing (reference §7).
enum PluginModule {
    static let exportNames = [
        "setupPlugin", "teardownPlugin", "processEvent", "processEventBatch", "onEvent", "onSnapshot", "exportEvents",
        "runEveryMinute", "runEveryHour", "runEveryDay", "jobs", "metrics",
    ]

    /// The name stacks give the plugin's code (the original compiled every plugin as `index.ts`).
    static let file = "index.ts"

    /// What the module function puts before the plugin's code, on its first line.
    static let prefix =
        "(function ($apply) { return function (console, fetch, posthog, require, global, module, exports, __jestSetTimeout) { "
        + "var GLOBAL = global, root = global, globalThis = global, isVM = true; return $apply(function () { void 0; "

    static func source(_ code: String) -> String {
        let locals = exportNames.map { "\($0): typeof \($0) === 'undefined' ? undefined : \($0)" }.joined(separator: ", ")
        return prefix
            + code
            + "\n;return { module: module, exports: exports, locals: { \(locals) } };\n}, global, []); }; })(Reflect.apply)"
    }
}
