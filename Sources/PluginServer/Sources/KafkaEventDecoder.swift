import PostHogEvents

/// Why a consumed Kafka message cannot become an event; the text goes to the dead-letter topic.
struct KafkaDecodingError: Error, CustomStringConvertible, Sendable, Equatable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
    var description: String { reason }
}

/// Turns a `RawEventMessage` from KAFKA_CONSUMPTION_TOPIC into the flat event object the pipeline
/// works on (wire-formats.md §3.2): the envelope fields, then every key of the parsed `data` (data
/// wins, except `team_id`, which comes from the envelope as on the Celery path), `site_url`/`ip`
/// null when falsy, and an empty `sent_at` meaning none.
enum KafkaEventDecoder {
    static func event(from value: [UInt8]) throws(KafkaDecodingError) -> JSONObject {
        let message: JSON
        do {
            message = try JSON(parsing: value)
        } catch {
            throw KafkaDecodingError("message value is not valid JSON: \(error)")
        }
        guard case .object(let envelope) = message else { throw KafkaDecodingError("message value is not a JSON object") }
        guard let teamId = envelope["team_id"]?.intValue else { throw KafkaDecodingError("team_id is missing or not an integer") }
        guard let dataText = envelope["data"]?.stringValue else { throw KafkaDecodingError("data is missing or not a string") }
        let data: JSONObject
        do {
            guard case .object(let object) = try JSON(parsing: Array(dataText.utf8)) else {
                throw KafkaDecodingError("data does not hold a JSON object")
            }
            data = object
        } catch let error as KafkaDecodingError {
            throw error
        } catch {
            throw KafkaDecodingError("data is not valid JSON: \(error)")
        }

        var event = JSONObject()
        for (key, value) in envelope where key != "data" { event[key] = value }
        for (key, value) in data where key != "team_id" { event[key] = value }
        event["team_id"] = .number(Double(teamId))
        event["site_url"] = event["site_url"].flatMap { $0.isTruthy ? $0 : nil } ?? .null
        event["ip"] = event["ip"].flatMap { $0.isTruthy ? $0 : nil } ?? .null
        if event["sent_at"] == .string("") { event["sent_at"] = .null }
        if let distinctId = event["distinct_id"], let text = DistinctID.string(from: distinctId) {
            event["distinct_id"] = .string(text)
        }
        return event
    }
}
