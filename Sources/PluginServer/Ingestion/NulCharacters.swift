import PostHogEvents

/// Postgres refuses U+0000 in text (SQLSTATE 22021) and in jsonb (22P05), and a client or a plugin may
/// still send it. An event refused for it is ingested again with U+FFFD in its place, rather than set
/// aside; events without it never pay for the walk.
enum NulCharacters {
    static func refused(_ error: IngestionError) -> Bool { error.sqlState == "22021" || error.sqlState == "22P05" }

    static func replaced(in object: JSONObject) -> JSONObject {
        var result = JSONObject()
        result.reserveCapacity(object.count)
        for (key, value) in object { result[replaced(in: key)] = replaced(in: value) }
        return result
    }

    static func replaced(in value: JSON) -> JSON {
        switch value {
        case .string(let text): .string(replaced(in: text))
        case .array(let items): .array(items.map(replaced(in:)))
        case .object(let object): .object(replaced(in: object))
        case .null, .bool, .number: value
        }
    }

    static func replaced(in text: String) -> String {
        text.utf8.contains(0) ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
    }
}
