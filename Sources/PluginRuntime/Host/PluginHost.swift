import Foundation
import PostHogEvents

/// Everything plugin code can reach outside its sandbox. The runtime never talks to Redis, Postgres or
/// the network itself: the server implements this over its stores, tests use `InMemoryPluginHost`.
///
/// Serialization is the runtime's job: cache values arrive already JSON-serialized (or raw when the
/// plugin passed `jsonSerialize: false`), storage values are JSON text. The host stores strings.
public protocol PluginHost: Sendable {
    /// Writes a log entry; failures must be swallowed by the host (reference §6.2).
    func log(_ entry: PluginLogEntry) async
    /// Records the error on the config (`posthog_pluginconfig.error`, last wins), reference §4.1.
    func recordError(_ record: PluginErrorRecord, config: PluginConfigRef) async
    /// Clears the recorded error after a successful load.
    func clearError(config: PluginConfigRef) async

    func cacheGet(_ scope: CacheScope, key: String) async throws -> String?
    func cacheSet(_ scope: CacheScope, key: String, value: String, ttlSeconds: Int?) async throws
    func cacheIncr(_ scope: CacheScope, key: String) async throws -> Int
    func cacheExpire(_ scope: CacheScope, key: String, ttlSeconds: Int) async throws -> Bool
    func cacheLPush(_ scope: CacheScope, key: String, values: [String]) async throws -> Int
    func cacheLRange(_ scope: CacheScope, key: String, start: Int, stop: Int) async throws -> [String]
    func cacheLLen(_ scope: CacheScope, key: String) async throws -> Int
    func cacheLRem(_ scope: CacheScope, key: String, count: Int, value: String) async throws -> Int
    func cacheLPop(_ scope: CacheScope, key: String, count: Int) async throws -> [String]

    /// JSON text of the stored value, `nil` when there is no row (reference §8.4).
    func storageGet(config: PluginConfigRef, key: String) async throws -> String?
    func storageSet(config: PluginConfigRef, key: String, jsonValue: String) async throws
    func storageDel(config: PluginConfigRef, key: String) async throws
    /// `meta.utils.cursor.init`: stores the value only when the key is absent.
    func storageInitialize(config: PluginConfigRef, key: String, jsonValue: String) async throws
    /// `meta.utils.cursor.increment`: adds atomically (inserting `by` when absent), returns the new value.
    func storageIncrement(config: PluginConfigRef, key: String, by: Double) async throws -> Double

    /// `posthog.capture` (reference §8.7): the host ingests it like any other event.
    func capture(_ capture: PluginCapture) async throws
    /// `fetch` / `node-fetch`; the host applies redirects, gzip decoding and its own timeout.
    func fetch(_ request: FetchRequest) async throws -> FetchResponse
    /// `meta.jobs.<name>(payload).run*` (reference §8.6); throw `No JobQueue available` without a queue.
    func enqueueJob(_ job: PluginJob) async throws
    /// `meta.geoip.locate`: a GeoIP2 City record with the MaxMind Node field names, or `nil`.
    func geoipLocate(_ ip: String) async throws -> JSON?
    /// Called after every call into plugin code, on the worker's thread: keep it cheap and non-blocking.
    func recordInvocation(_ invocation: PluginInvocation)
    /// `PLUGIN_DISABLE_ON_FAILURE`: marks the config disabled (`enabled = false`) after its last failed load.
    func disable(config: PluginConfigRef) async
    /// After a successful load: what the plugin exports, for PostHog's UI (reference §4.4).
    func recordCapabilities(_ capabilities: PluginCapabilities, config: PluginConfigRef) async
    /// Called with each batch right before the plugin's `exportEvents` runs (reference §13): lets a local
    /// runner show export calls. The server does nothing here.
    func exportingEvents(_ batch: [JSON], config: PluginConfigRef) async

    // MARK: exportEvents crash safety (an addition to reference §13.2)

