/// Rules for `posthog_propertydefinition` rows (ingestion.md §13).
public enum PropertyDefinitions {
    /// `is_numerical`: only a JSON number counts; booleans, numeric strings and `null` do not.
    public static func isNumerical(_ value: JSON) -> Bool {
        if case .number = value { return true }
        return false
    }
}
