import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PluginRuntime
import PostHogEvents
import PostgresNIO

/// The connections plugins open with the `pg` library (reference §6.3, 0.21.5), held by the host: plugin
/// code only gets an id. A plugin may only connect to a host its own config names (one of its config
/// values), so it cannot reach the server's database or other internal addresses it was not given.
actor PluginPostgresConnections {
    private var connections: [Int: (configId: Int, connection: PostgresConnection)] = [:]
    private var nextId = 0
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    struct Target: Equatable {
        var host: String
        var port: Int
        var user: String
        var password: String?
        var database: String?
        var ssl: Bool
        /// False for node-postgres' `ssl: {rejectUnauthorized: false}`.
        var verifyCertificate = true
    }

    /// node-postgres' parameters: a `connectionString` (postgres://user:password@host:port/database) or
    /// `host`, `port`, `user`, `password`, `database`, `ssl`; explicit fields win.
    static func target(_ parameters: JSONObject) throws -> Target {
        var target = Target(host: "localhost", port: 5432, user: "postgres", password: nil, database: nil, ssl: false)
        if let text = parameters["connectionString"]?.stringValue {
            guard let url = URLComponents(string: text), let host = url.host, !host.isEmpty else {
                throw PluginHostError("pg: invalid connectionString")
            }
            target.host = host
            if let port = url.port { target.port = port }
            if let user = url.user { target.user = user.removingPercentEncoding ?? user }
            target.password = url.password?.removingPercentEncoding ?? url.password
            let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
            if !path.isEmpty { target.database = path }
            if let mode = url.queryItems?.first(where: { $0.name == "sslmode" || $0.name == "ssl" })?.value {
                target.ssl = !["disable", "false", "0"].contains(mode)
            }
        }
        if let host = parameters["host"]?.stringValue { target.host = host }
        if let port = parameters["port"]?.numberValue, port > 0, port < 65536 { target.port = Int(port) }
        if let user = parameters["user"]?.stringValue { target.user = user }
        if let password = parameters["password"]?.stringValue { target.password = password }
        if let database = parameters["database"]?.stringValue { target.database = database }
        if parameters["ssl"] == .bool(true) { target.ssl = true }
        if let ssl = parameters["ssl"]?.objectValue {
            target.ssl = true
            target.verifyCertificate = ssl["rejectUnauthorized"] != .bool(false)
        }
        return target
    }

    /// True when `host` is a value of the plugin's config, alone or inside a connection string.
    static func configNames(_ host: String, in config: JSONObject) -> Bool {
        config.entries.map(\.value).contains { value in
            guard let text = value.stringValue?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return false }
            if text.caseInsensitiveCompare(host) == .orderedSame { return true }
            return URLComponents(string: text)?.host?.caseInsensitiveCompare(host) == .orderedSame
        }
    }

    func connect(config: PluginConfigRef, pluginConfig: JSONObject, parameters: JSONObject) async throws -> Int {
        let target = try Self.target(parameters)
        guard Self.configNames(target.host, in: pluginConfig) else {
            throw PluginHostError(
                "pg: host \(target.host) is not named in the plugin's config; plugins may only connect to databases their config names")
        }
        let tls: PostgresConnection.Configuration.TLS
        if target.ssl {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if !target.verifyCertificate { configuration.certificateVerification = .none }
            tls = .require(try NIOSSLContext(configuration: configuration))
        } else {
            tls = .disable
        }
        let configuration = PostgresConnection.Configuration(
            host: target.host, port: target.port, username: target.user, password: target.password, database: target.database, tls: tls)
        nextId += 1
        let id = nextId
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
        } catch {
            throw Self.nodePostgresError(error, target: target)
        }
        connections[id] = (config.id, connection)
        return id
    }

    func query(_ id: Int, config: PluginConfigRef, text: String, parameters: [String?]) async throws -> JSON {
        guard let entry = connections[id], entry.configId == config.id else { throw PluginHostError("pg: the client is not connected") }
        // Text values with unspecified types: the server infers them, as with node-postgres.
        var binds = PostgresBindings(capacity: parameters.count)
        for value in parameters {
            if let value { binds.append(UntypedText(value: value)) } else { binds.appendNull() }
        }
        let result: PostgresQueryResult
        do {
            result = try await entry.connection.query(PostgresQuery(unsafeSQL: text, binds: binds), logger: logger).get()
        } catch {
            throw Self.nodePostgresError(error, target: nil)
        }
        var rows: [JSON] = []
        var fields: [JSON] = []
        for (index, row) in result.rows.enumerated() {
            var object: JSONObject = [:]
            for cell in row {
                object[cell.columnName] = Self.value(cell)
                if index == 0 { fields.append(["name": .string(cell.columnName), "dataTypeID": .number(Double(cell.dataType.rawValue))]) }
            }
            rows.append(.object(object))
        }
        let command = result.metadata.command
        let count = result.metadata.rows ?? rows.count
        return ["rows": .array(rows), "rowCount": .number(Double(count)), "command": .string(command), "fields": .array(fields)]
    }

    func end(_ id: Int, config: PluginConfigRef) async {
        guard let entry = connections[id], entry.configId == config.id else { return }
        connections[id] = nil
        try? await entry.connection.close()
    }

    func closeAll() async {
        let all = connections.values
        connections = [:]
        for entry in all { try? await entry.connection.close() }
    }

    /// The error node-postgres gives: the server's message with its fields (`code` the SQLSTATE, and
    /// `name` "error", as its DatabaseError), or Node's wording of a failed connection with its `code`
    /// (`connect ECONNREFUSED 127.0.0.1:5432`); never postgres-nio's generic description.
    static func nodePostgresError(_ error: any Error, target: Target?) -> PluginHostError {
        guard let error = error as? PSQLError else { return PluginHostError(String(reflecting: error)) }
        if let info = error.serverInfo {
            let fields: [(String, PSQLError.ServerInfo.Field)] = [
                ("severity", .severity), ("code", .sqlState), ("detail", .detail), ("hint", .hint), ("position", .position),
                ("internalPosition", .internalPosition), ("internalQuery", .internalQuery), ("where", .locationContext),
                ("schema", .schemaName), ("table", .tableName), ("column", .columnName), ("dataType", .dataTypeName),
                ("constraint", .constraintName), ("file", .file), ("line", .line), ("routine", .routine),
            ]
            var properties: JSONObject = ["name": "error"]
            for (name, field) in fields { if let value = info[field] { properties[name] = .string(value) } }
            return PluginHostError(info[.message] ?? "\(error.code)", properties: properties)
        }
        if let underlying = error.underlying, let target,
            let url = URL(string: "postgres://\(target.host.contains(":") ? "[\(target.host)]" : target.host):\(target.port)"),
            let reason = PluginFetcher.nodeReason(underlying, url: url),
            let code = reason.split(separator: " ").dropFirst().first
        {
            return PluginHostError(reason, properties: ["code": .string(String(code)), "errno": .string(String(code))])
        }
        if let underlying = error.underlying, let reason = PluginFetcher.tlsReason(underlying, host: target?.host ?? "") {
            return PluginHostError(reason)
        }
        switch error.code {
        case .sslUnsupported: return PluginHostError("The server does not support SSL connections")
        case .serverClosedConnection: return PluginHostError("Connection terminated unexpectedly")
        case .clientClosedConnection: return PluginHostError("Client was closed and is not queryable")
        default: break
        }
        let reason = error.underlying.map { String(describing: $0) } ?? "\(error.code)"
        return PluginHostError("pg: \(error.code): \(reason)")
    }

    /// Column values as node-postgres returns them: bigint and numeric as strings, timestamps as ISO
    /// text (JSON cannot carry a Date: the sandbox makes Dates of them by the field's type), json
    /// parsed, one-dimensional arrays of these as arrays.
    static func value(_ cell: PostgresCell) -> JSON {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .bool: return (try? cell.decode(Bool.self)).map(JSON.bool) ?? .null
        case .int2, .int4: return (try? cell.decode(Int.self)).map { .number(Double($0)) } ?? .null
        case .int8: return (try? cell.decode(Int64.self)).map { .string(String($0)) } ?? .null
        case .float4, .float8: return (try? cell.decode(Double.self)).map(JSON.number) ?? .null
        case .numeric: return (try? cell.decode(Decimal.self)).map { .string("\($0)") } ?? .null
        case .timestamp, .timestamptz, .date:
            return (try? cell.decode(Date.self)).map {
                .string(EventTimestamp(millisecondsSince1970: Int64($0.timeIntervalSince1970 * 1000)).isoString)
            } ?? .null
        case .uuid: return (try? cell.decode(UUID.self)).map { .string($0.uuidString.lowercased()) } ?? .null
        case .boolArray: return (try? cell.decode([Bool].self)).map { .array($0.map(JSON.bool)) } ?? .null
        case .int2Array, .int4Array: return (try? cell.decode([Int].self)).map { .array($0.map { .number(Double($0)) }) } ?? .null
        case .int8Array: return (try? cell.decode([Int64].self)).map { .array($0.map { .string(String($0)) }) } ?? .null
        case .float4Array, .float8Array: return (try? cell.decode([Double].self)).map { .array($0.map(JSON.number)) } ?? .null
        case .textArray, .varcharArray, .nameArray, .bpcharArray:
            return (try? cell.decode([String].self)).map { .array($0.map(JSON.string)) } ?? .null
        case .uuidArray: return (try? cell.decode([UUID].self)).map { .array($0.map { .string($0.uuidString.lowercased()) }) } ?? .null
        case .json, .jsonb:
            guard var bytes = cell.bytes else { return .null }
            if cell.dataType == .jsonb, cell.format == .binary { bytes.moveReaderIndex(forwardBy: 1) }
            return (try? JSON(parsing: Array(buffer: bytes))) ?? .null
        default:
            if let text = try? cell.decode(String.self) { return .string(text) }
            if cell.format == .text, let bytes = cell.bytes { return .string(String(buffer: bytes)) }
            return .null
        }
    }
}

/// A query parameter as text with its type left unspecified (OID 0): Postgres infers it from the
/// statement, as it does for node-postgres' parameters.
private struct UntypedText: PostgresDynamicTypeEncodable {
    let value: String
    var psqlType: PostgresDataType { PostgresDataType(0) }
    var psqlFormat: PostgresFormat { .text }

    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeString(value)
    }
}
