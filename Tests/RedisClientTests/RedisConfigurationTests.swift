import NIOSSL
import Testing

@testable import RedisClient

@Suite("Redis URLs")
struct RedisConfigurationTests {
    @Test("host only takes the defaults")
    func hostOnly() throws {
        let configuration = try RedisConfiguration(url: "redis://127.0.0.1")
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 6379)
        #expect(configuration.password == nil)
        #expect(configuration.username == nil)
        #expect(configuration.database == 0)
    }

    @Test(
        "every part is read",
        arguments: [
            ("redis://localhost:6380", "localhost", 6380, nil, nil, 0),
            ("redis://localhost:6380/", "localhost", 6380, nil, nil, 0),
            ("redis://redis.internal/3", "redis.internal", 6379, nil, nil, 3),
            ("redis://:p%40ss@h:1/2", "h", 1, nil, "p@ss", 2),
            ("redis://user:pw@h", "h", 6379, "user", "pw", 0),
            ("redis://secret@h:7000", "h", 7000, nil, "secret", 0),
            ("redis://[::1]:6390/1", "::1", 6390, nil, nil, 1),
        ] as [(String, String, Int, String?, String?, Int)])
    func parts(url: String, host: String, port: Int, username: String?, password: String?, database: Int) throws {
        let configuration = try RedisConfiguration(url: url)
        #expect(configuration.host == host)
        #expect(configuration.port == port)
        #expect(configuration.username == username)
        #expect(configuration.password == password)
        #expect(configuration.database == database)
    }

    @Test(
        "bad URLs are refused with the reason and the expected form",
        arguments: [
            ("http://h", "scheme"),
            ("127.0.0.1:6379", "scheme"),
            ("redis://", "host"),
            ("redis://h:port", "port"),
            ("redis://h:70000", "port"),
            ("redis://h/db", "database"),
            ("redis://:a%zz@h", "percent"),
        ])
    func invalid(url: String, reasonMentions: String) {
        let error = #expect(throws: RedisURLError.self) { try RedisConfiguration(url: url) }
        #expect(error?.description.contains(reasonMentions) == true, "\(error?.description ?? "")")
        #expect(error?.description.contains(RedisURLError.expectedForm) == true)
    }

    @Test("a rediss:// URL turns TLS on with the certificate verified; redis:// leaves it off")
    func urls() throws {
        let secure = try RedisConfiguration(url: "rediss://:pw@cache.example:6380/2")
        #expect(secure.tls?.certificateVerification == .fullVerification)
        #expect(secure.host == "cache.example" && secure.port == 6380 && secure.database == 2 && secure.password == "pw")
        #expect(try RedisConfiguration(url: "rediss://cache.example").port == 6379)
        #expect(try RedisConfiguration(url: "redis://cache.example").tls == nil)
    }

    @Test("the password is masked in URL errors")
    func masked() {
        let error = #expect(throws: RedisURLError.self) { try RedisConfiguration(url: "redis://u:topsecret@h:x") }
        #expect(error?.description.contains("topsecret") == false)
        #expect(error?.url == "redis://u:***@h:x")
    }
}
