import Logging
import PostHogEvents
import RedisClient

/// Publishes Celery tasks to Redis lists in the original's layout (wire-formats.md §2): webhooks to
/// CELERY_DEFAULT_QUEUE, plugin captures to PLUGINS_CELERY_QUEUE.
struct CeleryTaskPublisher: WebhookSink {
    static let webhookTask = "posthog.tasks.webhooks.post_event_to_webhook"
    static let enterpriseWebhookTask = "ee.tasks.webhooks_ee.post_event_to_webhook_ee"

    let redis: RedisClient
    let defaultQueue: String
    let logger: Logger
    var metrics: ServerMetrics? = nil

    func publish(task: String, args: [JSON], queue: String) async throws {
        let message = CeleryEnvelope.encode(task: task, args: args, queue: queue)
        _ = try await redis.send("LPUSH", [RedisArgument(queue), RedisArgument(message)])
    }

    /// Fire-and-forget as in the original, but retried a few times before it is logged as lost.
    func publishEventWebhook(eventId: Int, siteURL: JSON) async {
        await publishWebhook(task: Self.webhookTask, args: [.number(Double(eventId)), siteURL], eventId: "\(eventId)")
    }

    func publishEnterpriseEventWebhook(event: JSON, teamId: Int, siteURL: JSON) async {
        await publishWebhook(
            task: Self.enterpriseWebhookTask, args: [event, .number(Double(teamId)), siteURL], eventId: event["uuid"]?.stringValue ?? "")
    }

    private func publishWebhook(task: String, args: [JSON], eventId: String) async {
        for attempt in 1...3 {
            do {
                try await publish(task: task, args: args, queue: defaultQueue)
                metrics?.webhookTaskSent()
                return
            } catch {
                if attempt == 3 {
                    logger.error(
                        "Webhook task not published", metadata: ["event_id": "\(eventId)", "error": .failure(error)])
                } else {
                    try? await Task.sleep(for: .milliseconds(200 * attempt))
                }
            }
        }
    }
}
