import Crypto
import Foundation
import PostHogEvents

/// Turns a `process_event_with_plugins` Celery task into the flat event object the pipeline works
/// on (wire-formats.md §1.4), with the recommended fixes: `kwargs` never becomes `sent_at`, Kombu's
/// tagged datetimes are unwrapped, and `team_id` always comes from the task arguments.
enum CeleryEventDecoder {
    static func event(from task: CeleryTask, newUUID: () -> String) throws(CeleryDecodingError) -> JSONObject {
        guard task.name == CeleryEnvelope.processEventTask else { throw CeleryDecodingError("unknown task \(task.name)") }
        guard task.args.count == 6 || task.args.count == 7 else {
            throw CeleryDecodingError("wrong arguments: expected 6 or 7 positional arguments, got \(task.args.count)")
        }
        guard case .object(let data) = task.args[3] else {
            throw CeleryDecodingError("wrong arguments: the event data (argument 4) is not an object")
        }
        guard let teamId = task.args[4].intValue else {
            throw CeleryDecodingError("wrong arguments: team_id (argument 5) is not an integer")
        }
        let sentAt = task.args.count == 7 ? task.args[6] : (task.kwargs["sent_at"] ?? .null)

        var event = JSONObject()
        event["distinct_id"] = task.args[0]
        event["ip"] = task.args[1]
        event["site_url"] = task.args[2]
        event["team_id"] = .number(Double(teamId))
        event["now"] = TimestampResolver.unwrapTaggedDatetime(task.args[5])
        event["sent_at"] = TimestampResolver.unwrapTaggedDatetime(sentAt)
        event["uuid"] = .string(newUUID())
        for (key, value) in data where key != "team_id" {
            event[key] = value
        }
        return event
    }

    /// A stable identity for a queue message: the MD5 of its bytes, as a UUID. Redelivered copies
    /// of one message share it; Celery's unique task ids make distinct messages differ.
    static func messageKey(_ raw: [UInt8]) -> UUID {
        let digest = Array(Insecure.MD5.hash(data: raw))
        return UUID(
            uuid: (
                digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7], digest[8],
                digest[9], digest[10], digest[11], digest[12], digest[13], digest[14], digest[15]
            ))
    }
}
