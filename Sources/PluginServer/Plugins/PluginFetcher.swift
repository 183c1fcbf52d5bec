import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PluginRuntime

/// The sandbox's `fetch` (reference §6.4, node-fetch 2) over async-http-client: up to 20 redirects,
/// gzip/deflate decoded, and, beyond the original, a per-request timeout (PLUGIN_FETCH_TIMEOUT).
/// Plugins may only speak HTTP(S); the response body is capped so one plugin cannot exhaust memory.
final class PluginFetcher: Sendable {
    private let following: HTTPClient
    private let manual: HTTPClient
    private let timeout: TimeAmount
    static let maximumBodyBytes = 64 << 20

    /// `extraTrustRootsFile`: authorities trusted beside the system's (`NODE_EXTRA_CA_CERTS`, which
    /// node-fetch's requests trusted too).
    init(timeoutSeconds: Double, extraTrustRootsFile: String? = nil) {
        timeout = .milliseconds(Int64(max(0.001, timeoutSeconds) * 1000))
        let decompression = HTTPClient.Decompression.enabled(limit: .ratio(100))
        var followingConfiguration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 20, allowCycles: false), decompression: decompression)
        var manualConfiguration = HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: decompression)
        // node-fetch fails at once when a connection cannot be made; async-http-client would retry until
        // its connect timeout, holding the event 10 s for a server that is down.
        followingConfiguration.connectionPool.retryConnectionEstablishment = false
        manualConfiguration.connectionPool.retryConnectionEstablishment = false
        if let extraTrustRootsFile {
            let tls = TLSConfiguration.client(trusting: [extraTrustRootsFile])
            followingConfiguration.tlsConfiguration = tls
            manualConfiguration.tlsConfiguration = tls
        }
        following = HTTPClient(eventLoopGroupProvider: .singleton, configuration: followingConfiguration)
        manual = HTTPClient(eventLoopGroupProvider: .singleton, configuration: manualConfiguration)
    }

    func shutdown() async {
        try? await following.shutdown()
        try? await manual.shutdown()
    }

    func fetch(_ request: FetchRequest) async throws -> FetchResponse {
        guard let url = URL(string: request.url), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host != nil
        else {
            throw PluginHostError("Only absolute URLs are supported")
        }
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = HTTPMethod(rawValue: request.method.uppercased())
        for (name, value) in request.headers { outgoing.headers.add(name: name, value: value) }
        if !outgoing.headers.contains(name: "user-agent") {
            outgoing.headers.add(name: "User-Agent", value: "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)")
        }
        if !outgoing.headers.contains(name: "accept") { outgoing.headers.add(name: "Accept", value: "*/*") }
        if let body = request.body { outgoing.body = .bytes(ByteBuffer(bytes: body)) }
        let client = request.redirect == "follow" ? following : manual
        do {
            let response = try await client.execute(outgoing, timeout: timeout)
            if request.redirect == "error", (300..<400).contains(response.status.code), response.headers.contains(name: "location") {
                throw PluginHostError("uri requested responds with a redirect, redirect mode is set to error: \(request.url)")
            }
            let body = try await response.body.collect(upTo: Self.maximumBodyBytes)
            var headers = response.headers.map { (name: $0.name.lowercased(), value: $0.value) }
            if request.redirect == "manual", [301, 302, 303, 307, 308].contains(Int(response.status.code)) {
                // node-fetch 2 resolves a manual redirect's Location against the request's URL.
                for index in headers.indices where headers[index].name == "location" {
                    headers[index].value =
                        URL(string: headers[index].value, relativeTo: URL(string: request.url))?.absoluteString ?? headers[index].value
                }
            }
            return FetchResponse(
                status: Int(response.status.code), statusText: response.status.reasonPhrase,
                headers: headers,
                url: Self.responseURL(response.url?.absoluteString ?? request.url), body: Array(buffer: body),
                redirected: response.history.count > 1)
        } catch let error as PluginHostError {
            throw error
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw PluginHostError("network timeout at: \(request.url)")
        } catch {
            // The sandbox wraps this as node-fetch does: `request to <url> failed, reason: <this>`.
            throw PluginHostError(Self.nodeReason(error, url: url) ?? Self.tlsReason(error, host: url.host ?? "") ?? "\(error)")
        }
    }

    /// `res.url` as node-fetch gives it (Node's `url.format` of `url.parse`): an empty path is `/`.
    static func responseURL(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.host != nil, components.path.isEmpty else { return text }
        components.path = "/"
        return components.string ?? text
    }

    /// Node's wording of a connection failure, which plugins match on (`connect ECONNREFUSED
    /// 127.0.0.1:1`, `getaddrinfo ENOTFOUND example.invalid`); the sandbox's FetchError takes its
    /// `code` from it. The address is the URL's host and port (Node gave the resolved address).
    static func nodeReason(_ error: any Error, url: URL) -> String? {
        let host = url.host ?? ""
        let port = url.port ?? (url.scheme?.lowercased() == "https" ? 443 : 80)
        if let error = error as? IOError, let name = errnoName(error.errnoCode) {
            return "connect \(name) \(host):\(port)"
        }
        guard let error = error as? NIOConnectionError else { return nil }
        if let failure = error.connectionErrors.first, let ioError = failure.error as? IOError, let name = errnoName(ioError.errnoCode) {
            return "connect \(name) \(failure.target.ipAddress ?? host):\(failure.target.port ?? port)"
        }
        if let dns = error.dnsAError ?? error.dnsAAAAError {
            // EAI_AGAIN (-3): the resolver could not answer now; anything else: the name does not exist.
            return "getaddrinfo \(String(describing: dns).contains("(error -3)") ? "EAI_AGAIN" : "ENOTFOUND") \(host)"
        }
        return nil
    }

    /// A TLS failure in words a plugin's log can show: BoringSSL's reason without the place in its
    /// sources it came from (a path of the server's build), and what to do about an untrusted
    /// certificate. Node's texts name the exact verification error, which BoringSSL does not report.
    static func tlsReason(_ error: any Error, host: String) -> String? {
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            return "Hostname/IP does not match certificate's altnames: Host: \(host). is not in the cert's altnames"
        }
        guard let error = error as? NIOSSLError, case .handshakeFailed(let failure) = error else { return nil }
        var reasons: [String] = []
        for part in String(describing: failure).components(separatedBy: "OPENSSL_internal:").dropFirst() {
            let reason = String(part.prefix { $0.isUppercase || $0.isNumber || $0 == "_" })
            if !reason.isEmpty, !reasons.contains(reason) { reasons.append(reason) }
        }
        if reasons.contains("CERTIFICATE_VERIFY_FAILED") {
            return "certificate verify failed: the certificate of \(host) is not trusted "
                + "(its authority is not among the system's nor in NODE_EXTRA_CA_CERTS)"
        }
        return "TLS handshake failed" + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: ", "))
    }

    private static func errnoName(_ code: CInt) -> String? {
        switch code {
        case ECONNREFUSED: "ECONNREFUSED"
        case ECONNRESET: "ECONNRESET"
        case ETIMEDOUT: "ETIMEDOUT"
        case EHOSTUNREACH: "EHOSTUNREACH"
        case ENETUNREACH: "ENETUNREACH"
        case ECONNABORTED: "ECONNABORTED"
        case EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case EPIPE: "EPIPE"
        default: nil
        }
    }
}
