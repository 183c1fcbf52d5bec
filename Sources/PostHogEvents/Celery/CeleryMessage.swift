import Foundation

/// A Celery task as read from a Kombu Redis-transport envelope (wire-formats.md §1.3–1.4).
public struct CeleryTask: Sendable, Equatable {
    public var name: String
    public var id: String?
    public var args: [JSON]
    public var kwargs: JSONObject
}

/// Why a queue message can never be processed; becomes the dead-letter reason.
public struct CeleryDecodingError: Error, CustomStringConvertible, Sendable, Equatable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

public enum CeleryEnvelope {
    public static let processEventTask = "posthog.tasks.process_event.process_event_with_plugins"
    /// 1.4.0 UI-triggered jobs (plugin-runtime.md §13.1): args `[team id, config id, job type, op, payload]`.
    public static let pluginJobTask = "posthog.tasks.plugins.plugin_job"

    /// Decodes one list entry. Accepts protocol 2, protocol 1 and the "hybrid" form (task in the
    /// headers, protocol-1 body), which the original crashed on (§1.4 Bug).
    public static func decode(_ bytes: [UInt8]) throws(CeleryDecodingError) -> CeleryTask {
        let envelope: JSONObject
        do {
            guard let object = try JSON(parsing: bytes).objectValue else { throw CeleryDecodingError("envelope is not a JSON object") }
            envelope = object
        } catch let error as CeleryDecodingError {
            throw error
        } catch {
            throw CeleryDecodingError("envelope is not valid JSON: \(error)")
        }
        guard let body = envelope["body"]?.stringValue else { throw CeleryDecodingError("envelope has no string body") }
        let contentType = envelope["content-type"]?.stringValue ?? "(none)"
        guard contentType == "application/json" else { throw CeleryDecodingError("unsupported content type \(contentType)") }
        let contentEncoding = envelope["content-encoding"]?.stringValue ?? "(none)"
        guard contentEncoding == "utf-8" else { throw CeleryDecodingError("unsupported content encoding \(contentEncoding)") }
        guard let properties = envelope["properties"]?.objectValue else { throw CeleryDecodingError("envelope has no properties object") }
        let bodyEncoding = properties["body_encoding"]?.stringValue ?? "(none)"
        guard bodyEncoding == "base64" else { throw CeleryDecodingError("unsupported body encoding \(bodyEncoding)") }
        guard let headers = envelope["headers"]?.objectValue else { throw CeleryDecodingError("envelope has no headers object") }
        if let compression = headers["compression"], compression.isTruthy {
            throw CeleryDecodingError("compressed bodies are not supported (compression \(compression.javaScriptString))")
        }
        guard let decoded = Data(base64Encoded: body) else { throw CeleryDecodingError("body is not valid base64") }
        guard String(validating: decoded, as: UTF8.self) != nil else {
            throw CeleryDecodingError("body is not UTF-8")
        }
        let taskBody: JSON
        do {
            taskBody = try JSON(parsing: [UInt8](decoded))
        } catch {
            throw CeleryDecodingError("body is not valid JSON: \(error)")
        }

        let headerTask = headers["task"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        if let headerTask, case .array(let parts) = taskBody {
            // Protocol 2: [args, kwargs, embed].
            guard parts.count >= 2, let args = parts[0].arrayValue else {
                throw CeleryDecodingError("protocol 2 body is not [args, kwargs, embed]")
            }
            let kwargs: JSONObject
            switch parts[1] {
            case .object(let object): kwargs = object
            case .null: kwargs = JSONObject()
            default: throw CeleryDecodingError("protocol 2 kwargs is not an object")
            }
            return CeleryTask(name: headerTask, id: headers["id"]?.stringValue, args: args, kwargs: kwargs)
        }
        guard case .object(let message) = taskBody else {
            throw CeleryDecodingError(headerTask == nil ? "protocol 1 body is not an object" : "protocol 2 body is not an array")
        }
        // Protocol 1 (or the hybrid form): the task and its arguments are in the body.
        guard let name = headerTask ?? message["task"]?.stringValue else { throw CeleryDecodingError("message names no task") }
        let args: [JSON]
        switch message["args"] {
        case .array(let items): args = items
        case nil, .null: args = []
        default: throw CeleryDecodingError("task args is not an array")
        }
        let kwargs: JSONObject
        switch message["kwargs"] {
        case .object(let object): kwargs = object
        case nil, .null: kwargs = JSONObject()
        default: throw CeleryDecodingError("task kwargs is not an object")
        }
        return CeleryTask(name: name, id: message["id"]?.stringValue ?? headers["id"]?.stringValue, args: args, kwargs: kwargs)
    }

    /// Encodes a task the way the original published it (§2.2), adding the snake_case
    /// `correlation_id` / `reply_to` the recommendation of §2.3 asks for so Celery sees them too.
    public static func encode(task name: String, args: [JSON], kwargs: JSONObject = JSONObject(), queue: String) -> [UInt8] {
        let id = UUID().uuidString.lowercased()
        let body = JSON.array([.array(args), .object(kwargs), .object(JSONObject())]).jsonBytes
        var headers = JSONObject()
        headers["lang"] = "js"
        headers["task"] = .string(name)
        headers["id"] = .string(id)
        var deliveryInfo = JSONObject()
        deliveryInfo["exchange"] = ""
        deliveryInfo["routing_key"] = .string(queue)
        var properties = JSONObject()
        properties["body_encoding"] = "base64"
        properties["delivery_info"] = .object(deliveryInfo)
        properties["delivery_mode"] = 2
        properties["delivery_tag"] = .string(UUID().uuidString.lowercased())
        properties["correlationId"] = .string(id)
        properties["replyTo"] = ""
        properties["correlation_id"] = .string(id)
        properties["reply_to"] = ""
        var envelope = JSONObject()
        envelope["body"] = .string(Data(body).base64EncodedString())
        envelope["content-type"] = "application/json"
        envelope["content-encoding"] = "utf-8"
        envelope["headers"] = .object(headers)
        envelope["properties"] = .object(properties)
        return JSON.object(envelope).jsonBytes
    }
}
