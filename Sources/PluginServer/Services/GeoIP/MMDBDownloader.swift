import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A GeoIP database as the download endpoint serves it: brotli-compressed, named by the
/// `Content-Disposition` header (`GeoLite2-City-2021-06-01.mmdb`).
struct MMDBDownload: Sendable {
    /// The name stored in the attachment row: the served name plus `.br`, as the original stored it.
    var fileName: String
    var contentType: String
    var contents: [UInt8]
}

/// Why a download gave no database: the URL, the HTTP status when there was one, and the reason.
struct MMDBDownloadError: Error, CustomStringConvertible {
    var url: String
    var status: Int?
    var reason: String
    var description: String { "GeoIP download from \(url) failed\(status.map { " (HTTP \($0))" } ?? ""): \(reason)" }
}

/// Downloads the database from MMDB_ENDPOINT (default the original's `https://mmdb.posthog.net/`).
struct MMDBDownloader: Sendable {
    let endpoint: String
    private let session: URLSession

    init(endpoint: String) {
        self.endpoint = endpoint
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        configuration.timeoutIntervalForResource = 600
        session = URLSession(configuration: configuration)
    }

    func download() async throws -> MMDBDownload {
        guard let url = URL(string: endpoint) else { throw MMDBDownloadError(url: endpoint, reason: "not a URL") }
        var request = URLRequest(url: url)
        // The body is already brotli: no transfer encoding on top (the original fetched with compress: false).
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw MMDBDownloadError(url: endpoint, reason: error.localizedDescription)
        }
        guard let http = response as? HTTPURLResponse else { throw MMDBDownloadError(url: endpoint, reason: "not an HTTP response") }
        guard http.statusCode == 200 else { throw MMDBDownloadError(url: endpoint, status: http.statusCode, reason: "unexpected status") }
        guard let name = http.value(forHTTPHeaderField: "Content-Disposition").flatMap(Self.fileName(contentDisposition:)) else {
            throw MMDBDownloadError(url: endpoint, status: http.statusCode, reason: "no file name in Content-Disposition")
        }
        return MMDBDownload(
            fileName: name + ".br", contentType: http.value(forHTTPHeaderField: "Content-Type") ?? "application/octet-stream",
            contents: [UInt8](data))
    }

    /// `attachment; filename="GeoLite2-City-2021-06-01.mmdb"` → the quoted name (the original's
    /// `/filename="(.+)"/`, greedy up to the last quote).
    static func fileName(contentDisposition: String) -> String? {
        guard let start = contentDisposition.range(of: "filename=\"") else { return nil }
        let rest = contentDisposition[start.upperBound...]
        guard let end = rest.lastIndex(of: "\""), end > rest.startIndex else { return nil }
        return String(rest[..<end])
    }
}
