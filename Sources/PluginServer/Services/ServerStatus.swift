import Foundation
import Synchronization

/// What `/_ready` and the staleness check read: whether the server is consuming, and when it last
/// stored an event.
public final class ServerStatus: Sendable {
    private struct State {
        var consuming = false
        var pluginsLoaded = false
        /// Both clocks: the monotonic one to measure staleness, the wall clock to report it.
        var lastIngestion: (instant: ContinuousClock.Instant, date: Date)?
        var ingested = 0
    }
    private let state = Mutex(State())

    public init() {}

    func consuming(_ value: Bool) { state.withLock { $0.consuming = value } }
    func pluginsLoaded(_ value: Bool) { state.withLock { $0.pluginsLoaded = value } }
    func recordIngestion() {
        state.withLock {
            $0.lastIngestion = (.now, Date())
            $0.ingested += 1
        }
    }

    public var isConsuming: Bool { state.withLock { $0.consuming } }
    public var arePluginsLoaded: Bool { state.withLock { $0.pluginsLoaded } }
    public var ingestedCount: Int { state.withLock { $0.ingested } }
    /// Nil until the first event is stored.
    public var lastIngestion: (elapsed: Duration, date: Date)? {
        state.withLock { state in state.lastIngestion.map { (.now - $0.instant, $0.date) } }
    }
}
