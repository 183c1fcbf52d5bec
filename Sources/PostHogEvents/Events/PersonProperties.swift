/// Where `$set`/`$set_once` come from and how they change a person (ingestion.md §6).
public enum PersonProperties {
    static let campaignKeys: Set<String> = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"]
    static let initialKeys: Set<String> = [
        "$browser", "$browser_version", "$device_type", "$current_url", "$os", "$referring_domain", "$referrer",
    ]

    /// §6.1: a truthy top-level `$set`/`$set_once` of the event replaces the one in properties.
    public static func placingSetAndSetOnce(properties: JSONObject, data: JSONObject) -> JSONObject {
        var result = properties
        for key in ["$set", "$set_once"] {
            if let value = data[key], value.isTruthy { result[key] = value }
        }
        return result
    }

    /// §6.2: campaign keys go to `$set`, campaign and initial keys to `$set_once` as `$initial_*`,
    /// but only when at least one campaign key is present (Quirk: no `$initial_browser` without UTM).
    public static func addingCampaignProperties(to properties: JSONObject) -> JSONObject {
        guard properties.keys.contains(where: campaignKeys.contains) else { return properties }
        var set = properties["$set"]?.objectValue ?? JSONObject()
        var setOnce = properties["$set_once"]?.objectValue ?? JSONObject()
        for (key, value) in properties {
            if campaignKeys.contains(key) { set[key] = value }
            if campaignKeys.contains(key) || initialKeys.contains(key) {
                setOnce["$initial_" + removingFirstDollar(key)] = value
            }
        }
        var result = properties
        result["$set"] = .object(set)
        result["$set_once"] = .object(setOnce)
        return result
    }

    /// §6.3: `{...$set_once, ...current, ...$set}`. A non-object `$set`/`$set_once` is ignored
    /// (the original spread strings into index keys; ingestion.md §6.3 recommendation).
    public static func updated(current: JSONObject, set: JSON?, setOnce: JSON?) -> JSONObject {
        var result = setOnce?.objectValue ?? JSONObject()
        result.merge(current)
        if let set = set?.objectValue { result.merge(set) }
        return result
    }

    /// JavaScript `key.replace('$', '')`: only the first `$` goes.
    private static func removingFirstDollar(_ key: String) -> String {
        guard let index = key.firstIndex(of: "$") else { return key }
        var copy = key
        copy.remove(at: index)
        return copy
    }
}
