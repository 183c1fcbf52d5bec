/// One RESP2 reply from the server. Bulk strings stay bytes because Redis values are binary-safe;
/// `.null` covers both the null bulk string and the null array, which RESP2 does not distinguish in meaning.
public enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    case error(String)
    case integer(Int)
    case bulkString([UInt8])
    case null
    case array([RESPValue])
}

extension RESPValue {
    /// The text of a simple or bulk string (bulk strings decoded as UTF-8, invalid bytes repaired).
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// The bytes of a bulk or simple string.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let bytes): bytes
        case .simpleString(let text): Array(text.utf8)
        default: nil
        }
    }

    /// An integer reply, or a string reply that holds a decimal integer (as GET of a counter does).
    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .simpleString, .bulkString: string.flatMap { Int($0) }
        default: nil
        }
    }

    public var array: [RESPValue]? {
        if case .array(let values) = self { values } else { nil }
    }

    public var isNull: Bool { self == .null }
}
