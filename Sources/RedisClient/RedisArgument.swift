/// One argument of a command, sent as a RESP bulk string. Values are binary-safe: pass bytes as `[UInt8]`.
public struct RedisArgument: Sendable, Hashable {
    enum Storage: Sendable, Hashable {
        case string(String)
        case bytes([UInt8])
        case integer(Int)
        case double(Double)
    }

    let storage: Storage

    public init(_ string: String) { storage = .string(string) }
    public init(_ bytes: [UInt8]) { storage = .bytes(bytes) }
    public init(_ integer: Int) { storage = .integer(integer) }
    /// Sent in Swift's shortest round-trip form (`1.5`, `1e-05`, `inf`), all of which Redis parses.
    public init(_ double: Double) { storage = .double(double) }
}

extension RedisArgument: ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
    public init(stringLiteral value: String) { self.init(value) }
}

extension RedisArgument: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self.init(value) }
}
