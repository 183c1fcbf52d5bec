import Foundation
import Testing

@testable import PluginRuntime
@testable import PluginServer

/// The sandbox's fetch fails as node-fetch did: at once when nothing listens or the name does not
/// resolve (async-http-client would retry the connection until its connect timeout), with Node's
/// `connect ECONNREFUSED <address>` / `getaddrinfo ENOTFOUND <host>` reasons.
@Suite struct PluginFetcherTests {
    @Test("a refused connection fails with ECONNREFUSED instead of retrying until a timeout")
    func refused() async throws {
        let fetcher = PluginFetcher(timeoutSeconds: 60)
        defer { Task { await fetcher.shutdown() } }
        let error = await #expect(throws: PluginHostError.self) {
            _ = try await fetcher.fetch(FetchRequest(url: "http://127.0.0.1:1/", method: "GET", headers: [], body: nil, redirect: "follow"))
        }
        #expect(error?.message == "connect ECONNREFUSED 127.0.0.1:1")
    }

    @Test("an unknown host fails with ENOTFOUND")
    func unknownHost() async throws {
        let fetcher = PluginFetcher(timeoutSeconds: 60)
        defer { Task { await fetcher.shutdown() } }
        let error = await #expect(throws: PluginHostError.self) {
            _ = try await fetcher.fetch(
                FetchRequest(url: "http://nonexistent.invalid/", method: "GET", headers: [], body: nil, redirect: "follow"))
        }
        #expect(error?.message == "getaddrinfo ENOTFOUND nonexistent.invalid")
    }

    @Test("res.url is the URL as Node formats it: an empty path becomes /, paths are sent as written")
    func responseURL() {
        #expect(PluginFetcher.responseURL("http://127.0.0.1:8765") == "http://127.0.0.1:8765/")
        #expect(PluginFetcher.responseURL("https://example.com?a=1") == "https://example.com/?a=1")
        for kept in ["http://h//double//slash", "http://h/a/../b/./c", "http://h/x?y=%20"] {
            #expect(PluginFetcher.responseURL(kept) == kept)
        }
    }
}
