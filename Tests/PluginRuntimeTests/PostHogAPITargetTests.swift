import Testing

@testable import PluginRuntime

/// The URL of a `posthog.api` call, as the original built it (pure text).
@Suite struct PostHogAPITargetTests {
    let target = PostHogAPITarget(host: "https://ph.example.com/", projectApiKey: "phc key+1", personalApiKey: "phx")

    @Test("the token is form-encoded and comes after the call's data, after `&` when the path has a query")
    func url() {
        #expect(target.request(method: "GET", path: "/api/x", query: "", body: nil).url == "https://ph.example.com/api/x?token=phc+key%2B1")
        #expect(
            target.request(method: "GET", path: "api/x", query: "limit=5", body: nil).url
                == "https://ph.example.com/api/x?limit=5&token=phc+key%2B1")
        #expect(
            target.request(method: "GET", path: "/api/persons?email=a@b.com", query: "", body: nil).url
                == "https://ph.example.com/api/persons?email=a@b.com&token=phc+key%2B1")
        let post = target.request(method: "POST", path: "/api/x", query: "", body: Array("{}".utf8))
        #expect(post.headers.map(\.name) == ["authorization", "content-type"])
        #expect(post.headers.first?.value == "Bearer phx")
    }

    @Test("form encoding leaves letters, digits and *-._ alone, writes a space as + and the rest as %XX")
    func formEncoding() {
        #expect(PostHogAPITarget.formEncoded("aZ09*-._ ~!'()@é") == "aZ09*-._+%7E%21%27%28%29%40%C3%A9")
    }
}
