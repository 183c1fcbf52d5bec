import Foundation
import PluginRuntime
import PostHogEvents

/// Builds the one plugin config a local run uses from a path on disk, the `--config` pairs and the
/// `--attachment` files; the runtime then reads the code exactly as the server reads a plugin's.
enum RunnerPluginLoader {
    static func descriptor(_ options: RunnerOptions) throws(RunnerError) -> PluginConfigDescriptor {
        let url = URL(fileURLWithPath: options.pluginPath).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw RunnerError("No plugin at \(options.pluginPath)")
        }
        var name = url.deletingPathExtension().lastPathComponent
        var config: JSONObject = [:]
        let code: PluginCode
        if isDirectory.boolValue {
            code = .folder(url.path)
        } else {
            guard let data = FileManager.default.contents(atPath: url.path) else { throw RunnerError("Cannot read \(options.pluginPath)") }
            let bytes = Array(data)
            let isZip = bytes.starts(with: [0x50, 0x4B])
            let isGzip = bytes.starts(with: [0x1F, 0x8B])
            if isZip || isGzip {
                code = .archive(bytes)
                if name.hasSuffix(".tar") { name = String(name.dropLast(4)) }
            } else {
                code = .source(String(decoding: bytes, as: UTF8.self))
            }
        }
        // plugin.json's name and config defaults, as PostHog's UI fills them in when the plugin is installed.
        if let manifest = code.manifest {
            if let declared = manifest["name"]?.stringValue, !declared.isEmpty { name = declared }
            for field in manifest["config"]?.arrayValue ?? [] {
                guard let key = field["key"]?.stringValue, let value = field["default"], !value.isNull else { continue }
                config[key] = value
            }
        }
        for (key, value) in options.config { config[key] = .string(value) }
        var attachments: [PluginAttachment] = []
        for (key, path) in options.attachments {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw RunnerError("Cannot read attachment \(key) at \(path)")
            }
            let fileName = URL(fileURLWithPath: path).lastPathComponent
            attachments.append(
                PluginAttachment(key: key, contentType: contentType(fileName), fileName: fileName, contents: Array(data)))
        }
        return PluginConfigDescriptor(
            id: options.pluginConfigId, teamId: options.teamId, pluginId: options.pluginId, pluginName: name, config: config,
            attachments: attachments, code: code)
    }

    private static func contentType(_ fileName: String) -> String {
        switch URL(fileURLWithPath: fileName).pathExtension.lowercased() {
        case "json": return "application/json"
        case "txt", "csv": return "text/plain"
        default: return "application/octet-stream"
        }
    }
}
