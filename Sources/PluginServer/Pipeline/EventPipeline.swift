import Foundation
import PostHogEvents

/// The per-event flow between a queue and the stores: plugins' processEvent chain, ingestion, then
/// onEvent/onSnapshot (ingestion.md §2).
public final class EventPipeline: Sendable {
    let ingester: EventIngester

    init(ingester: EventIngester) {
        self.ingester = ingester
    }

    public func process(_ event: JSONObject, messageKey: UUID?) async throws(IngestionError) -> IngestionOutcome {
        try await ingester.ingest(event, messageKey: messageKey)
    }
}
