import Foundation
import PostHogEvents

/// A Sentry DSN, `scheme://public_key[:secret]@host[:port][/path]/project_id`, and what it implies:
/// the envelope endpoint and the auth header.
struct SentryDSN: Sendable, Equatable {
    var text: String
    var publicKey: String
    var secretKey: String?
    /// `scheme://host[:port][/path]`, without a trailing slash.
    var base: String
    var projectId: String

    init?(_ text: String) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty,
            let user = components.user, !user.isEmpty
        else { return nil }
        var path = components.path.split(separator: "/").map(String.init)
        guard let projectId = path.popLast(), !projectId.isEmpty else { return nil }
        self.text = text
        self.publicKey = user
        self.secretKey = components.password
        self.projectId = projectId
        let port = components.port.map { ":\($0)" } ?? ""
        let prefix = path.isEmpty ? "" : "/" + path.joined(separator: "/")
        self.base = "\(scheme)://\(host)\(port)\(prefix)"
    }

    var envelopeURL: String { "\(base)/api/\(projectId)/envelope/" }

    func authHeader(client: String) -> String {
        var header = "Sentry sentry_version=7, sentry_client=\(client), sentry_key=\(publicKey)"
        if let secretKey { header += ", sentry_secret=\(secretKey)" }
        return header
    }
}

/// One error for Sentry: what happened, where (tags such as `plugin_config_id`, `team_id`), and
/// context (`extra`, e.g. the event being processed).
struct SentryReport: Sendable {
    var type: String
    var message: String
    var tags: [String: String] = [:]
    var extra: JSONObject = [:]
    var level: String = "error"
    var eventId: String = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    var timestamp: String = EventTimestamp.now().isoString

    /// An envelope with one `event` item (Sentry's envelope format: a header line, an item header
    /// line, the payload).
    func envelope(dsn: SentryDSN, release: String, serverName: String, defaultTags: [String: String]) -> [UInt8] {
        var allTags = JSONObject()
        for (key, value) in defaultTags.merging(tags, uniquingKeysWith: { $1 }).sorted(by: { $0.key < $1.key }) {
            allTags[key] = .string(value)
        }
        let event: JSON = [
            "event_id": .string(eventId), "timestamp": .string(timestamp), "platform": "other", "level": .string(level),
            "logger": "plugin-server", "server_name": .string(serverName), "release": .string(release),
            "exception": ["values": [["type": .string(type), "value": .string(message)]]],
            "tags": .object(allTags), "extra": .object(extra),
        ]
        let payload = event.jsonBytes
        let header: JSON = ["event_id": .string(eventId), "dsn": .string(dsn.text), "sent_at": .string(EventTimestamp.now().isoString)]
        let itemHeader: JSON = ["type": "event", "content_type": "application/json", "length": .number(Double(payload.count))]
        return header.jsonBytes + [UInt8(ascii: "\n")] + itemHeader.jsonBytes + [UInt8(ascii: "\n")] + payload + [UInt8(ascii: "\n")]
    }
}
