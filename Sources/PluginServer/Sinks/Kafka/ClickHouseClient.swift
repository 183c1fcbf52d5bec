import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL

/// ClickHouse's HTTP interface, for the one thing the plugin server asks of it: deleting a person
/// merged away (wire-formats.md §3.5). http on 8123, or https on 8443 with CLICKHOUSE_SECURE.
/// `CLICKHOUSE_HOST` may carry its own `:port` (an extension, used by the tests).
final class ClickHouseClient: Sendable {
    let baseURL: String
    let settings: ServerSettings.ClickHouse
    let metrics: ServerMetrics?
    private let client: HTTPClient

    init(settings: ServerSettings.ClickHouse, baseDirectory: String, extraTrustRootsFile: String? = nil, metrics: ServerMetrics? = nil)
        throws
    {
        self.settings = settings
        self.metrics = metrics
        let hasPort = settings.host.contains(":") && !settings.host.hasPrefix("[")
        baseURL = (settings.secure ? "https://" : "http://") + settings.host + (hasPort ? "" : settings.secure ? ":8443" : ":8123")
        var configuration = HTTPClient.Configuration()
        if let path = settings.certificateAuthorityPath {
            // Verified against the given CA (the original turned verification off: configuration.md Bug).
            var tls = TLSConfiguration.makeClientConfiguration()
            let file = path.hasPrefix("/") ? path : baseDirectory + "/" + path
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file))
            configuration.tlsConfiguration = tls
        } else if let extraTrustRootsFile {
            // Node's https trusted NODE_EXTRA_CA_CERTS beside the system's authorities, unless a CA was given.
            configuration.tlsConfiguration = .client(trusting: [extraTrustRootsFile])
        }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// `'` and `\` escaped as ClickHouse string literals want them.
    static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    static func deletePersonQueries(uuid: String) -> [String] {
        [
            "ALTER TABLE person DELETE WHERE id = \(quote(uuid))",
            "ALTER TABLE person_distinct_id DELETE WHERE person_id = \(quote(uuid))",
        ]
    }

    func query(_ sql: String, timeout: TimeAmount = .seconds(30)) async throws {
        let start = ContinuousClock.now
        defer { metrics?.timing(.clickHouse, seconds: (ContinuousClock.now - start).inSeconds) }
        let database = settings.database.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? settings.database
        var request = HTTPClientRequest(url: baseURL + "/?database=" + database)
        request.method = .POST
        request.headers.add(name: "X-ClickHouse-User", value: settings.user)
        if let password = settings.password, !password.isEmpty { request.headers.add(name: "X-ClickHouse-Key", value: password) }
        request.body = .bytes(ByteBuffer(string: sql))
        let response = try await client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 1 << 20)
        guard (200..<300).contains(response.status.code) else {
            throw ClickHouseError(status: Int(response.status.code), message: String(buffer: body))
        }
    }

    /// The original's start-up `SELECT 1` (wire-formats.md §3.5). Its failure stopped the original
    /// from starting; here it is logged, as ClickHouse is needed only when a merge deletes a person.
    func checkReachable(logger: Logger) async {
        do {
            try await query("SELECT 1", timeout: .seconds(5))
        } catch {
            logger.warning(
                "ClickHouse is not reachable: person deletions after merges will fail until it is",
                metadata: ["clickhouse": "\(baseURL)", "error": .failure(error)])
        }
    }

    func shutdown() async { try? await client.shutdown() }
}

struct ClickHouseError: Error, CustomStringConvertible {
    var status: Int
    var message: String
    var description: String { "ClickHouse answered \(status): \(message.prefix(500))" }
}
