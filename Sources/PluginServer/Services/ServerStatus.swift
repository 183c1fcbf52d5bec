import Synchronization

/// What `/_ready` and the staleness check read: whether the server is consuming, and when it last
/// stored an event.
public final class ServerStatus: Sendable {
    private struct State {
        var consuming = false
        var pluginsLoaded = false
        var lastIngestion: ContinuousClock.Instant = .now
        var ingested = 0
    }
    private let state = Mutex(State())

    public init() {}

    func consuming(_ value: Bool) { state.withLock { $0.consuming = value } }
    func pluginsLoaded(_ value: Bool) { state.withLock { $0.pluginsLoaded = value } }
    func recordIngestion() {
        state.withLock {
            $0.lastIngestion = .now
            $0.ingested += 1
        }
    }

    public var isConsuming: Bool { state.withLock { $0.consuming } }
    public var arePluginsLoaded: Bool { state.withLock { $0.pluginsLoaded } }
    public var ingestedCount: Int { state.withLock { $0.ingested } }
    public var sinceLastIngestion: Duration { state.withLock { .now - $0.lastIngestion } }
}
