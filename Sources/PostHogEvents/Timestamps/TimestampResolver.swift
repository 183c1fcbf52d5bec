/// The event's timestamp from its `timestamp`, `offset`, the server's `now` and the client's
/// `sent_at` (ingestion.md §5.1), rejecting what the original would have stored as invalid (§5.3).
public enum TimestampResolver {
    public static func resolve(
        timestamp: JSON?,
        offset: JSON?,
        now: EventTimestamp,
        sentAt: EventTimestamp?
    ) throws(EventDataError) -> EventTimestamp {
        if let timestamp, timestamp.isTruthy {
            guard case .string(let text) = unwrapTaggedDatetime(timestamp),
                let parsed = EventTimestamp.parseISO8601(text)
            else {
                throw EventDataError(
                    code: .invalidTimestamp, field: "timestamp", reason: "not an ISO 8601 date-time string")
            }
            guard let sentAt else { return parsed }
            // Client clock skew, corrected by the server's receive time.
            let skewed = now.millisecondsSince1970.addingReportingOverflow(
                parsed.millisecondsSince1970 - sentAt.millisecondsSince1970)
            guard !skewed.overflow, EventTimestamp.validRange.contains(skewed.partialValue) else {
                throw EventDataError(
                    code: .invalidTimestamp, field: "timestamp", reason: "corrected for sent_at it is out of range")
            }
            return EventTimestamp(millisecondsSince1970: skewed.partialValue)
        }
        if let offset, offset.isTruthy {
            // luxon's Duration.fromMillis: JavaScript Number() of the value, booleans and NaN refused.
            let milliseconds = offset.javaScriptNumber
            guard offset.boolValue == nil, milliseconds.isFinite else {
                throw EventDataError(code: .invalidOffset, field: "offset", reason: "not a number of milliseconds")
            }
            // A JavaScript Date drops fractional milliseconds toward zero.
            let result = (Double(now.millisecondsSince1970) - milliseconds).rounded(.towardZero)
            guard Double(EventTimestamp.validRange.lowerBound) <= result,
                result <= Double(EventTimestamp.validRange.upperBound)
            else {
                throw EventDataError(
                    code: .invalidTimestamp, field: "offset", reason: "now minus offset is out of range")
            }
            return EventTimestamp(millisecondsSince1970: Int64(result))
        }
        return now
    }

    /// `sent_at` as the resolver wants it: a truthy, parsable ISO string (tagged objects unwrapped),
    /// else `nil`. An unparsable `sent_at` counts as absent (ingestion.md §5.3 recommendation).
    public static func parseSentAt(_ value: JSON?) -> EventTimestamp? {
        guard let value, value.isTruthy, case .string(let text) = unwrapTaggedDatetime(value) else { return nil }
        return EventTimestamp.parseISO8601(text)
    }

    /// Kombu ≥ 5.3 writes Python datetimes as `{"__type__": "datetime", "__value__": "<ISO>"}`
    /// (wire-formats.md §1.4); this gives back the string. Anything else is returned unchanged.
    public static func unwrapTaggedDatetime(_ value: JSON) -> JSON {
        guard case .object(let object) = value, object.count == 2,
            case .string(let type) = object["__type__"], type == "datetime" || type == "date",
            case .string(let text) = object["__value__"]
        else { return value }
        return .string(text)
    }
}
