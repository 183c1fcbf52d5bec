import Foundation
import PluginRuntime
import PostHogEvents
import PostgresNIO

/// Reads the plugin configs in force (plugin-runtime.md §2): enabled, in a team whose organization
/// has plugin access, of a plugin of that organization or a global one; with their attachments.
struct PluginConfigLoader: Sendable {
    let store: PostgresStore
    let baseDirectory: String
    /// Learns plugin names by config id, for the metrics named after plugins.
    var metrics: ServerMetrics? = nil

    func loadDescriptors() async throws -> [PluginConfigDescriptor] {
        let rows = try await store.query(
            """
            SELECT c.id, c.team_id, c.plugin_id, coalesce(p.name, ''), p.organization_id::text, p.is_global, c."order",
                   c.config::text, p.plugin_type, p.url, p.archive, p.source,
                   c.updated_at::text || '|' || p.updated_at::text, p.tag
            FROM posthog_pluginconfig c
            JOIN posthog_plugin p ON p.id = c.plugin_id
            JOIN posthog_team t ON t.id = c.team_id
            JOIN posthog_organization o ON o.id = t.organization_id
            WHERE c.enabled AND o.plugins_access_level > 0 AND (p.organization_id = o.id OR p.is_global)
            """)
        var descriptors: [PluginConfigDescriptor] = []
        for try await row in rows.decode(
            (Int, Int?, Int, String, String, Bool, Int, String, String?, String?, ByteBuffer?, String?, String, String?).self)
        {
            let (id, teamId, pluginId, name, organizationId, isGlobal, order, configText, pluginType, url, archive, source, marker, tag) =
                row
            descriptors.append(
                PluginConfigDescriptor(
                    id: id, teamId: teamId, pluginId: pluginId, pluginName: name, pluginTag: tag, organizationId: organizationId,
                    isGlobal: isGlobal, order: order, config: (try? JSON(parsing: configText).objectValue) ?? JSONObject(),
                    code: code(url: url, archive: archive, pluginType: pluginType, source: source), updatedMarker: marker))
        }
        metrics?.pluginConfigsLoaded(descriptors)
        guard !descriptors.isEmpty else { return [] }
        let attachments = try await store.query(
            """
            SELECT plugin_config_id, key, content_type, file_name, contents FROM posthog_pluginattachment
            WHERE plugin_config_id = ANY(\(descriptors.map(\.id)))
            """)
        var byConfig: [Int: [PluginAttachment]] = [:]
        for try await (configId, key, contentType, fileName, contents) in attachments.decode((Int, String, String, String, ByteBuffer).self)
        {
            byConfig[configId, default: []].append(
                PluginAttachment(key: key, contentType: contentType, fileName: fileName, contents: Array(buffer: contents)))
        }
        for index in descriptors.indices { descriptors[index].attachments = byConfig[descriptors[index].id] ?? [] }
        return descriptors
    }

    /// Where the code comes from, in the original's order of decisions (§3).
    func code(url: String?, archive: ByteBuffer?, pluginType: String?, source: String?) -> PluginCode {
        if let url, url.hasPrefix("file:") {
            let path = String(url.dropFirst("file:".count))
            return .folder(path.hasPrefix("/") ? path : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).standardized.path)
        }
        if let archive { return .archive(Array(buffer: archive)) }
        if pluginType == "source", let source, !source.isEmpty { return .source(source) }
        return .none
    }
}
