/// The one error of this module. `code` says what kind of failure it was; the context fields say
/// where (endpoint, command name) and, for server replies, what Redis answered.
public struct RedisError: Error, Sendable {
    /// A struct over a private enum, so that adding a code breaks no caller's `switch`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case server
            case connectionFailed
            case connectionClosed
            case timeout
            case protocolViolation
            case poolClosed
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Redis answered with an error reply (`-ERR …`, `-WRONGTYPE …`); `serverMessage` holds it.
        public static let server = Code(.server)
        /// A connection could not be opened, authenticated or switched to the configured database.
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection closed while a reply was outstanding.
        public static let connectionClosed = Code(.connectionClosed)
        /// Connecting or a reply took longer than allowed; the connection was closed.
        public static let timeout = Code(.timeout)
        /// The server sent bytes that are not valid RESP2; the connection was closed.
        public static let protocolViolation = Code(.protocolViolation)
        /// The client was closed.
        public static let poolClosed = Code(.poolClosed)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The error reply of the server, for `.server` (and `.connectionFailed` when AUTH or SELECT was refused).
    public var serverMessage: String?
    /// The command name only: arguments may hold user data or secrets.
    public var command: String?
    /// `host:port` of the server.
    public var endpoint: String?
    /// What went wrong in words, for codes other than `.server`.
    public var detail: String?
    /// The error from below (NIO, the decoder, a refused AUTH), when there was one.
    public var underlying: (any Error)?

    init(
        _ code: Code,
        serverMessage: String? = nil,
        command: String? = nil,
        endpoint: String? = nil,
        detail: String? = nil,
        underlying: (any Error)? = nil
    ) {
        self.code = code
        self.serverMessage = serverMessage
        self.command = command
        self.endpoint = endpoint
        self.detail = detail
        self.underlying = underlying
    }

    /// True when the failure is about the connection rather than the command, so a caller may retry
    /// it (on a new connection) without changing anything. Only server error replies are excluded.
    public var isConnectionProblem: Bool { code != .server }

    /// The first word of a server error reply (`NOSCRIPT`, `WRONGTYPE`, `ERR`), which Redis uses as a kind.
    public var serverErrorPrefix: Substring? {
        serverMessage.map { $0.prefix { $0 != " " } }
    }

    func with(command: String?, endpoint: String?) -> RedisError {
        var copy = self
        if copy.command == nil { copy.command = command }
        if copy.endpoint == nil { copy.endpoint = endpoint }
        return copy
    }
}

extension RedisError: CustomStringConvertible {
    /// Redis error replies are server text (no stored values), so they are shown in full.
    public var description: String {
        var parts = ["RedisError(\(code)"]
        if let command { parts.append("command: \(command)") }
        if let endpoint { parts.append("endpoint: \(endpoint)") }
        if let serverMessage { parts.append("server: \(serverMessage)") }
        if let detail { parts.append("detail: \(detail)") }
        if let underlying { parts.append("underlying: \(underlying)") }
        return parts.joined(separator: ", ") + ")"
    }
}