    /// Persists one buffered event under `entry` for the instance's buffer of the config.
    func exportBufferAdd(config: PluginConfigRef, instance: String, entry: String, eventJSON: String) async throws
    /// Moves the entries still persisted into a pending batch `batchKey`; returns the entries moved.
    func exportSeal(config: PluginConfigRef, instance: String, entries: [String], batchKey: String) async throws -> [String]
    /// Whether the batch was exported successfully before.
    func exportIsDone(config: PluginConfigRef, batchKey: String) async throws -> Bool
    /// The batch left the buffer: exported (`succeeded`, recorded as done), handed to a retry job, or dropped.
    func exportComplete(config: PluginConfigRef, instance: String, batchKey: String, succeeded: Bool) async throws
    /// Takes over the buffered and pending events of instances no longer alive, as batches to export now.
    func exportRecover(config: PluginConfigRef, instance: String) async throws -> [(batchKey: String, events: [JSON])]
    /// Marks the instance alive; called every second while it has exporters.
    func exportHeartbeat(instance: String) async

    // MARK: 1.x API

    /// The declared `meta.metrics` of a plugin (`posthog_plugin.metrics`, reference §13.3).
    func recordMetricTypes(_ types: [String: String], config: PluginConfigRef) async
    /// Host and keys of a `posthog.api` call: the given ones, or the team's (reference §13.3).
    func apiTarget(config: PluginConfigRef, host: String?, projectApiKey: String?, personalApiKey: String?) async throws -> PostHogAPITarget
    /// `pg`: opens a connection where the plugin's config says; returns its id.
    func pgConnect(config: PluginConfigRef, pluginConfig: JSONObject, parameters: JSONObject) async throws -> Int
    /// Runs a query; `{rows, rowCount, command, fields}` as node-postgres returns.
    func pgQuery(connection: Int, config: PluginConfigRef, text: String, parameters: [String?]) async throws -> JSON
    func pgEnd(connection: Int, config: PluginConfigRef) async
    /// Epoch milliseconds of the team's first and last stored event (historical export, reference §13.2).
    func eventBounds(teamId: Int) async throws -> (min: Double, max: Double)?
    /// Stored events of the team with `from <= timestamp < to`, by timestamp, paged.
    func eventPage(teamId: Int, from: Double, to: Double, offset: Int, limit: Int) async throws -> [JSON]
}

/// Where `posthog.api` sends a request.
public struct PostHogAPITarget: Sendable, Equatable {
    public var host: String
    public var projectApiKey: String
    public var personalApiKey: String

    public init(host: String, projectApiKey: String, personalApiKey: String) {
        self.host = host
        self.projectApiKey = projectApiKey
        self.personalApiKey = personalApiKey
    }

    public static let defaultHost = "https://app.posthog.com"

    /// `<host>/<path>?[<query>&]token=<project key>` (`&` instead of `?` when the path has a query
    /// already), with the personal key as a bearer token, as the original built it (reference §13.3);
    /// built here so the keys never enter plugin code: a plugin could watch what crosses the builtins
    /// of its own context. `query` is the call's `data`, form-encoded by `URLSearchParams`.
    func request(method: String, path: String, query: String, body: [UInt8]?) -> FetchRequest {
        var base = Substring(host)
        while base.hasSuffix("/") { base = base.dropLast() }
        let path = path.hasPrefix("/") ? path.dropFirst() : Substring(path)
        let token = "token=" + Self.formEncoded(projectApiKey)
        let parameters = query.isEmpty ? token : query + "&" + token
        var headers: [(name: String, value: String)] = [("authorization", "Bearer " + personalApiKey)]
        if body != nil { headers.append(("content-type", "application/json")) }
        return FetchRequest(
            url: "\(base)/\(path)\(path.contains("?") ? "&" : "?")\(parameters)", method: method, headers: headers, body: body,
            redirect: "follow")
    }

    private static let hexDigits = Array("0123456789ABCDEF".unicodeScalars)

    /// `text` as `URLSearchParams` writes a value: application/x-www-form-urlencoded, a space as `+`.
    static func formEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "*"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                encoded += "+"
            default:
                encoded.unicodeScalars.append(contentsOf: ["%", hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]])
            }
        }
        return encoded
    }

    /// Scheme, host and port of a URL, lowercased, the port made explicit; `nil` when it has none.
    public static func origin(_ url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            let host = components.host?.lowercased(), !host.isEmpty
        else { return nil }
        let port = components.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : -1)
        return "\(scheme)://\(host):\(port)"
    }
}

