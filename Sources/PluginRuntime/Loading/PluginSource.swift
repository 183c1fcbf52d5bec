import Foundation
import PostHogEvents
import ZIPFoundation

/// A config's code as read per reference §3: the main file's text, plus every file of the archive or
/// folder when the main file imports relative paths and must be bundled.
struct PluginSource: Sendable {
    var main: String
    var mainPath: String
    var files: [String: [UInt8]]?

    /// Relative imports mean a multi-file plugin (the original rejected these; we bundle them).
    var needsBundling: Bool {
        files != nil && main.range(of: #"(require\s*\(\s*|from\s*|import\s*)['"]\.\.?/"#, options: .regularExpression) != nil
    }

    static func resolve(_ descriptor: PluginConfigDescriptor) throws(PluginLoadError) -> PluginSource {
        let digest = descriptor.digest
        switch descriptor.code {
        case .source(let text) where !text.isEmpty:
            return PluginSource(main: text, mainPath: "index.ts", files: nil)
        case .source, .none:
            throw stringError("Tried using undownloaded remote \(digest), which is not supported!")
        case .folder(let path):
            return try fromFolder(path, digest: digest)
        case .archive(let bytes):
            guard let files = readZip(bytes) ?? readTarGz(bytes) else {
                throw PluginLoadError(message: "Could not read archive as .zip or .tgz", isSyntaxError: false)
            }
            let rooted = stripRoot(files)
            var main = "index.js"
            if let json = rooted["plugin.json"] {
                guard let parsed = try? JSON(parsing: json), case .object(let object) = parsed else {
                    throw stringError("Can not load plugin.json for \(digest)")
                }
                if let value = object["main"], value.isTruthy, let name = value.stringValue { main = name }
            }
            guard let text = rooted[normalize(main)] else { throw stringError("Could not load index.js for \(digest)!") }
            return PluginSource(main: String(decoding: text, as: UTF8.self), mainPath: normalize(main), files: rooted)
        }
    }

    private static func stringError(_ message: String) -> PluginLoadError {
        PluginLoadError(message: message, isSyntaxError: false, isStringError: true)
    }

    private static func normalize(_ path: String) -> String {
        path.hasPrefix("./") ? String(path.dropFirst(2)) : path
    }

    private static func fromFolder(_ path: String, digest: String) throws(PluginLoadError) -> PluginSource {
        let folder = URL(fileURLWithPath: path)
        var main: String?
        let configPath = folder.appendingPathComponent("plugin.json")
        if FileManager.default.fileExists(atPath: configPath.path) {
            guard let data = try? Data(contentsOf: configPath), let parsed = try? JSON(parsing: Array(data)),
                case .object(let object) = parsed
            else { throw stringError("Could not load posthog config at \"\(configPath.path)\" for \(digest)") }
            if let value = object["main"], value.isTruthy { main = value.stringValue }
        }
        let mainPath = normalize(main ?? "index.js")
        guard let data = try? Data(contentsOf: folder.appendingPathComponent(mainPath)) else {
            throw stringError("No \"main\" config key or \"index.js\" file found for \(digest)")
        }
        var files: [String: [UInt8]] = [:]
        if let enumerator = FileManager.default.enumerator(atPath: folder.path) {
            while let relative = enumerator.nextObject() as? String {
                if relative.hasPrefix("node_modules") || relative.hasPrefix(".git") { continue }
                let url = folder.appendingPathComponent(relative)
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                    let contents = try? Data(contentsOf: url)
                {
                    files[relative] = Array(contents)
                }
            }
        }
        return PluginSource(main: String(decoding: data, as: UTF8.self), mainPath: mainPath, files: files)
    }

    /// Removes the single common top-level folder, if there is one (reference §3, recommended rule).
    static func stripRoot(_ files: [String: [UInt8]]) -> [String: [UInt8]] {
        let tops = Set(files.keys.map { $0.split(separator: "/", maxSplits: 1).first.map(String.init) ?? "" })
        guard tops.count == 1, let top = tops.first, files.keys.allSatisfy({ $0.hasPrefix(top + "/") }) else { return files }
        var result: [String: [UInt8]] = [:]
        for (path, contents) in files { result[String(path.dropFirst(top.count + 1))] = contents }
        return result
    }

    static func readZip(_ bytes: [UInt8]) -> [String: [UInt8]]? {
        guard bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B,
            let archive = try? Archive(data: Data(bytes), accessMode: .read, pathEncoding: nil)
        else { return nil }
        var files: [String: [UInt8]] = [:]
        for entry in archive where entry.type == .file {
            var contents = Data()
            guard (try? archive.extract(entry, consumer: { contents.append($0) })) != nil else { return nil }
            files[entry.path] = Array(contents)
        }
        return files
    }

    static func readTarGz(_ bytes: [UInt8]) -> [String: [UInt8]]? {
        guard case .success(let tar) = NativeZlib.inflate(bytes, windowBits: 31) else { return nil }
        var files: [String: [UInt8]] = [:]
        var offset = 0
        var longName: String?
        while offset + 512 <= tar.count {
            let header = tar[offset..<offset + 512]
            if header.allSatisfy({ $0 == 0 }) { break }
            func field(_ start: Int, _ length: Int) -> String {
                let slice = tar[(offset + start)..<(offset + start + length)]
                return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let size = Int(field(124, 12).trimmingCharacters(in: .whitespaces), radix: 8) else { return nil }
            let type = tar[offset + 156]
            let prefix = field(345, 155)
            var name = prefix.isEmpty ? field(0, 100) : prefix + "/" + field(0, 100)
            let dataStart = offset + 512
            guard dataStart + size <= tar.count else { return nil }
            let data = Array(tar[dataStart..<dataStart + size])
            if let pending = longName {
                name = pending
                longName = nil
            }
            switch type {
            case 0x4C:  // GNU long name
                longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
            case 0x30, 0:  // regular file
                files[name] = data
            default:
                break
            }
            offset = dataStart + (size + 511) / 512 * 512
        }
        return files.isEmpty ? nil : files
    }
}

extension PluginCode {
    /// The `plugin.json` object of a folder or an archive (read as `PluginSource` reads one), or nil when
    /// there is none or it is not a JSON object. For tools showing a plugin's name and config defaults.
    package var manifest: JSONObject? {
        let bytes: [UInt8]?
        switch self {
        case .folder(let path):
            bytes = FileManager.default.contents(atPath: URL(fileURLWithPath: path).appendingPathComponent("plugin.json").path)
                .map(Array.init)
        case .archive(let archive):
            bytes = (PluginSource.readZip(archive) ?? PluginSource.readTarGz(archive)).map(PluginSource.stripRoot)?["plugin.json"]
        case .source, .none:
            bytes = nil
        }
        guard let bytes, let parsed = try? JSON(parsing: bytes) else { return nil }
        return parsed.objectValue
    }
}
