import Foundation
import PostHogEvents
import Testing

/// Plugin code from every place the original read it (plugin-runtime.md §3), through posthog_plugin
/// rows and the real binary: zip and tgz archives (one top-level folder, plugin.json `main`), a
/// multi-file TypeScript archive bundled by esbuild, and a `file:` plugin under BASE_DIR.
@Suite(.serialized) struct PluginSourcesTests {
    /// Writes `files` under `<root>/<folder>/` and archives that folder with Python's shutil
    /// (`zip` or `gztar`), like GitHub's archive downloads PostHog stores.
    static func archive(_ files: [String: String], folder: String, format: String) throws -> [UInt8] {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("archive"))
        try writeFolder(files, at: root.appendingPathComponent(folder))
        let base = root.appendingPathComponent("out").path
        let path = try runCommand(
            "python3",
            [
                "-c",
                "import shutil, sys; print(shutil.make_archive(sys.argv[1], sys.argv[2], root_dir=sys.argv[3], base_dir=sys.argv[4]))",
                base, format, root.path, folder,
            ]
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        defer { try? FileManager.default.removeItem(at: root) }
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func writeFolder(_ files: [String: String], at folder: URL) throws {
        for (path, text) in files {
            let url = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
    }

    /// Inserts a plugin whose code is an archive or a URL, and a config of it for team 2.
    static func installPlugin(_ database: TestDatabase, name: String, order: Int, url: String, archive: [UInt8]?) throws -> Int {
        let archiveSQL = archive.map { "decode('\($0.map { String(format: "%02x", $0) }.joined())', 'hex')" } ?? "NULL"
        let pluginType = url.hasPrefix("file:") ? "local" : "custom"
        let pluginId =
            try database.scalar(
                """
                INSERT INTO posthog_plugin (name, description, url, config_schema, tag, archive, from_json, from_web, error, plugin_type, source,
                    organization_id, created_at, updated_at, is_global, is_preinstalled)
                VALUES ('\(name)', '', '\(url)', '{}', 'v1', \(archiveSQL), true, false, NULL, '\(pluginType)', NULL,
                    'ca30f2ec-e9a4-4001-bf27-3ef194086068', now(), now(), false, false)
                RETURNING id
                """)?.intValue ?? -1
        return try database.scalar(
            """
            INSERT INTO posthog_pluginconfig (enabled, "order", config, error, plugin_id, team_id, created_at, updated_at)
            VALUES (true, \(order), '{"suffix": "!"}', NULL, \(pluginId), 2, now(), now()) RETURNING id
            """)?.intValue ?? -1
    }

    @Test("zip, tgz, multi-file TypeScript and file: plugins load from the database and run in order")
    func archivesAndFolders() async throws {
        let zip = try Self.archive(
            [
                "plugin.json": #"{"name": "zipped", "main": "src/index.ts"}"#,
                "src/index.ts": """
                import { greet } from './lib/greet'
                import { ORDER } from './lib/constants'
                export function processEvent(event, { config }) {
                    event.properties.zip = greet('zip') + config.suffix
                    event.properties.order = [ORDER]
                    return event
                }
                """,
                "src/lib/greet.ts": "export function greet(name: string): string { return `hello ${name}` }",
                "src/lib/constants.ts": "export const ORDER: string = 'zip'",
            ], folder: "posthog-zipped-plugin-abc123", format: "zip")
        let tgz = try Self.archive(
            [
                "plugin.json": #"{"name": "tarred"}"#,
                "index.js":
                    "function processEvent(event) { event.properties.tgz = true; event.properties.order.push('tgz'); return event }",
            ], folder: "package", format: "gztar")
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("base"))
        try Self.writeFolder(
            [
                "plugin.json": #"{"name": "local", "main": "main.js"}"#,
                "main.js":
                    "exports.processEvent = function (event) { event.properties.local = true; event.properties.order.push('file'); return event }",
            ], at: base.appendingPathComponent("plugins/local-plugin"))
        defer { try? FileManager.default.removeItem(at: base) }

        var configs: [String: Int] = [:]
        let harness = try await IngestionHarness.start(environment: ["BASE_DIR": base.path]) { database in
            configs["zip"] = try Self.installPlugin(
                database, name: "zipped", order: 1, url: "https://github.com/example/zipped", archive: zip)
            // Like an npm tarball: everything under `package/`.
            configs["tgz"] = try Self.installPlugin(
                database, name: "tarred", order: 2, url: "https://www.npmjs.com/package/tarred", archive: tgz)
            configs["file"] = try Self.installPlugin(database, name: "local", order: 3, url: "file:plugins/local-plugin", archive: nil)
        }
        try await harness.send(PluginPipelineTests.event("sourced"))
        let properties = try #require(try harness.events().first?["properties"])
        #expect(properties["zip"] == "hello zip!")
        #expect(properties["tgz"] == true)
        #expect(properties["local"] == true)
        #expect(properties["order"] == ["zip", "tgz", "file"])
        let chain = [("zipped", "zip"), ("tarred", "tgz"), ("local", "file")].map { JSON.string("\($0.0) (\(configs[$0.1] ?? 0))") }
        #expect(properties["$plugins_succeeded"] == .array(chain))
        let errors = try harness.database.rows("SELECT id FROM posthog_pluginconfig WHERE error IS NOT NULL")
        #expect(errors.isEmpty)
        await harness.stop()
    }

    @Test("a broken archive is recorded on its config while the other plugins load and events flow")
    func brokenArchive() async throws {
        let good = try Self.archive(
            ["index.js": "function processEvent(e) { e.properties.good = true; return e }"], folder: "good", format: "zip")
        let broken = try Self.archive(["index.js": "function processEvent(e) { return e "], folder: "broken", format: "zip")
        var brokenId = 0
        let harness = try await IngestionHarness.start { database in
            _ = try Self.installPlugin(database, name: "good", order: 1, url: "https://github.com/example/good", archive: good)
            brokenId = try Self.installPlugin(database, name: "broken", order: 2, url: "https://github.com/example/broken", archive: broken)
        }
        try await harness.send(PluginPipelineTests.event("still flowing"))
        #expect(try harness.events().first?["properties"]?["good"] == true)
        let error = try #require(try harness.database.scalar("SELECT error FROM posthog_pluginconfig WHERE id = \(brokenId)"))
        #expect(error["name"] == "SyntaxError")
        let log = try harness.database.rows(
            "SELECT message FROM posthog_pluginlogentry WHERE plugin_config_id = \(brokenId) AND source = 'SYSTEM'")
        #expect(log.contains { $0["message"]?.stringValue?.hasPrefix("Plugin failed to load") == true })
        await harness.stop()
    }

    @Test("fetch gives up after PLUGIN_FETCH_TIMEOUT on a server that never answers, and the event goes on")
    func fetchTimeout() async throws {
        // A listener that accepts and never answers, on a port the system picks (a random one could be taken).
        let silent = Process()
        silent.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        silent.arguments = [
            "python3", "-c",
            "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0)); s.listen(16)\nprint(s.getsockname()[1], flush=True)\nheld = []\nwhile True: held.append(s.accept())",
        ]
        let output = Pipe()
        silent.standardOutput = output
        try silent.run()
        defer { killHelper(silent) }
        var announced: [UInt8] = []
        while !announced.contains(UInt8(ascii: "\n")), let byte = try output.fileHandleForReading.read(upToCount: 1)?.first {
            announced.append(byte)
        }
        let port = try #require(Int(String(decoding: announced, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        let harness = try await IngestionHarness.start(environment: ["PLUGIN_FETCH_TIMEOUT": "1"]) { database in
            try PluginPipelineTests.installSourcePlugin(
                database, name: "slow-fetch",
                source: """
                    export async function processEvent(event) {
                        try {
                            await fetch('http://127.0.0.1:\(port)/hang')
                            event.properties.fetched = true
                        } catch (error) {
                            event.properties.fetchError = error.message
                        }
                        return event
                    }
                    """)
        }
        try await harness.send(PluginPipelineTests.event("timed"))
        let properties = try #require(try harness.events().first?["properties"])
        #expect(properties["fetched"] == nil)
        #expect(properties["fetchError"] == .string("network timeout at: http://127.0.0.1:\(port)/hang"))
        await harness.stop()
    }
}
