/// Every invalid setting found at start-up, with the variable, the value found and the form expected.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Problem: Sendable, Equatable {
        public var variable: String
        public var value: String
        public var expected: String
    }

    public var problems: [Problem]

    public var description: String {
        let lines = problems.map { "- \($0.variable)=\"\($0.value)\": expected \($0.expected)" }
        return "Invalid configuration:\n" + lines.joined(separator: "\n")
    }
}
