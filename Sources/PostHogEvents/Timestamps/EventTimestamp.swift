import Foundation

/// An instant at millisecond precision, UTC: the only precision the original kept (luxon/JS `Date`).
public struct EventTimestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var millisecondsSince1970: Int64

    /// The range of a JavaScript `Date` (±8.64e15 ms); luxon calls anything outside it invalid.
    static let validRange: ClosedRange<Int64> = -8_640_000_000_000_000...8_640_000_000_000_000

    public init(millisecondsSince1970: Int64) {
        self.millisecondsSince1970 = millisecondsSince1970
    }

    public static func now() -> EventTimestamp {
        EventTimestamp(millisecondsSince1970: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }

    public static func < (lhs: EventTimestamp, rhs: EventTimestamp) -> Bool {
        lhs.millisecondsSince1970 < rhs.millisecondsSince1970
    }

    public var description: String { isoString }
}
