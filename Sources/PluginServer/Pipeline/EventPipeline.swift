import Foundation
import PluginRuntime
import PostHogEvents

/// The per-event flow between a queue and the stores (ingestion.md §2): the team's processEvent
/// chain (skipped for `$snapshot`), ingestion, then onEvent or onSnapshot.
public final class EventPipeline: Sendable {
    let ingester: EventIngester
    let plugins: PluginRuntime?
    let metrics: ServerMetrics?

    init(ingester: EventIngester, plugins: PluginRuntime?, metrics: ServerMetrics? = nil) {
        self.ingester = ingester
        self.plugins = plugins
        self.metrics = metrics
    }

    public func process(_ event: JSONObject, messageKey: UUID?) async throws(IngestionError) -> IngestionOutcome {
        let start = ContinuousClock.now
        defer { metrics?.pipelineStep(.eachEvent, seconds: (ContinuousClock.now - start).inSeconds) }
        var event = event
        let isSnapshot = event["event"] == .string("$snapshot")
        let teamId = event["team_id"]?.intValue
        if let plugins, let teamId, !isSnapshot {
            let chainStart = ContinuousClock.now
            let result = await plugins.processEventChain(teamId: teamId, event: .object(event))
            metrics?.pipelineStep(.processEventChain, seconds: (ContinuousClock.now - chainStart).inSeconds)
            switch result {
            case .dropped:
                return .droppedByPlugin
            case .event(let result):
                guard let object = result.objectValue else { return .droppedByPlugin }
                event = object
            }
        }
        let ingestionStart = ContinuousClock.now
        let outcome: IngestionOutcome
        do {
            outcome = try await ingester.ingest(event, messageKey: messageKey)
        } catch  where NulCharacters.refused(error) {
            event = NulCharacters.replaced(in: event)
            outcome = try await ingester.ingest(event, messageKey: messageKey)
        }
        metrics?.pipelineStep(.ingestion, seconds: (ContinuousClock.now - ingestionStart).inSeconds)
        // A redelivered message was stored before, and its onEvent ran then: not again.
        if let plugins, let teamId, case .stored = outcome {
            let fanOutStart = ContinuousClock.now
            if isSnapshot {
                await plugins.onSnapshot(teamId: teamId, event: .object(event))
            } else {
                await plugins.onEvent(teamId: teamId, event: .object(event))
            }
            metrics?.pipelineStep(isSnapshot ? .onSnapshot : .onEvent, seconds: (ContinuousClock.now - fanOutStart).inSeconds)
        }
        return outcome
    }
}
