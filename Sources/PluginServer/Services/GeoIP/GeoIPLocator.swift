import GeoIP
import PluginRuntime
import PostHogEvents
import ServiceLifecycle
import Synchronization

/// What `meta.geoip.locate` reads: the open GeoIP database, replaced whole when a fresher one has
/// been opened, or the reason there is none.
final class GeoIPLocator: Sendable {
    /// The original's rejection for DISABLE_MMDB and for a server that could not get a database
    /// (`MMDBRequestStatus.ServiceUnavailable`, plugin-runtime.md §8.5).
    static let unavailableMessage = "IP location capabilities are not available in this PostHog instance!"

    private enum State {
        case disabled
        case preparing
        case unavailable
        case ready(MaxMindDatabase, fileName: String)
    }

    private let state: Mutex<State>

    init(enabled: Bool) {
        state = Mutex(enabled ? .preparing : .disabled)
    }

    /// The City response for `ip`, `nil` for an unknown or invalid address.
    func locate(_ ip: String) throws(PluginHostError) -> JSON? {
        guard let database else { throw PluginHostError(Self.unavailableMessage) }
        return database.city(ip)
    }

    var database: MaxMindDatabase? {
        state.withLock { if case .ready(let database, _) = $0 { database } else { nil } }
    }

    /// The attachment file name of the database being served.
    var fileName: String? {
        state.withLock { if case .ready(_, let fileName) = $0 { fileName } else { nil } }
    }

    var isPreparing: Bool { state.withLock { if case .preparing = $0 { true } else { false } } }

    /// Serves `database` from now on; lookups already running finish on the one they hold.
    func serve(_ database: MaxMindDatabase, fileName: String) {
        state.withLock { $0 = .ready(database, fileName: fileName) }
    }

    /// Ends the start-up preparation without a database; a database already served stays.
    func finishPreparing() {
        state.withLock { if case .preparing = $0 { $0 = .unavailable } }
    }

    /// Returns once the start-up preparation is over, whatever its outcome, as the original started
    /// its workers only after `prepareMmdb`; or at shutdown, which reaches the GeoIP service only
    /// after the services waiting here have stopped.
    func waitUntilPrepared() async {
        while isPreparing && !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