extension PluginHost {
    public func recordInvocation(_ invocation: PluginInvocation) {}

    /// Not atomic: hosts shared between processes must override it.
    public func storageInitialize(config: PluginConfigRef, key: String, jsonValue: String) async throws {
        if try await storageGet(config: config, key: key) == nil { try await storageSet(config: config, key: key, jsonValue: jsonValue) }
    }

    /// Not atomic: hosts shared between processes must override it.
    public func storageIncrement(config: PluginConfigRef, key: String, by: Double) async throws -> Double {
        let current = try await storageGet(config: config, key: key).flatMap { Double($0) } ?? 0
        let next = current + by
        try await storageSet(config: config, key: key, jsonValue: JSNumberFormatter.string(next))
        return next
    }
    public func disable(config: PluginConfigRef) async {}
    public func recordCapabilities(_ capabilities: PluginCapabilities, config: PluginConfigRef) async {}
    public func exportingEvents(_ batch: [JSON], config: PluginConfigRef) async {}

    // Hosts without persistence (the local runner) keep the buffer in memory only.
    public func exportBufferAdd(config: PluginConfigRef, instance: String, entry: String, eventJSON: String) async throws {}
    public func exportSeal(config: PluginConfigRef, instance: String, entries: [String], batchKey: String) async throws -> [String] {
        entries
    }
    public func exportIsDone(config: PluginConfigRef, batchKey: String) async throws -> Bool { false }
    public func exportComplete(config: PluginConfigRef, instance: String, batchKey: String, succeeded: Bool) async throws {}
    public func exportRecover(config: PluginConfigRef, instance: String) async throws -> [(batchKey: String, events: [JSON])] { [] }
    public func exportHeartbeat(instance: String) async {}

    public func recordMetricTypes(_ types: [String: String], config: PluginConfigRef) async {}
    public func apiTarget(config: PluginConfigRef, host: String?, projectApiKey: String?, personalApiKey: String?) async throws
        -> PostHogAPITarget
    {
        guard let projectApiKey, let personalApiKey else {
            throw PluginHostError("posthog.api without keys needs the PostHog database: pass projectApiKey and personalApiKey")
        }
        return PostHogAPITarget(host: host ?? PostHogAPITarget.defaultHost, projectApiKey: projectApiKey, personalApiKey: personalApiKey)
    }
    public func pgConnect(config: PluginConfigRef, pluginConfig: JSONObject, parameters: JSONObject) async throws -> Int {
        throw PluginHostError("pg is not available in this host")
    }
    public func pgQuery(connection: Int, config: PluginConfigRef, text: String, parameters: [String?]) async throws -> JSON {
        throw PluginHostError("pg is not available in this host")
    }
    public func pgEnd(connection: Int, config: PluginConfigRef) async {}
    public func eventBounds(teamId: Int) async throws -> (min: Double, max: Double)? { nil }
    public func eventPage(teamId: Int, from: Double, to: Double, offset: Int, limit: Int) async throws -> [JSON] { [] }
}

/// One call into plugin code, for the per plugin config metrics (invocations, errors, duration).
public struct PluginInvocation: Sendable {
    /// `setupPlugin`, `teardownPlugin`, `processEvent`, `onEvent`, `onSnapshot`, `runEveryMinute`…,
    /// or `jobs.<name>`.
    public var method: String
    public var config: PluginConfigRef
    public var seconds: Double
    public var failed: Bool

    public init(method: String, config: PluginConfigRef, seconds: Double, failed: Bool) {
        self.method = method
        self.config = config
        self.seconds = seconds
        self.failed = failed
    }
}

/// Identifies a config to the host: what it needs to key rows and log entries.
public struct PluginConfigRef: Sendable, Hashable {
    public var id: Int
    public var teamId: Int?
    public var pluginId: Int

    public init(id: Int, teamId: Int?, pluginId: Int) {
        self.id = id
        self.teamId = teamId
        self.pluginId = pluginId
    }
}

/// Cache keys are scoped by plugin and team, not by config (reference §8.3): `@plugin/<plugin>/<team>/<key>`.
public struct CacheScope: Sendable, Hashable {
    public var pluginId: Int
    public var teamId: Int?

