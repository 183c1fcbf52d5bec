import Foundation
import PostHogEvents

/// Writes what the runtime says about a config: the `posthog_pluginconfig.error` record plus its
/// PLUGIN log entry (reference §4.1), and the SYSTEM log lines (§4.2).
struct PluginErrorReporter: Sendable {
    let host: any PluginHost
    let instanceId: String

    func recordError(_ descriptor: PluginConfigDescriptor, _ error: JSThrown, event: JSON?) async {
        // A thrown non-Error (`throw 'oops'`) has no name: its record is its `String(value)` and the event.
        await recordError(
            descriptor, name: error.isErrorObject ? error.name : nil, message: error.message, stack: error.stack, event: event)
    }

    func recordError(_ descriptor: PluginConfigDescriptor, name: String?, message: String, stack: String?, event: JSON?) async {
        let now = Date()
        let record = PluginErrorRecord(message: message, time: Self.isoTime(now), name: name, stack: stack, event: event)
        await host.recordError(record, config: descriptor.ref)
        await host.log(
            PluginLogEntry(
                config: descriptor.ref, source: .plugin, type: .error, message: message, timestamp: now, instanceId: instanceId))
    }

    func systemLog(_ descriptor: PluginConfigDescriptor, _ type: PluginLogEntry.Level, _ message: String) async {
        await host.log(
            PluginLogEntry(
                config: descriptor.ref, source: .system, type: type, message: message, timestamp: Date(), instanceId: instanceId))
    }

    static func isoTime(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}

/// A loaded config as the event path sees it: which sandbox on each worker, what it exports.
struct LoadedPlugin: Sendable {
    var descriptor: PluginConfigDescriptor
    var capabilities: PluginCapabilities
    var key: SandboxKey
}

/// A sandbox's name on every worker: the config and the load that built it, so a reload can build the
/// new sandbox while the old one still serves events, then swap (reference §11.2).
struct SandboxKey: Sendable, Hashable {
    var configId: Int
    var generation: Int
}
