/// The end of a list that LMOVE and BLMOVE take from or put to.
public enum RedisListSide: String, Sendable {
    case left = "LEFT"
    case right = "RIGHT"
}

extension RedisClient {
    public func ping() async throws -> String {
        try await send("PING").string ?? ""
    }

    public func get(_ key: String) async throws -> [UInt8]? {
        try await send("GET", [RedisArgument(key)]).bytes
    }

    public func getString(_ key: String) async throws -> String? {
        try await send("GET", [RedisArgument(key)]).string
    }

    /// SET with optional expiry (EX or PX) and NX. Returns false when NX kept an existing value.
    @discardableResult
    public func set(
        _ key: String,
        _ value: [UInt8],
        expireSeconds: Int? = nil,
        expireMilliseconds: Int? = nil,
        onlyIfAbsent: Bool = false
    ) async throws -> Bool {
        try await set(key, RedisArgument(value), expireSeconds, expireMilliseconds, onlyIfAbsent)
    }

    @discardableResult
    public func set(
        _ key: String,
        _ value: String,
        expireSeconds: Int? = nil,
        expireMilliseconds: Int? = nil,
        onlyIfAbsent: Bool = false
    ) async throws -> Bool {
        try await set(key, RedisArgument(value), expireSeconds, expireMilliseconds, onlyIfAbsent)
    }

    private func set(
        _ key: String,
        _ value: RedisArgument,
        _ expireSeconds: Int?,
        _ expireMilliseconds: Int?,
        _ onlyIfAbsent: Bool
    ) async throws -> Bool {
        var arguments = [RedisArgument(key), value]
        if let expireSeconds { arguments += ["EX", RedisArgument(expireSeconds)] }
        if let expireMilliseconds { arguments += ["PX", RedisArgument(expireMilliseconds)] }
        if onlyIfAbsent { arguments.append("NX") }
        return try await send("SET", arguments) != .null
    }

    /// INCR, or INCRBY when `amount` is not 1. Returns the new value.
    @discardableResult
    public func incr(_ key: String, by amount: Int = 1) async throws -> Int {
        let reply =
            amount == 1
            ? try await send("INCR", [RedisArgument(key)])
            : try await send("INCRBY", [RedisArgument(key), RedisArgument(amount)])
        return try integer(reply, "INCR")
    }

    /// Returns false when the key does not exist.
    @discardableResult
    public func expire(_ key: String, seconds: Int) async throws -> Bool {
        try integer(await send("EXPIRE", [RedisArgument(key), RedisArgument(seconds)]), "EXPIRE") == 1
    }

    /// Returns how many keys were removed.
    @discardableResult
    public func del(_ keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try integer(await send("DEL", keys.map { RedisArgument($0) }), "DEL")
    }

    @discardableResult
    public func del(_ key: String) async throws -> Int {
        try await del([key])
    }

    public func exists(_ key: String) async throws -> Bool {
        try integer(await send("EXISTS", [RedisArgument(key)]), "EXISTS") > 0
    }

    // MARK: Lists

    /// Returns the length of the list afterwards.
    @discardableResult
    public func lpush(_ key: String, _ values: [[UInt8]]) async throws -> Int {
        try await push("LPUSH", key, values.map { RedisArgument($0) })
    }

    @discardableResult
    public func lpush(_ key: String, _ values: [String]) async throws -> Int {
        try await push("LPUSH", key, values.map { RedisArgument($0) })
    }

    @discardableResult
    public func rpush(_ key: String, _ values: [[UInt8]]) async throws -> Int {
        try await push("RPUSH", key, values.map { RedisArgument($0) })
    }

    @discardableResult
    public func rpush(_ key: String, _ values: [String]) async throws -> Int {
        try await push("RPUSH", key, values.map { RedisArgument($0) })
    }

    private func push(_ command: String, _ key: String, _ values: [RedisArgument]) async throws -> Int {
        try integer(await send(command, [RedisArgument(key)] + values), command)
    }

    public func llen(_ key: String) async throws -> Int {
        try integer(await send("LLEN", [RedisArgument(key)]), "LLEN")
    }

    public func lrange(_ key: String, _ start: Int, _ stop: Int) async throws -> [[UInt8]] {
        try byteArrays(await send("LRANGE", [RedisArgument(key), RedisArgument(start), RedisArgument(stop)]), "LRANGE")
    }

    /// Removes up to `count` occurrences (all for 0; from the tail for negative). Returns how many.
    @discardableResult
    public func lrem(_ key: String, _ count: Int, _ value: [UInt8]) async throws -> Int {
        try integer(await send("LREM", [RedisArgument(key), RedisArgument(count), RedisArgument(value)]), "LREM")
    }

    @discardableResult
    public func lrem(_ key: String, _ count: Int, _ value: String) async throws -> Int {
        try await lrem(key, count, Array(value.utf8))
    }

