import Foundation
import PostHogEvents

/// Queue messages laid out as Celery 5 writes them for PostHog's `process_event_with_plugins`.
enum CeleryMessages {
    static func processEvent(
        distinctId: JSON = "my-id", ip: JSON = "127.0.0.1", siteURL: JSON = "http://localhost:8000", data: JSON, teamId: Int = 2,
        now: String = EventTimestamp.now().isoString, sentAt: JSON? = nil
    ) -> [UInt8] {
        let args: [JSON] = [distinctId, ip, siteURL, data, .number(Double(teamId)), .string(now), sentAt ?? .string(now)]
        return envelope(args: args)
    }

    static func envelope(task: String = CeleryEnvelope.processEventTask, args: [JSON], kwargs: JSON = [:]) -> [UInt8] {
        let id = UUID().uuidString.lowercased()
        let body = JSON.array([.array(args), kwargs, ["callbacks": nil, "errbacks": nil, "chain": nil, "chord": nil]])
        let envelope: JSON = [
            "body": .string(Data(body.jsonBytes).base64EncodedString()), "content-encoding": "utf-8", "content-type": "application/json",
            "headers": ["lang": "py", "task": .string(task), "id": .string(id), "root_id": .string(id), "retries": 0],
            "properties": [
                "correlation_id": .string(id), "reply_to": "", "delivery_mode": 2,
                "delivery_info": ["exchange": "", "routing_key": "posthog-plugins"],
                "priority": 0, "body_encoding": "base64", "delivery_tag": .string(UUID().uuidString.lowercased()),
            ],
        ]
        return envelope.jsonBytes
    }
}
