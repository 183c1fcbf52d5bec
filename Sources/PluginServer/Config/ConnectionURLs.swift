import Foundation

/// `postgres://[user[:password]@]host[:port]/database[?sslmode=…&sslrootcert=…]`.
struct PostgresURL: Equatable {
    var host: String
    var port: Int
    var username: String
    var password: String?
    var database: String
    var requireTLS: Bool
    /// What of the server's certificate is checked, after libpq's `sslmode`: nothing for `require`,
    /// its authority for `verify-ca`, and its host name too for `verify-full`.
    var certificateCheck: ServerSettings.CertificateCheck
    /// libpq's `sslrootcert`: a PEM file of authorities to trust.
    var rootCertificateFile: String?

    init?(_ text: String) {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql", let host = components.host, !host.isEmpty
        else { return nil }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { return nil }
        if let port = components.port, !(1...65535).contains(port) { return nil }
        self.host = host
        self.port = components.port ?? 5432
        self.username = components.user?.removingPercentEncoding ?? "postgres"
        self.password = components.password?.removingPercentEncoding
        self.database = database.removingPercentEncoding ?? database
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value
        self.requireTLS = sslMode == "require" || sslMode == "verify-full" || sslMode == "verify-ca"
        self.certificateCheck = sslMode == "verify-full" ? .authorityAndHostname : sslMode == "verify-ca" ? .authority : .none
        self.rootCertificateFile = components.queryItems?.first { $0.name == "sslrootcert" }?.value.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// `redis://[[user]:password@]host[:port][/database]`.
struct RedisURL: Equatable {
    var host: String
    var port: Int
    var username: String?
    var password: String?
    var database: Int
    /// `rediss://`: TLS, as ioredis reads the scheme.
    var usesTLS: Bool

    init?(_ text: String) {
        guard let components = URLComponents(string: text), components.scheme == "redis" || components.scheme == "rediss",
            let host = components.host, !host.isEmpty
        else { return nil }
        self.usesTLS = components.scheme == "rediss"
        if let port = components.port, !(1...65535).contains(port) { return nil }
        let path = components.path.drop { $0 == "/" }
        guard path.isEmpty || Int(path) != nil else { return nil }
        self.host = host
        self.port = components.port ?? 6379
        self.username = components.user.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding }
        self.password = components.password?.removingPercentEncoding
        self.database = Int(path) ?? 0
    }
}
