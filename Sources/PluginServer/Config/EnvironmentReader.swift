/// Reads raw environment text with the original's parsing rules (configuration.md §2), collecting
/// every problem instead of stopping at the first, so one start-up error lists them all.
struct EnvironmentReader {
    let environment: [String: String]
    let testDefaults: Bool
    private(set) var problems: [ConfigError.Problem] = []

    init(environment: [String: String]) {
        self.environment = environment
        self.testDefaults = environment["NODE_ENV"] == "test"
    }

    /// The variable's text, or the default (also when set to nothing but the setting is numeric).
    func text(_ name: String) -> String? {
        if let value = environment[name] { return value }
        return defaultText(name)
    }

    func defaultText(_ name: String) -> String? {
        if testDefaults {
            switch name {
            case "DATABASE_URL": return "postgres://localhost:5432/test_posthog"
            case "CLICKHOUSE_DATABASE": return "posthog_test"
            case "KAFKA_PRODUCER_MAX_QUEUE_SIZE": return "0"
            case "DISABLE_MMDB": return "true"
            default: break
            }
        }
        return SettingsCatalog.description(of: name)?.defaultValue
    }

    func string(_ name: String) -> String { text(name) ?? "" }

    /// `nil` when unset or empty, as the original's `null` defaults behave.
    func optionalString(_ name: String) -> String? {
        guard let value = text(name), !value.isEmpty else { return nil }
        return value
    }

    /// The original's boolean rule: y, yes, t, true, on, 1 (any case) are true; anything else false.
    func bool(_ name: String) -> Bool {
        guard let value = text(name) else { return false }
        return ["y", "yes", "t", "true", "on", "1"].contains(value.lowercased())
    }

    /// A number with JavaScript `parseFloat` syntax; NaN, negatives and (for integers) fractions are
    /// rejected, as configuration.md §2 recommends.
    mutating func number(_ name: String, integer: Bool = true, minimum: Double = 0, maximum: Double? = nil) -> Double {
        let fallback = defaultText(name).flatMap(Self.parseFloat) ?? 0
        guard let raw = environment[name] else { return fallback }
        let expected =
            (integer ? "a whole number" : "a number") + " ≥ \(JSNumber(minimum))"
            + (maximum.map { " and ≤ \(JSNumber($0))" } ?? "")
        guard let value = Self.parseFloat(raw), value >= minimum, value <= (maximum ?? .infinity),
            !integer || value.rounded() == value
        else {
            problems.append(.init(variable: name, value: raw, expected: expected))
            return fallback
        }
        return value
    }

    mutating func integer(_ name: String, minimum: Int = 0, maximum: Int? = nil) -> Int {
        Int(number(name, integer: true, minimum: Double(minimum), maximum: maximum.map(Double.init)))
    }

    mutating func report(_ name: String, expected: String) {
        problems.append(.init(variable: name, value: environment[name] ?? "", expected: expected))
    }

    /// JavaScript `parseFloat`: leading whitespace skipped, the longest numeric prefix taken
    /// (`30s` → 30, `1e3` → 1000, `0x10` → 0); `nil` where JavaScript gives NaN.
    static func parseFloat(_ text: String) -> Double? {
        let scalars = Array(text.unicodeScalars.drop { $0.properties.isWhitespace })
        // Quirk kept (configuration.md §2): text starting with "." went through parseInt, giving NaN.
        if scalars.first == "." { return nil }
        var end = 0
        var best: Double?
        var candidate = ""
        while end < scalars.count {
            candidate.unicodeScalars.append(scalars[end])
            end += 1
            if let value = Double(candidate), !candidate.contains("x"), !candidate.contains("X"),
                !candidate.lowercased().contains("n"), !candidate.contains("p"), !candidate.contains("P")
            {
                best = value
            } else if !Self.couldContinue(candidate) {
                break
            }
        }
        if best == nil, text.hasPrefix("Infinity") { return .infinity }
        return best
    }

    private static func couldContinue(_ prefix: String) -> Bool {
        // A prefix such as "-", "1e", "1e-", "." can still become a number.
        prefix.unicodeScalars.allSatisfy { "0123456789+-.eE".unicodeScalars.contains($0) }
    }
}

/// Formats bounds in messages without a trailing ".0".
private struct JSNumber: CustomStringConvertible {
    let value: Double
    init(_ value: Double) { self.value = value }
    var description: String { value.rounded() == value ? String(Int(value)) : String(value) }
}
