import Hummingbird
import Logging
import NIOCore
import Prometheus
import RedisClient
import ServiceLifecycle
import Synchronization

/// The operations endpoint on WEB_HOSTNAME:WEB_PORT (configuration.md §7): `/_health` while the
/// process runs, `/_ready` once Postgres and Redis answer, plugins are loaded and the consumer takes
/// messages, `/metrics` in the Prometheus text format.
struct OperationsServer: Service {
    let hostname: String
    let port: Int
    let readiness: Readiness
    let registry: PrometheusCollectorRegistry
    let logger: Logger

    func run() async throws {
        let router = Router()
        router.get("/_health") { _, _ in Self.json(.ok, #"{"status":"ok"}"#) }
        router.get("/_ready") { _, _ in
            let report = await readiness.check()
            return Self.json(report.isReady ? .ok : .serviceUnavailable, report.json)
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        let application = Application(
            router: router, configuration: .init(address: .hostname(hostname, port: port), serverName: nil), logger: logger)
        try await application.run()
    }

    private static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// What `/_ready` checks: the server's own flags, and a live round trip to Postgres and Redis.
struct Readiness: Sendable {
    struct Report: Sendable {
        var postgres: Bool
        var redis: Bool
        var pluginsLoaded: Bool
        var consuming: Bool

        var isReady: Bool { postgres && redis && pluginsLoaded && consuming }
        var json: String {
            #"{"ready":\#(isReady),"postgres":\#(postgres),"redis":\#(redis),"plugins_loaded":\#(pluginsLoaded),"consuming":\#(consuming)}"#
        }
    }

    let status: ServerStatus
    let postgres: PostgresStore
    let redis: RedisClient
    /// A probe slower than this counts as unreachable.
    var timeout: Duration = .seconds(2)

    func check() async -> Report {
        async let postgresUp = Self.within(timeout) { (try? await postgres.execute("SELECT 1")) != nil }
        async let redisUp = Self.within(timeout) { (try? await redis.ping()) != nil }
        return Report(
            postgres: await postgresUp, redis: await redisUp, pluginsLoaded: status.arePluginsLoaded, consuming: status.isConsuming)
    }

    /// `probe()`, or false when it takes longer than `limit`. Does not wait for a probe that ignores
    /// cancellation (a pool waiting for a connection may).
    static func within(_ limit: Duration, _ probe: @escaping @Sendable () async -> Bool) async -> Bool {
        let once = Once()
        return await withCheckedContinuation { continuation in
            let work = Task {
                let value = await probe()
                if once.claim() { continuation.resume(returning: value) }
            }
            Task {
                try? await Task.sleep(for: limit)
                if once.claim() {
                    work.cancel()
                    continuation.resume(returning: false)
                }
            }
        }
    }
}

/// True for the first caller only.
private final class Once: Sendable {
    private let done = Mutex(false)
    func claim() -> Bool {
        done.withLock { done in
            defer { done = true }
            return !done
        }
    }
}
