import Foundation
import PluginRuntime
import PostHogEvents

/// The per-event flow between a queue and the stores (ingestion.md §2): the team's processEvent
/// chain (skipped for `$snapshot`), ingestion, then onEvent or onSnapshot.
public final class EventPipeline: Sendable {
    let ingester: EventIngester
    let plugins: PluginRuntime?

    init(ingester: EventIngester, plugins: PluginRuntime?) {
        self.ingester = ingester
        self.plugins = plugins
    }

    public func process(_ event: JSONObject, messageKey: UUID?) async throws(IngestionError) -> IngestionOutcome {
        var event = event
        let isSnapshot = event["event"] == .string("$snapshot")
        let teamId = event["team_id"]?.intValue
        if let plugins, let teamId, !isSnapshot {
            switch await plugins.processEventChain(teamId: teamId, event: .object(event)) {
            case .dropped:
                return .droppedByPlugin
            case .event(let result):
                guard let object = result.objectValue else { return .droppedByPlugin }
                event = object
            }
        }
        let outcome = try await ingester.ingest(event, messageKey: messageKey)
        // A redelivered message was stored before, and its onEvent ran then: not again.
        if let plugins, let teamId, case .stored = outcome {
            if isSnapshot {
                await plugins.onSnapshot(teamId: teamId, event: .object(event))
            } else {
                await plugins.onEvent(teamId: teamId, event: .object(event))
            }
        }
        return outcome
    }
}
