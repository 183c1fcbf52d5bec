import Foundation
import PostHogEvents

/// A plugin config in force, as the server read it (reference §2): what the runtime needs to build
/// and run its sandbox.
public struct PluginConfigDescriptor: Sendable {
    public var id: Int
    public var teamId: Int?
    public var pluginId: Int
    public var pluginName: String
    /// `posthog_plugin.tag` (git commit or npm version), sent with `$$plugin_metrics`.
    public var pluginTag: String?
    public var organizationId: String?
    public var isGlobal: Bool
    /// Chain position (reference §9.1); ties are broken by config id.
    public var order: Int
    /// `meta.config`, verbatim.
    public var config: JSONObject
    public var attachments: [PluginAttachment]
    public var code: PluginCode
    /// Changes whenever the config or its plugin changed (`updated_at` of both): reload rebuilds then.
    public var updatedMarker: String

    public init(
        id: Int, teamId: Int?, pluginId: Int, pluginName: String, pluginTag: String? = nil, organizationId: String? = nil,
        isGlobal: Bool = false,
        order: Int = 0, config: JSONObject = [:], attachments: [PluginAttachment] = [], code: PluginCode,
        updatedMarker: String = ""
    ) {
        self.id = id
        self.teamId = teamId
        self.pluginId = pluginId
        self.pluginName = pluginName
        self.pluginTag = pluginTag
        self.organizationId = organizationId
        self.isGlobal = isGlobal
        self.order = order
        self.config = config
        self.attachments = attachments
        self.code = code
        self.updatedMarker = updatedMarker
    }

    public var ref: PluginConfigRef { PluginConfigRef(id: id, teamId: teamId, pluginId: pluginId) }

    /// `plugin <name> ID <id> (<extras>)` (reference §4.3).
    public var digest: String {
        var extras: [String] = []
        if let organizationId { extras.append("organization ID \(organizationId)") }
        if isGlobal { extras.append("global") }
        return "plugin \(pluginName) ID \(pluginId) (\(extras.joined(separator: " - ")))"
    }

    /// `"<plugin name> (<config id>)"`, as listed in `$plugins_succeeded` / `$plugins_failed`.
    var chainName: String { "\(pluginName) (\(id))" }
}

/// Where a plugin's code comes from (reference §3).
public enum PluginCode: Sendable, Hashable {
    /// `plugin_type == "source"`: the text itself (JavaScript or TypeScript).
    case source(String)
    /// A zip or gzip-tar archive with one top-level folder.
    case archive([UInt8])
    /// A `file:` plugin: the folder, already joined with `BASE_DIR` by the caller.
    case folder(String)
    /// Nothing usable (a remote plugin never downloaded).
    case none
}

public struct PluginAttachment: Sendable, Hashable {
    public var key: String
    public var contentType: String
    public var fileName: String
    public var contents: [UInt8]

    public init(key: String, contentType: String, fileName: String, contents: [UInt8]) {
        self.key = key
        self.contentType = contentType
        self.fileName = fileName
        self.contents = contents
    }
}

/// Settings the runtime reads (`configuration.md`); parsed by the server, passed in here.
public struct PluginRuntimeSettings: Sendable {
    /// `TASK_TIMEOUT`, seconds: bound of awaited plugin calls. Default 30.
    public var taskTimeout: Double = 30
    /// `PLUGIN_EXECUTION_TIME_LIMIT`, seconds (wall time) of synchronous JavaScript per entry; `nil` =
    /// `defaultExecutionTimeLimit(taskTimeout:)`.
    public var executionTimeLimit: Double?

    /// A second past `TASK_TIMEOUT`, so a looping plugin is stopped by the loop guard, which names the loop.
    public static func defaultExecutionTimeLimit(taskTimeout: Double) -> Double { taskTimeout + 1 }
    /// The instance UUIDT used in SYSTEM log lines.
    public var instanceId: String = "00000000-0000-0000-0000-000000000000"
    /// The esbuild executable used to compile TypeScript / ES modules.
    public var esbuildPath: String = "/usr/bin/esbuild"
    /// `PLUGIN_LOAD_RETRIES`: attempts at loading a config whose code ran but failed (setup threw,
    /// evaluation threw) before giving up until the next reload. Compile errors are not retried.
    public var loadAttempts: Int = 10
    /// First back-off between attempts, doubling each time (the original 1.x: 3 s·2^(n−1)).
    public var loadRetryDelay: Double = 3
    /// `PLUGIN_DISABLE_ON_FAILURE`: set `enabled = false` after the last failed attempt.
    public var disableOnFailure: Bool = false
    /// Resident memory of the process above which a long-running entry into JavaScript is stopped
    /// (see `Watchdog`); `nil` = no such check.
    public var memoryLimitBytes: Int? = PluginRuntimeSettings.defaultMemoryLimitBytes
    /// Gives plugin code the original's test-only `__jestSetTimeout(callback, ms)` (its NODE_ENV=test
    /// global), served by the worker's timers. For benchmarks and tests: the server never sets it, and
    /// plugins have no timers (reference §6.1).
    public var exposesTestTimer = false

    /// 80 % of the process's cgroup memory limit when it has one (a container), else half the
    /// machine's memory: the server stops a plugin's runaway allocation before the system's OOM
    /// killer stops the server.
    public static let defaultMemoryLimitBytes: Int? = {
        let physical = Int(ProcessInfo.processInfo.physicalMemory)
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
            let limit = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), physical <= 0 || limit < physical
        {
            return limit / 5 * 4
        }
        return physical > 0 ? physical / 2 : nil
    }()

    public init(
        taskTimeout: Double = 30, executionTimeLimit: Double? = nil, instanceId: String? = nil, esbuildPath: String? = nil,
        loadAttempts: Int = 10, loadRetryDelay: Double = 3, disableOnFailure: Bool = false,
        memoryLimitBytes: Int? = PluginRuntimeSettings.defaultMemoryLimitBytes
    ) {
        self.memoryLimitBytes = memoryLimitBytes
        self.taskTimeout = taskTimeout
        self.executionTimeLimit = executionTimeLimit
        self.loadAttempts = max(1, loadAttempts)
        self.loadRetryDelay = loadRetryDelay
        self.disableOnFailure = disableOnFailure
        if let instanceId { self.instanceId = instanceId }
        if let esbuildPath { self.esbuildPath = esbuildPath }
    }
}
