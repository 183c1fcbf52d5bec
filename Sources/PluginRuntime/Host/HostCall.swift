import PostHogEvents

/// Who makes a sandbox's host calls: its config, instance and host, shared by all of its calls, so a
/// call carries one reference instead of a copy of the config (each call's task then fits its frames
/// in the task's own first allocation).
final class HostCallOrigin: Sendable {
    let descriptor: PluginConfigDescriptor
    let instanceId: String
    let host: any PluginHost

    init(descriptor: PluginConfigDescriptor, instanceId: String, host: any PluginHost) {
        self.descriptor = descriptor
        self.instanceId = instanceId
        self.host = host
    }
}

/// A host operation requested by plugin code, decoded from the prelude's `host(op, args, bytes)`.
struct HostCall: Sendable {
    var op: String
    var arguments: [JSON]
    var body: [UInt8]?
    var origin: HostCallOrigin

    var descriptor: PluginConfigDescriptor { origin.descriptor }
    var instanceId: String { origin.instanceId }
    private var host: any PluginHost { origin.host }
    private var config: PluginConfigRef { descriptor.ref }
    private var scope: CacheScope { CacheScope(pluginId: descriptor.pluginId, teamId: descriptor.teamId) }
    private var unknownOperation: HostResult { .failure("Unknown host operation \(op)") }

    /// Parses the arguments' JSON text (written by `JSON.stringify` on the worker) and runs the call;
    /// an array or object result comes back as JSON text for the worker (see `JSONText`).
    static func perform(op: String, argumentsText: JSONText?, body: [UInt8]?, origin: HostCallOrigin) async -> HostResult {
        let arguments: [JSON]
        do throws(JSThrown) {
            arguments = try argumentsText?.parsed().arrayValue ?? []
        } catch {
            return .failure(error.message)
        }
        return await HostCall(op: op, arguments: arguments, body: body, origin: origin).perform().preparedForJavaScript
    }

    func perform() async -> HostResult {
        do {
            return try await run()
        } catch let error as PluginHostError {
            return .failure(error.message, properties: error.properties)
        } catch {
            return .failure("\(error)")
        }
    }

    private func string(_ index: Int) -> String { index < arguments.count ? arguments[index].stringValue ?? "" : "" }
    private func int(_ index: Int) -> Int { index < arguments.count ? Int(arguments[index].numberValue ?? 0) : 0 }

    /// Each family of operations has a function (and an async frame) of its own: the frame of one
    /// switch over all of them held every case's locals, and a call's task allocated it all.
    private func run() async throws -> HostResult {
        if op.hasPrefix("cache.") { return try await runCache() }
        if op.hasPrefix("storage.") { return try await runStorage() }
        if op.hasPrefix("export") { return try await runExport() }
        return try await runOther()
    }

    private func runCache() async throws -> HostResult {
        switch op {
        case "cache.get":
            return .value(try await host.cacheGet(scope, key: string(0)).map(JSON.string) ?? .null)
        case "cache.set":
            let ttl = arguments.count > 2 ? arguments[2].numberValue.map { Int($0) } : nil
            try await host.cacheSet(scope, key: string(0), value: string(1), ttlSeconds: ttl)
            return .undefined
        case "cache.incr":
            return .value(.number(Double(try await host.cacheIncr(scope, key: string(0)))))
        case "cache.expire":
            return .value(.bool(try await host.cacheExpire(scope, key: string(0), ttlSeconds: int(1))))
        default:
            return try await runCacheList()
        }
    }

    private func runCacheList() async throws -> HostResult {
        switch op {
        case "cache.lpush":
            let values = (arguments.count > 1 ? arguments[1].arrayValue ?? [] : []).compactMap(\.stringValue)
            return .value(.number(Double(try await host.cacheLPush(scope, key: string(0), values: values))))
        case "cache.lrange":
            let items = try await host.cacheLRange(scope, key: string(0), start: int(1), stop: int(2))
            return .value(.array(items.map(JSON.string)))
        case "cache.llen":
            return .value(.number(Double(try await host.cacheLLen(scope, key: string(0)))))
        case "cache.lrem":
            return .value(.number(Double(try await host.cacheLRem(scope, key: string(0), count: int(1), value: string(2)))))
        case "cache.lpop":
            return .value(.array(try await host.cacheLPop(scope, key: string(0), count: int(1)).map(JSON.string)))
        default:
            return unknownOperation
        }
    }

    private func runStorage() async throws -> HostResult {
        switch op {
        case "storage.get":
            return .value(try await host.storageGet(config: config, key: string(0)).map(JSON.string) ?? .null)
        case "storage.set":
            try await host.storageSet(config: config, key: string(0), jsonValue: string(1))
            return .undefined
        case "storage.del":
            try await host.storageDel(config: config, key: string(0))
            return .undefined
        case "storage.init":
            try await host.storageInitialize(config: config, key: string(0), jsonValue: string(1))
            return .undefined
        case "storage.increment":
            let by = arguments.count > 1 ? arguments[1].numberValue ?? 1 : 1
            return .value(.number(try await host.storageIncrement(config: config, key: string(0), by: by)))
        default:
            return unknownOperation
        }
    }

