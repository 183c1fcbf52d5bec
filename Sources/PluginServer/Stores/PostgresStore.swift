import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// PostHog's Postgres database: the pooled client, the statements the server runs, and the
/// classification of failures into "retry later" and "will never work".
public struct PostgresStore: Sendable {
    public let client: PostgresClient
    let logger: Logger
    /// A connection of its own, at start-up: the pool's tries wait up to a minute and say nothing of why.
    /// `nil` when its TLS context could not be made (the pool then reports that itself).
    private let probe: PostgresConnection.Configuration?
    /// `query.postgres` per query, tagged with the calling function (the original's `queryTag`).
    let metrics: ServerMetrics?

    public init(settings: ServerSettings.Postgres, logger: Logger) {
        self.init(settings: settings, logger: logger, metrics: nil)
    }

    init(settings: ServerSettings.Postgres, logger: Logger, metrics: ServerMetrics?) {
        var tlsConfiguration: TLSConfiguration?
        if settings.requireTLS {
            let verification: CertificateVerification =
                switch settings.certificateCheck {
                case .none: .none
                case .authority: .noHostnameVerification
                case .authorityAndHostname: .fullVerification
                }
            tlsConfiguration = .client(trusting: settings.trustRootFiles, verification: verification)
        }
        var configuration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.username, password: settings.password,
            database: settings.database, tls: tlsConfiguration.map { .require($0) } ?? .disable)
        let probeTLS: PostgresConnection.Configuration.TLS? =
            if let tlsConfiguration { (try? NIOSSLContext(configuration: tlsConfiguration)).map { .require($0) } } else { .disable }
        probe = probeTLS.map { tls in
            PostgresConnection.Configuration(
                host: settings.host, port: settings.port, username: settings.username, password: settings.password,
                database: settings.database, tls: tls)
        }
        configuration.options.maximumConnections = settings.maximumConnections
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.connectionIdleTimeout = .seconds(60)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.metrics = metrics
    }

    @discardableResult
    func query(_ query: PostgresQuery, function: String = #function, file: String = #fileID, line: Int = #line) async throws
        -> PostgresRowSequence
    {
        let start = ContinuousClock.now
        defer { record(function, since: start) }
        return try await client.query(query, logger: logger, file: file, line: line)
    }

    /// The first row of a query, decoded; `nil` when it returned none.
    func first<each Column: PostgresDecodable & Sendable>(
        _ query: PostgresQuery, as columns: (repeat each Column).Type, function: String = #function, file: String = #fileID,
        line: Int = #line
    ) async throws -> (repeat each Column)? {
        for try await row in try await self.query(query, function: function, file: file, line: line).decode(columns) { return row }
        return nil
    }

    func execute(_ query: PostgresQuery, function: String = #function, file: String = #fileID, line: Int = #line) async throws {
        let start = ContinuousClock.now
        defer { record(function, since: start) }
        try await client.query(query, logger: logger, file: file, line: line).consume()
    }

    /// A writing statement in an explicit transaction, its rows collected. PostHog's foreign keys are
    /// DEFERRABLE INITIALLY DEFERRED: a statement run on its own is checked only when its implicit
    /// transaction commits, after its rows and completion were sent, and postgres-nio takes that late
    /// error for a protocol violation: it closes the connection while the caller has already seen the
    /// statement succeed (an event of a deleted team acknowledged, and the events written with it
    /// lost). An explicit COMMIT reports the violation as its own error.
    func write(_ query: PostgresQuery, function: String = #function, file: String = #fileID, line: Int = #line) async throws
        -> [PostgresRow]
    {
        let start = ContinuousClock.now
        defer { record(function, since: start) }
        return try await withTransaction { connection in
            var rows: [PostgresRow] = []
            for try await row in try await connection.query(query, logger: logger, file: file, line: line) { rows.append(row) }
            return rows
        }
    }

    private func record(_ function: String, since start: ContinuousClock.Instant) {
        guard let metrics else { return }
        let tag = function.prefix { $0 != "(" }
        metrics.postgresQuery(tag: String(tag), seconds: (ContinuousClock.now - start).inSeconds)
    }

    func withTransaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let start = ContinuousClock.now
        defer { metrics?.postgresTransaction(seconds: (ContinuousClock.now - start).inSeconds) }
        return try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: logger)
            do {
                let result = try await body(connection)
                try await connection.query("COMMIT", logger: logger)
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// Waits until a `SELECT 1` succeeds (the database may still be starting). A server that answers
    /// but refuses these credentials or this database will not change its mind: that throws
    /// `PostgresRefusal` at once instead of waiting.
    func waitUntilReachable(timeout: Duration = .seconds(60)) async throws {
        let start = ContinuousClock.now
        var nextWarning = start + .seconds(5)
        while true {
            let failure: String
            do {
                if let reason = try await probeConnection() {
                    failure = reason
                } else {
                    try await execute("SELECT 1")
                    return
                }
            } catch let error as PostgresRefusal {
                throw error
            } catch {
                failure = PostgresFailure.summary(error)
            }
            if ContinuousClock.now - start > timeout { throw PostgresUnreachable(reason: failure) }
            if ContinuousClock.now >= nextWarning {
                logger.warning("Postgres not reachable yet, still trying: start-up waits for it", metadata: ["reason": "\(failure)"])
                nextWarning = ContinuousClock.now + .seconds(30)
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// Connects once outside the pool: `nil` when that worked, else why not; throws when the server
    /// refused the database or the credentials.
    private func probeConnection() async throws(PostgresRefusal) -> String? {
        guard let probe else { return nil }
        do {
            let connection = try await PostgresConnection.connect(configuration: probe, id: 0, logger: logger)
            try? await connection.close()
            return nil
        } catch {
            if let refusal = PostgresRefusal(error) { throw refusal }
            return PostgresFailure.summary(error)
        }
    }
}

/// The server answered and refused: no such database, no such role, a wrong password, or a client
/// address its `pg_hba.conf` rejects. Waiting would not help.
struct PostgresRefusal: Error, CustomStringConvertible {
    var description: String

    init?(_ error: any Error) {
        guard let state = PostgresFailure.sqlState(error), state == "3D000" || state.hasPrefix("28") else { return nil }
        let message = (error as? PSQLError)?.serverInfo?[.message] ?? state
        description =
            "Postgres refused the connection of DATABASE_URL: \(message)"
            + (state == "3D000"
                ? " (create the database, or name PostHog's in DATABASE_URL)" : " (check the user and password of DATABASE_URL)")
    }
}

/// Postgres did not answer within the start-up's wait.
struct PostgresUnreachable: Error, CustomStringConvertible {
    var reason: String
    var description: String { "Postgres not reachable: \(reason)" }
}

extension PostgresRowSequence {
    func consume() async throws {
        for try await _ in self {}
    }
}

/// Text for a `varchar(n)` column, which counts characters (Unicode scalars in UTF-8 databases) and
/// refuses a longer value.
enum PostgresVarchar {
    static func fits(_ text: String, _ characters: Int) -> Bool { text.unicodeScalars.count <= characters }

    /// The first `characters` characters of `text`.
    static func cut(_ text: String, to characters: Int) -> String {
        fits(text, characters) ? text : String(String.UnicodeScalarView(text.unicodeScalars.prefix(characters)))
    }
}

/// Whether a Postgres failure is worth retrying: connection problems, an unavailable server and
/// transaction conflicts are; data and constraint errors are not.
enum PostgresFailure {
    static func isTransient(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else {
            return !(error is CancellationError)
        }
        if let sqlState = error.serverInfo?[.sqlState] {
            return sqlState.hasPrefix("08") || sqlState.hasPrefix("53") || sqlState.hasPrefix("57") || sqlState.hasPrefix("40")
                || sqlState.hasPrefix("58")
        }
        // No server error: the connection failed, closed or timed out.
        return true
    }

    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// A server error as Postgres words it, with the statement's first line (a dead-letter reason); a
    /// connection's failure as its cause; anything else in full.
    static func summary(_ error: any Error) -> String {
        if let error = error as? PSQLError, error.serverInfo == nil, let underlying = error.underlying {
            return "\(error.code): \(underlying)"
        }
        guard let error = error as? PSQLError, let message = error.serverInfo?[.message] else { return String(reflecting: error) }
        var text = message
        if let detail = error.serverInfo?[.detail] { text += " (\(detail))" }
        if let statement = error.query?.sql.split(separator: "\n").first {
            text += " in: \(statement.trimmingCharacters(in: .whitespaces))"
        }
        return text
    }

    static func isUniqueViolation(_ error: any Error) -> Bool { sqlState(error) == "23505" }

    /// A failure that stopped start-up, in an operator's words: a missing table (a database PostHog
    /// never migrated, or the wrong one) says what to do; other database errors as Postgres words them.
    static func startupDescription(_ error: any Error, database: String) -> String {
        if error is PostgresRefusal || error is PostgresUnreachable { return "\(error)" }
        guard sqlState(error) == "42P01", let message = (error as? PSQLError)?.serverInfo?[.message] else { return summary(error) }
        return "Postgres database \"\(database)\" lacks PostHog's tables (\(message)): DATABASE_URL must name PostHog's "
            + "database, after PostHog's migrations have run; for a local or test setup, `plugin-server migrate` creates them"
    }
}
