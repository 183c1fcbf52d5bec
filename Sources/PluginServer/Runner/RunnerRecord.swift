import Foundation
import PostHogEvents

/// One thing a local run reports, printed as a readable line or as one JSON object
/// (`{"kind": "event" | "dropped" | "log" | "capture" | "export" | "job" | "error", …}`).
enum RunnerRecord: Sendable, Equatable {
    /// The event after the `processEvent` chain.
    case event(JSON)
    /// The chain dropped input event `index` (0-based).
    case dropped(index: Int, input: JSON)
    case log(type: String, message: String)
    case capture(event: String, distinctId: String, properties: JSONObject)
    /// A batch handed to `exportEvents`.
    case export(batch: [JSON])
    /// A job the plugin enqueued; `runs` with `--run-jobs` (it runs after the current step), else it
    /// is only shown.
    case job(type: String, payload: JSON, runAt: Double, runs: Bool)
    /// A plugin function threw. `method` is what the runner was calling (`setupPlugin`, `processEvent`…),
    /// or `load` when the code failed to load before any of it was called.
    case error(method: String, name: String?, message: String, stack: String?)

    var json: JSON {
        switch self {
        case .event(let event):
            var object: JSONObject = ["kind": "event"]
            for (key, value) in event.objectValue ?? [:] where key != "kind" { object[key] = value }
            return .object(object)
        case .dropped(let index, let input):
            return [
                "kind": "dropped", "index": .number(Double(index)), "event": input["event"] ?? .null,
                "distinct_id": input["distinct_id"] ?? .null,
            ]
        case .log(let type, let message):
            return ["kind": "log", "type": .string(type), "message": .string(message)]
        case .capture(let event, let distinctId, let properties):
            return ["kind": "capture", "event": .string(event), "distinct_id": .string(distinctId), "properties": .object(properties)]
        case .export(let batch):
            return ["kind": "export", "count": .number(Double(batch.count)), "events": .array(batch)]
        case .job(let type, let payload, let runAt, let runs):
            return ["kind": "job", "type": .string(type), "payload": payload, "timestamp": .number(runAt), "runs": .bool(runs)]
        case .error(let method, let name, let message, let stack):
            return [
                "kind": "error", "method": .string(method), "name": name.map(JSON.string) ?? .null, "message": .string(message),
                "stack": stack.map(JSON.string) ?? .null,
            ]
        }
    }

    /// The readable form: `kind: details`, one line, except an error's stack indented below it.
    var text: String {
        switch self {
        case .event(let event):
            return "event: \(event.jsonString)"
        case .dropped(let index, let input):
            return "dropped: event #\(index + 1) (\(input["event"]?.stringValue ?? "?"))"
        case .log(let type, let message):
            return "log: [\(type)] \(message)"
        case .capture(let event, let distinctId, let properties):
            return "capture: \(event) (distinct_id \(distinctId)) \(JSON.object(properties).jsonString)"
        case .export(let batch):
            let names = batch.map { $0["event"]?.stringValue ?? "?" }.joined(separator: ", ")
            return "export: \(batch.count) event\(batch.count == 1 ? "" : "s") (\(names))"
        case .job(let type, let payload, let runAt, let runs):
            guard runs else { return "job: \(type) \(payload.jsonString) (not run: --run-jobs runs it)" }
            let delay = max(0, (runAt - Date().timeIntervalSince1970 * 1000) / 1000)
            let when = delay < 1 ? "now" : "due in \(Int(delay.rounded())) s, run now"
            return "job: \(type) \(payload.jsonString) (enqueued, \(when))"
        case .error(let method, let name, let message, let stack):
            let verb = method == "load" ? "load failed:" : "\(method) threw"
            var text = "error: \(verb) \(name.map { "\($0): " } ?? "")\(message)"
            var lines = (stack ?? "").split(separator: "\n").filter { !$0.isEmpty }
            // The stack starts with the `Name: message` line already printed.
            if let first = lines.first, first == "\(name.map { "\($0): " } ?? "")\(message)" { lines.removeFirst() }
            for line in lines { text += "\n    \(line)" }
            return text
        }
    }
}