    private func runExport() async throws -> HostResult {
        switch op {
        case "exportEvents":
            await host.exportingEvents(arguments.first?.arrayValue ?? [], config: config)
            return .undefined
        case "export.buffer":
            try await host.exportBufferAdd(config: config, instance: instanceId, entry: string(0), eventJSON: string(1))
            return .undefined
        case "export.seal":
            let entries = (arguments.first?.arrayValue ?? []).compactMap(\.stringValue)
            let sealed = try await host.exportSeal(config: config, instance: instanceId, entries: entries, batchKey: string(1))
            return .value(.array(sealed.map(JSON.string)))
        case "export.isDone":
            return .value(.bool(try await host.exportIsDone(config: config, batchKey: string(0))))
        case "export.complete":
            let succeeded = arguments.count > 1 && arguments[1] == .bool(true)
            try await host.exportComplete(config: config, instance: instanceId, batchKey: string(0), succeeded: succeeded)
            return .undefined
        default:
            return unknownOperation
        }
    }

    private func runOther() async throws -> HostResult {
        switch op {
        case "capture":
            let properties = arguments.count > 1 ? arguments[1].objectValue ?? [:] : [:]
            let distinctId = properties["distinct_id"].map { $0.stringValue ?? $0.javaScriptString } ?? descriptor.pluginName
            try await host.capture(
                PluginCapture(
                    event: string(0), properties: properties, distinctId: distinctId, teamId: descriptor.teamId,
                    pluginConfigId: descriptor.id, pluginName: descriptor.pluginName))
            return .undefined
        case "fetch":
            let request = arguments.first?.objectValue ?? [:]
            let headers = (request["headers"]?.arrayValue ?? []).compactMap { pair -> (name: String, value: String)? in
                guard let items = pair.arrayValue, items.count == 2 else { return nil }
                return (items[0].stringValue ?? "", items[1].stringValue ?? "")
            }
            let response = try await host.fetch(
                FetchRequest(
                    url: request["url"]?.stringValue ?? "", method: request["method"]?.stringValue ?? "GET",
                    headers: headers, body: body, redirect: request["redirect"]?.stringValue ?? "follow"))
            return .response(response)
        case "jobs.enqueue":
            let job = arguments.first?.objectValue ?? [:]
            try await host.enqueueJob(
                PluginJob(
                    type: job["type"]?.stringValue ?? "", payload: job["payload"] ?? .null,
                    timestamp: job["timestamp"]?.numberValue ?? 0, pluginConfigId: descriptor.id,
                    pluginConfigTeam: descriptor.teamId))
            return .undefined
        case "events.bounds":
            guard let teamId = descriptor.teamId, let bounds = try await host.eventBounds(teamId: teamId) else {
                return .value(["min": .null, "max": .null])
            }
            return .value(["min": .number(bounds.min), "max": .number(bounds.max)])
        case "events.page":
            guard let teamId = descriptor.teamId else { return .value([]) }
            let number = { (index: Int) in index < self.arguments.count ? self.arguments[index].numberValue ?? 0 : 0 }
            let events = try await host.eventPage(teamId: teamId, from: number(0), to: number(1), offset: int(2), limit: int(3))
            return .value(.array(events))
        case "api.request":
            let options = arguments.first?.objectValue ?? [:]
            let target = try await host.apiTarget(
                config: config, host: options["host"]?.stringValue, projectApiKey: options["projectApiKey"]?.stringValue,
                personalApiKey: options["personalApiKey"]?.stringValue)
            let request = target.request(
                method: options["method"]?.stringValue ?? "GET", path: options["path"]?.stringValue ?? "",
                query: options["query"]?.stringValue ?? "", body: body)
            return .response(try await host.fetch(request))
        case "pg.connect":
            let parameters = arguments.first?.objectValue ?? [:]
            let id = try await host.pgConnect(config: config, pluginConfig: descriptor.config, parameters: parameters)
            return .value(.number(Double(id)))
        case "pg.query":
            let values = arguments.count > 2 ? arguments[2].arrayValue ?? [] : []
            let parameters = values.map { $0 == .null ? nil : $0.stringValue ?? $0.javaScriptString }
            return .value(try await host.pgQuery(connection: int(0), config: config, text: string(1), parameters: parameters))
        case "pg.end":
            await host.pgEnd(connection: int(0), config: config)
            return .undefined
        case "geoip.locate":
            return .value(try await host.geoipLocate(string(0)) ?? .null)
        default:
            return unknownOperation
        }
    }
}
