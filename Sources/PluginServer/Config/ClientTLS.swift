import NIOSSL

extension TLSConfiguration {
    /// The TLS of the server's clients (Redis, Postgres, ClickHouse, plugins' `fetch`): the system's authorities
    /// and those of the PEM `files` (`NODE_EXTRA_CA_CERTS`, `sslrootcert`), checked as `verification` says.
    static func client(trusting files: [String], verification: CertificateVerification = .fullVerification) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.additionalTrustRoots = files.map { .file($0) }
        configuration.certificateVerification = verification
        return configuration
    }
}
