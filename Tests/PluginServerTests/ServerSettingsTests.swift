import Foundation
import NIOSSL
import Testing

@testable import PluginServer

@Suite struct ServerSettingsTests {
    /// The test certificate authority (PEM), beside the Redis client's TLS tests.
    static let testAuthority = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("RedisClientTests/Fixtures/tls/ca.pem").path

    @Test("defaults match the original's")
    func defaults() throws {
        let settings = try ServerSettings(environment: [:], processorCount: 4)
        #expect(
            settings.postgres
                == .init(
                    host: "localhost", port: 5432, username: "postgres", password: nil, database: "posthog", requireTLS: false,
                    maximumConnections: 10))
        #expect(settings.redis.host == "127.0.0.1" && settings.redis.port == 6379)
        #expect(settings.redis.minimumConnections == 1 && settings.redis.maximumConnections == 3)
        #expect(settings.queues.pluginsQueue == "posthog-plugins")
        #expect(settings.queues.defaultQueue == "celery")
        #expect(settings.queues.reloadChannel == "reload-plugins")
        #expect(settings.plugins.workerConcurrency == 4)
        #expect(settings.plugins.tasksPerWorker == 10)
        #expect(settings.plugins.taskTimeoutSeconds == 30)
        #expect(settings.kafka.consumptionTopic == "events_plugin_ingestion")
        #expect(settings.kafka.producerMaxQueueSize == 1000)
        #expect(settings.observability.webPort == 3008)
        #expect(settings.observability.statsdPrefix == "plugin-server.")
        #expect(settings.observability.logLevel == .info)
        #expect(!settings.observability.disableMMDB)
        #expect(settings.jobs.queues == ["graphile"])
        #expect(!settings.idle)
    }

    @Test("NODE_ENV=test switches to the test defaults")
    func testDefaults() throws {
        let settings = try ServerSettings(environment: ["NODE_ENV": "test"])
        #expect(settings.postgres.database == "test_posthog")
        #expect(settings.clickHouse.database == "posthog_test")
        #expect(settings.kafka.producerMaxQueueSize == 0)
        #expect(settings.observability.disableMMDB)
    }

    @Test("numbers follow parseFloat, booleans the original's word list")
    func parsing() throws {
        let settings = try ServerSettings(environment: [
            "WEB_PORT": " 3009 ", "TASK_TIMEOUT": "2.5", "TASKS_PER_WORKER": "30s", "KAFKA_ENABLED": "Yes", "KAFKA_HOSTS": "a:9092, b:9092",
            "DISABLE_MMDB": " true", "STATSD_PORT": "1e3", "PLUGIN_SERVER_IDLE": "on",
        ])
        #expect(settings.observability.webPort == 3009)
        #expect(settings.plugins.taskTimeoutSeconds == 2.5)
        #expect(settings.plugins.tasksPerWorker == 30)
        #expect(settings.kafka.enabled && settings.kafka.hosts == ["a:9092", "b:9092"])
        #expect(!settings.observability.disableMMDB)
        #expect(settings.observability.statsdPort == 1000)
        #expect(settings.idle)
    }

    @Test("connection URLs and the POSTHOG_* alternatives")
    func connections() throws {
        let fromURL = try ServerSettings(environment: [
            "DATABASE_URL": "postgres://user:p%40ss@db.example:6543/app?sslmode=require", "REDIS_URL": "redis://:secret@cache:6380/2",
        ])
        #expect(
            fromURL.postgres
                == .init(
                    host: "db.example", port: 6543, username: "user", password: "p@ss", database: "app", requireTLS: true,
                    maximumConnections: 10))
        #expect(
            fromURL.redis.host == "cache" && fromURL.redis.port == 6380 && fromURL.redis.password == "secret" && fromURL.redis.database == 2
        )
        let fromFields = try ServerSettings(environment: [
            "POSTHOG_DB_NAME": "ph", "POSTHOG_DB_USER": "u", "POSTHOG_DB_PASSWORD": "pw", "POSTHOG_POSTGRES_HOST": "h",
            "POSTHOG_POSTGRES_PORT": "5433",
            "POSTHOG_REDIS_HOST": "r", "POSTHOG_REDIS_PORT": "7000", "POSTHOG_REDIS_PASSWORD": "rp", "DYNO": "web.1",
        ])
        #expect(
            fromFields.postgres
                == .init(host: "h", port: 5433, username: "u", password: "pw", database: "ph", requireTLS: true, maximumConnections: 10))
        #expect(fromFields.redis.host == "r" && fromFields.redis.port == 7000 && fromFields.redis.password == "rp")
    }

    @Test("rediss:// is Redis over TLS, verified unless NODE_TLS_REJECT_UNAUTHORIZED=0, NODE_EXTRA_CA_CERTS trusted too")
    func redisTLS() throws {
        let plain = try ServerSettings(environment: ["REDIS_URL": "redis://cache"])
        #expect(!plain.redis.usesTLS && plain.redis.verifiesCertificate && plain.extraTrustRootsFile == nil)
        #expect(PluginServer.redisConfiguration(plain).tls == nil)

        let authority = Self.testAuthority
        let secure = try ServerSettings(environment: ["REDIS_URL": "rediss://:pw@cache:6380/1", "NODE_EXTRA_CA_CERTS": authority])
        #expect(secure.redis.usesTLS && secure.redis.host == "cache" && secure.redis.port == 6380 && secure.redis.database == 1)
        let tls = try #require(PluginServer.redisConfiguration(secure).tls)
        #expect(tls.certificateVerification == .fullVerification)
        #expect(tls.additionalTrustRoots.count == 1)

        let unverified = try ServerSettings(environment: ["REDIS_URL": "rediss://cache", "NODE_TLS_REJECT_UNAUTHORIZED": "0"])
        #expect(PluginServer.redisConfiguration(unverified).tls?.certificateVerification == CertificateVerification.none)

        // A file that holds no certificate is ignored (Node warns and goes on), not a reason to stop.
        for file in ["/nonexistent/ca.pem", #filePath] {
            let ignored = try ServerSettings(environment: ["REDIS_URL": "rediss://cache", "NODE_EXTRA_CA_CERTS": file])
            #expect(ignored.ignoredExtraTrustRootsFile == file && ignored.extraTrustRootsFile == nil)
            #expect(ignored.postgres.trustRootFiles.isEmpty)
            #expect(PluginServer.redisConfiguration(ignored).tls?.additionalTrustRoots.isEmpty == true)
        }
    }

    @Test(
        "sslmode: require encrypts without checking the certificate, verify-ca checks its authority, verify-full its host name too",
        arguments: [
            ("", false, ServerSettings.CertificateCheck.none), ("?sslmode=disable", false, .none), ("?sslmode=require", true, .none),
            ("?sslmode=verify-ca", true, .authority), ("?sslmode=verify-full", true, .authorityAndHostname),
        ])
    func postgresTLS(query: String, encrypted: Bool, check: ServerSettings.CertificateCheck) throws {
        let settings = try ServerSettings(environment: ["DATABASE_URL": "postgres://u@db.example/app" + query])
        #expect(settings.postgres.requireTLS == encrypted && settings.postgres.certificateCheck == check)
    }

    @Test("sslrootcert and NODE_EXTRA_CA_CERTS are trusted for Postgres; an unreadable sslrootcert stops start-up")
    func postgresTrustRoots() throws {
        let settings = try ServerSettings(environment: [
            "DATABASE_URL": "postgres://u@db.example/app?sslmode=verify-full&sslrootcert=\(Self.testAuthority)",
            "NODE_EXTRA_CA_CERTS": Self.testAuthority,
        ])
        #expect(settings.postgres.trustRootFiles == [Self.testAuthority, Self.testAuthority])
        #expect {
            try ServerSettings(environment: ["DATABASE_URL": "postgres://u@db.example/app?sslmode=verify-full&sslrootcert=/nonexistent.pem"]
            )
        } throws: { error in
            (error as? ConfigError)?.problems.map(\.variable) == ["DATABASE_URL"]
        }
    }

    @Test("invalid values stop start-up with every bad variable named and the form expected")
    func invalid() {
        #expect {
            try ServerSettings(environment: [
                "WORKER_CONCURRENCY": "abc", "DATABASE_URL": "mysql://nope", "TASKS_PER_WORKER": "-1", "WEB_PORT": "70000",
                "LOG_LEVEL": "loud",
                "REDIS_POOL_MAX_SIZE": "1.5", "JOB_QUEUES": "graphile,s3", "KAFKA_ENABLED": "true", "SCHEDULE_LOCK_TTL": ".5",
            ])
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            let names = Set(error.problems.map(\.variable))
            let expected: Set = [
                "WORKER_CONCURRENCY", "DATABASE_URL", "TASKS_PER_WORKER", "WEB_PORT", "LOG_LEVEL", "REDIS_POOL_MAX_SIZE", "JOB_QUEUES",
                "KAFKA_HOSTS",
                "SCHEDULE_LOCK_TTL",
            ]
            return names == expected && error.description.contains("WORKER_CONCURRENCY=\"abc\": expected a whole number")
                && error.description.contains("postgres://")
        }
    }

    @Test("--help lists every variable the catalog knows, with its default")
    func helpText() {
        let help = SettingsCatalog.helpText
        for setting in SettingsCatalog.all {
            #expect(help.contains("- \(setting.name) - "))
        }
        #expect(help.contains("- TASK_TIMEOUT - seconds a plugin call or an awaited promise may take (default: 30)"))
    }

    @Test("LOG_LEVEL orders the original's levels")
    func logLevels() {
        #expect(LogLevel.debug < .info && LogLevel.info < .log && LogLevel.log < .warn && LogLevel.warn < .error)
    }

    @Test("parseFloat reads the longest numeric prefix")
    func parseFloat() {
        #expect(EnvironmentReader.parseFloat("3008.12") == 3008.12)
        #expect(EnvironmentReader.parseFloat("1e3") == 1000)
        #expect(EnvironmentReader.parseFloat("0x10") == 0)
        #expect(EnvironmentReader.parseFloat("30s") == 30)
        #expect(EnvironmentReader.parseFloat(".5") == nil)
        #expect(EnvironmentReader.parseFloat("") == nil)
        #expect(EnvironmentReader.parseFloat("abc") == nil)
    }
}
