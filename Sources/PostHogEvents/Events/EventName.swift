/// The stored event name (ingestion.md §4.3): non-strings as `JSON.stringify` writes them, cut to
/// 200 UTF-16 code units.
public enum EventName {
    static let maximumUTF16Length = 200

    public static func sanitize(_ raw: JSON?) throws(EventDataError) -> String {
        guard let raw else {
            // The original threw a TypeError on `undefined.substr`; the outcome (event rejected) is kept.
            throw EventDataError(code: .missingEventName, field: "event", reason: "the event has no name")
        }
        let name: String
        if case .string(let text) = raw { name = text } else { name = raw.jsonString }
        return name.truncatedToUTF16(maximumUTF16Length)
    }
}
