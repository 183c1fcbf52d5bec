/// Why an event's own data cannot be turned into what the original would have stored.
/// Such an event can never succeed, so callers dead-letter it with this error as the reason.
/// `description` names the field and the rule broken, never the field's value (it may be user data).
public struct EventDataError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of rule was broken; a struct over a private enum, so adding a code breaks no caller.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case missingEventName
            case invalidTimestamp
            case invalidOffset
            case invalidElement
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The event has no `event` key (the original crashed on it; ingestion.md §4.3).
        public static let missingEventName = Code(.missingEventName)
        /// No valid timestamp could be resolved (ingestion.md §5.3).
        public static let invalidTimestamp = Code(.invalidTimestamp)
        /// `offset` is truthy but not a number (ingestion.md §5.1 rule 2).
        public static let invalidOffset = Code(.invalidOffset)
        /// An `$elements` entry has a field of the wrong type (ingestion.md §11.1).
        public static let invalidElement = Code(.invalidElement)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The event field at fault, e.g. `timestamp` or `properties.$elements[2].$el_text`.
    public var field: String
    /// The rule broken, in words.
    public var reason: String

    public init(code: Code, field: String, reason: String) {
        self.code = code
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(code) in \(field): \(reason)" }
}