    public func redisKey(_ key: String) -> String { "@plugin/\(pluginId)/\(teamId.map(String.init) ?? "null")/\(key)" }
}

public struct PluginLogEntry: Sendable, Equatable {
    public enum Source: String, Sendable { case system = "SYSTEM", plugin = "PLUGIN", console = "CONSOLE" }
    public enum Level: String, Sendable { case debug = "DEBUG", log = "LOG", info = "INFO", warn = "WARN", error = "ERROR" }

    public var config: PluginConfigRef
    public var source: Source
    public var type: Level
    public var message: String
    public var timestamp: Date
    public var instanceId: String
}

/// The `posthog_pluginconfig.error` value (reference §4.1).
public struct PluginErrorRecord: Sendable, Equatable {
    public var message: String
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    public var time: String
    /// `nil` for string errors (load failures of reference §3) and thrown values that are not Error
    /// objects: then neither `name` nor `stack` is stored.
    public var name: String?
    public var stack: String?
    public var event: JSON?

    public var json: JSON {
        var object: JSONObject = ["message": .string(message), "time": .string(time)]
        if let name {
            object["name"] = .string(name)
            object["stack"] = stack.map(JSON.string) ?? .null
        }
        if let event { object["event"] = event }
        return .object(object)
    }
}

public struct PluginCapture: Sendable, Equatable {
    public var event: String
    public var properties: JSONObject
    /// `properties.distinct_id` when given, else the plugin name (reference §8.7).
    public var distinctId: String
    public var teamId: Int?
    public var pluginConfigId: Int
    public var pluginName: String
}

public struct FetchRequest: Sendable, Equatable {
    public var url: String
    public var method: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// `follow`, `manual` or `error` as in node-fetch.
    public var redirect: String

    public static func == (lhs: FetchRequest, rhs: FetchRequest) -> Bool {
        lhs.url == rhs.url && lhs.method == rhs.method && lhs.body == rhs.body && lhs.redirect == rhs.redirect
            && lhs.headers.map { [$0.name, $0.value] } == rhs.headers.map { [$0.name, $0.value] }
    }
}

public struct FetchResponse: Sendable {
    public var status: Int
    public var statusText: String
    public var headers: [(name: String, value: String)]
    public var url: String
    public var body: [UInt8]
    /// The response came after following one or more redirects (node-fetch's `res.redirected`).
    public var redirected: Bool

    public init(
        status: Int, statusText: String = "", headers: [(name: String, value: String)] = [], url: String = "", body: [UInt8] = [],
        redirected: Bool = false
    ) {
        self.status = status
        self.statusText = statusText
        self.headers = headers
        self.url = url
        self.body = body
        self.redirected = redirected
    }
}

/// A job as the queues store it (reference §8.6, §10.2).
public struct PluginJob: Sendable, Equatable {
    public var type: String
    public var payload: JSON
    /// Epoch milliseconds at which the job should run.
    public var timestamp: Double
    public var pluginConfigId: Int
    public var pluginConfigTeam: Int?

    public init(type: String, payload: JSON, timestamp: Double, pluginConfigId: Int, pluginConfigTeam: Int?) {
        self.type = type
        self.payload = payload
        self.timestamp = timestamp
        self.pluginConfigId = pluginConfigId
        self.pluginConfigTeam = pluginConfigTeam
    }

    public var json: JSON {
        [
            "type": .string(type), "payload": payload, "timestamp": .number(timestamp),
            "pluginConfigId": .number(Double(pluginConfigId)),
            "pluginConfigTeam": pluginConfigTeam.map { .number(Double($0)) } ?? .null,
        ]
    }
}

/// An error a host operation reports to the plugin; `message` becomes the rejection's message.
public struct PluginHostError: Error, Sendable, Equatable {
    public var message: String
    /// Own properties of the Error the plugin gets besides `message`: node-postgres' errors carry
    /// `code`, `severity`, `detail`… that plugins branch on.
    public var properties: JSONObject
    public init(_ message: String, properties: JSONObject = [:]) {
        self.message = message
        self.properties = properties
    }
}
