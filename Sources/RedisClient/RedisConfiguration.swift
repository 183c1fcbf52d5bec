import NIOSSL

/// Where the Redis server is and how to use it: credentials, database, TLS, pool bounds and time limits.
public struct RedisConfiguration: Sendable {
    /// Host name or IP address of the server.
    public var host: String
    /// TCP port; 6379 by default.
    public var port: Int
    /// ACL user for `AUTH user password`; nil sends the one-argument `AUTH password`.
    public var username: String?
    /// Password for AUTH; nil skips AUTH.
    public var password: String?
    /// Database selected after connecting when it is not 0.
    public var database: Int
    /// TLS for every connection (`rediss://`); nil for plain TCP. A host name is sent as SNI and, when
    /// the configuration verifies certificates, must match the server's certificate.
    public var tls: TLSConfiguration?
    /// Connections the pool keeps open once it has been used; 1 by default.
    public var minimumConnections: Int
    /// Connections the pool opens at most; callers beyond wait in FIFO order. 3 by default.
    public var maximumConnections: Int
    /// Time allowed to open a connection, including AUTH and SELECT; 5 s by default.
    public var connectTimeout: Duration
    /// Time allowed for a reply before the connection is closed as hung; 30 s by default, nil for none.
    /// Blocking commands (BLMOVE) get their block time on top.
    public var commandTimeout: Duration?

    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        minimumConnections: Int = 1,
        maximumConnections: Int = 3
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.minimumConnections = minimumConnections
        self.maximumConnections = maximumConnections
        self.connectTimeout = .seconds(5)
        self.commandTimeout = .seconds(30)
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS with the
    /// certificate verified against the system's trust roots (as Node's `tls` does by default). User and
    /// password may be percent-encoded; an IPv6 host goes in brackets.
    public init(url: String) throws(RedisURLError) {
        self.init()
        let scheme: String
        if url.hasPrefix("redis://") {
            scheme = "redis://"
        } else if url.hasPrefix("rediss://") {
            scheme = "rediss://"
            tls = .makeClientConfiguration()
        } else {
            throw RedisURLError(url: url, reason: "the scheme must be redis:// or rediss://")
        }
        var rest = Substring(url.dropFirst(scheme.count))

        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                let user = userInfo[..<colon]
                username = user.isEmpty ? nil : try Self.percentDecoded(user, in: url)
                password = try Self.percentDecoded(userInfo[userInfo.index(after: colon)...], in: url)
            } else {
                // `redis://secret@host` is the common legacy form: a lone user-info part is the password.
                password = try Self.percentDecoded(userInfo, in: url)
            }
        }

        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else {
                    throw RedisURLError(url: url, reason: "the path must be a database number, found '\(path)'")
                }
                database = number
            }
        }

        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw RedisURLError(url: url, reason: "an IPv6 host lacks its closing ']'")
            }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else {
                    throw RedisURLError(url: url, reason: "unexpected text after the IPv6 host")
                }
                portText = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw RedisURLError(url: url, reason: "the host is missing") }
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw RedisURLError(url: url, reason: "the port must be a number from 1 to 65535, found '\(portText)'")
            }
            port = number
        }
    }

    private static func percentDecoded(_ text: Substring, in url: String) throws(RedisURLError) -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw RedisURLError(url: url, reason: "the user info has an invalid percent escape")
            }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    var endpoint: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A Redis URL that could not be used: the URL with its password masked, why, and the form expected.
public struct RedisURLError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The URL as given, with any password replaced by `***`.
    public let url: String
    public let reason: String
    public static let expectedForm = "redis[s]://[[user]:password@]host[:port][/db]"

    init(url: String, reason: String) {
        self.url = Self.masked(url)
        self.reason = reason
    }

    public var description: String {
        "invalid Redis URL '\(url)': \(reason) (expected \(Self.expectedForm))"
    }

    private static func masked(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://"), let at = url.lastIndex(of: "@"), at > schemeEnd.upperBound
        else {
            return url
        }
        let userInfo = url[schemeEnd.upperBound..<at]
        let user = userInfo.firstIndex(of: ":").map { userInfo[..<$0] + ":" } ?? ""
        return url[..<schemeEnd.upperBound] + user + "***" + url[at...]
    }
}
