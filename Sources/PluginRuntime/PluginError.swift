import PostHogEvents

/// A plugin function failed: thrown, rejected or timed out. Carries what an operator needs to act.
public struct PluginError: Error, Sendable, CustomStringConvertible {
    public var teamId: Int?
    public var pluginConfigId: Int
    /// The entry point (`processEvent`, `runEveryMinute`, `jobs.<name>`, `setupPlugin`, …).
    public var method: String
    /// The JavaScript error's `name` (`Error`, `TypeError`, `TimeoutError`, `RetryError`, …).
    public var name: String
    public var message: String
    public var stack: String?

    public var description: String {
        "PluginError(team: \(teamId.map(String.init) ?? "none"), config: \(pluginConfigId), method: \(method), \(name))"
    }
}

/// What the `processEvent` chain made of an event (reference §9.2).
public enum ChainResult: Sendable, Equatable {
    /// The final event, with `$plugins_succeeded` / `$plugins_failed` set when the original object survived.
    case event(JSON)
    /// A plugin returned a falsy value: no ingestion, no `onEvent`.
    case dropped(byConfigId: Int)
}
