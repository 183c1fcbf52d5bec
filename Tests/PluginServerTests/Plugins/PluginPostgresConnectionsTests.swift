import PostHogEvents
import Testing

@testable import PluginServer

/// How `pg` parameters become a connection target, and which hosts a plugin may reach.
@Suite struct PluginPostgresConnectionsTests {
    @Test("a connection string gives host, port, user, password, database and sslmode; explicit fields win")
    func connectionString() throws {
        let target = try PluginPostgresConnections.target([
            "connectionString": "postgres://exporter:p%40ss@db.example.com:6543/analytics?sslmode=require", "database": "other",
        ])
        #expect(target.host == "db.example.com")
        #expect(target.port == 6543)
        #expect(target.user == "exporter")
        #expect(target.password == "p@ss")
        #expect(target.database == "other")
        #expect(target.ssl && target.verifyCertificate)
    }

    @Test("node-postgres defaults, and ssl {rejectUnauthorized: false} turns certificate checks off")
    func fieldsAndSSL() throws {
        let plain = try PluginPostgresConnections.target(["host": "redshift.example.com"])
        #expect(plain == .init(host: "redshift.example.com", port: 5432, user: "postgres", password: nil, database: nil, ssl: false))
        let unverified = try PluginPostgresConnections.target(["host": "h", "ssl": ["rejectUnauthorized": false]])
        #expect(unverified.ssl && !unverified.verifyCertificate)
        #expect(throws: (any Error).self) { try PluginPostgresConnections.target(["connectionString": "not a url"]) }
    }

    @Test("only hosts named by a config value, alone or inside a URL, are allowed")
    func allowedHosts() {
        let config: JSONObject = ["clusterHost": " Redshift.Example.com ", "dsn": "postgres://u@pg.example.org/db", "port": "5439"]
        #expect(PluginPostgresConnections.configNames("redshift.example.com", in: config))
        #expect(PluginPostgresConnections.configNames("pg.example.org", in: config))
        #expect(!PluginPostgresConnections.configNames("localhost", in: config))
        #expect(!PluginPostgresConnections.configNames("127.0.0.1", in: [:]))
    }
}
