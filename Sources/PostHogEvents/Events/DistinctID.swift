/// `distinct_id` as the string the original stored (ingestion.md §4.1): JavaScript `String(value)`.
public enum DistinctID {
    /// `nil` for `null` or absent: the original kept those and failed later on a NOT NULL column.
    public static func string(from value: JSON?) -> String? {
        guard let value, !value.isNull else { return nil }
        return value.javaScriptString
    }
}