    /// Pops up to `count` values from the head; empty when the list is empty or missing.
    public func lpop(_ key: String, count: Int) async throws -> [[UInt8]] {
        let reply = try await send("LPOP", [RedisArgument(key), RedisArgument(count)])
        return reply == .null ? [] : try byteArrays(reply, "LPOP")
    }

    /// Moves one value between lists atomically; nil when the source is empty.
    public func lmove(
        _ source: String,
        _ destination: String,
        from: RedisListSide = .right,
        to: RedisListSide = .left
    ) async throws -> [UInt8]? {
        try await send(
            "LMOVE",
            [
                RedisArgument(source), RedisArgument(destination), RedisArgument(from.rawValue),
                RedisArgument(to.rawValue),
            ]
        ).bytes
    }

    /// Like `lmove`, but waits up to `timeout` seconds (0: forever) for a value; nil on timeout.
    /// Holds a pooled connection while it waits, and the reply timeout is extended by the block time.
    public func blmove(
        _ source: String,
        _ destination: String,
        from: RedisListSide = .right,
        to: RedisListSide = .left,
        timeout: Double
    ) async throws -> [UInt8]? {
        let arguments: [RedisArgument] = [
            RedisArgument(source), RedisArgument(destination), RedisArgument(from.rawValue),
            RedisArgument(to.rawValue), RedisArgument(timeout),
        ]
        let block: Duration? = timeout > 0 ? .milliseconds(Int((timeout * 1000).rounded(.up))) : nil
        return try await withConnection { connection in
            try await connection.send("BLMOVE", arguments, blockingFor: block).bytes
        }
    }

    // MARK: Sets

    @discardableResult
    public func sadd(_ key: String, _ members: [String]) async throws -> Int {
        try integer(await send("SADD", [RedisArgument(key)] + members.map { RedisArgument($0) }), "SADD")
    }

    @discardableResult
    public func sadd(_ key: String, _ members: [[UInt8]]) async throws -> Int {
        try integer(await send("SADD", [RedisArgument(key)] + members.map { RedisArgument($0) }), "SADD")
    }

    @discardableResult
    public func srem(_ key: String, _ members: [String]) async throws -> Int {
        try integer(await send("SREM", [RedisArgument(key)] + members.map { RedisArgument($0) }), "SREM")
    }

    @discardableResult
    public func srem(_ key: String, _ members: [[UInt8]]) async throws -> Int {
        try integer(await send("SREM", [RedisArgument(key)] + members.map { RedisArgument($0) }), "SREM")
    }

    /// The members in no particular order.
    public func smembers(_ key: String) async throws -> [[UInt8]] {
        try byteArrays(await send("SMEMBERS", [RedisArgument(key)]), "SMEMBERS")
    }

    // MARK: Scripts and pub/sub

    /// Runs a Lua script by its SHA-1 (EVALSHA), sending the script itself (EVAL) only when the
    /// server does not know it yet (NOSCRIPT), e.g. after a restart or SCRIPT FLUSH.
    public func eval(_ script: String, keys: [String] = [], arguments: [RedisArgument] = []) async throws -> RESPValue {
        let tail = [RedisArgument(keys.count)] + keys.map { RedisArgument($0) } + arguments
        do {
            return try await send("EVALSHA", [RedisArgument(scriptHash(script))] + tail)
        } catch let error as RedisError where error.serverErrorPrefix == "NOSCRIPT" {
            logger.debug("Redis script not cached; sending it with EVAL")
            return try await send("EVAL", [RedisArgument(script)] + tail)
        }
    }

    /// Returns how many subscribers received the message.
    @discardableResult
    public func publish(_ channel: String, _ message: [UInt8]) async throws -> Int {
        try integer(await send("PUBLISH", [RedisArgument(channel), RedisArgument(message)]), "PUBLISH")
    }

    @discardableResult
    public func publish(_ channel: String, _ message: String) async throws -> Int {
        try await publish(channel, Array(message.utf8))
    }

    // MARK: Reply shapes

    private func integer(_ reply: RESPValue, _ command: String) throws -> Int {
        guard case .integer(let value) = reply else { throw unexpected(reply, command, "an integer") }
        return value
    }

    private func byteArrays(_ reply: RESPValue, _ command: String) throws -> [[UInt8]] {
        guard case .array(let values) = reply else { throw unexpected(reply, command, "an array") }
        return try values.map { value in
            guard let bytes = value.bytes else { throw unexpected(value, command, "a bulk string") }
            return bytes
        }
    }

    private func unexpected(_ reply: RESPValue, _ command: String, _ expected: String) -> RedisError {
        RedisError(
            .protocolViolation,
            command: command,
            endpoint: configuration.endpoint,
            detail: "expected \(expected) in reply, got \(reply.kind)"
        )
    }
}

extension RESPValue {
    /// The kind of reply without its contents, for error messages that must not carry user data.
    var kind: String {
        switch self {
        case .simpleString: "simple string"
        case .error: "error"
        case .integer: "integer"
        case .bulkString: "bulk string"
        case .null: "null"
        case .array: "array"
        }
    }
}
