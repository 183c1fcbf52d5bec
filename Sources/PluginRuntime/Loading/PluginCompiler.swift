import Crypto
import Foundation

/// Turns plugin source (JavaScript or TypeScript, ES modules or CommonJS) into a CommonJS script with
/// esbuild, then applies the import allow-list of reference §5.2. Results are cached by source hash.
final class PluginCompiler: @unchecked Sendable {
    // @unchecked Sendable: `cache` is guarded by `lock`; `esbuildPath` is immutable.
    private let esbuildPath: String
    private let lock = NSLock()
    private var cache: [String: String] = [:]

    /// Libraries `require` provides (reference §6.3): the prelude's table. Cloud SDKs are refused with a
    /// message naming them, anything else with the original "not provided" text.
    static let providedLibraries: Set<String> = [
        "node-fetch", "crypto", "url", "zlib", "stream", "generic-pool", "pg", "@posthog/plugin-contrib",
        "@posthog/plugin-scaffold", "aws-sdk", "aws-sdk/clients/s3", "aws-sdk/clients/kinesis", "aws-sdk/clients/firehose",
        "@google-cloud/bigquery",
        "@google-cloud/storage", "@google-cloud/pubsub", "jsonwebtoken",
    ]

    /// Libraries the original provided (reference §6.3) that need Node.js and a vendor's native client:
    /// refused with a message naming them rather than the generic "not provided" one. The prelude
    /// provides `aws-sdk`'s S3, Kinesis and Firehose (its other clients throw when made) and Google's BigQuery,
    /// Storage and Pub/Sub.
    static func isUnavailableCloudSDK(_ name: String) -> Bool {
        name.hasPrefix("aws-sdk/") || name == "snowflake-sdk" || name.hasPrefix("@google-cloud/")
    }

    static func unavailableMessage(_ name: String) -> String {
        "Cannot import '\(name)'! \(name) is not available in this plugin server: cloud SDKs (snowflake-sdk, @google-cloud/* "
            + "beyond BigQuery, Storage and Pub/Sub, aws-sdk beyond S3, Kinesis and Firehose) need Node.js, which this server does not embed. Use fetch against the "
            + "service's HTTP API instead."
    }

    /// TASK_TIMEOUT, for the loop guard.
    private let loopTimeoutSeconds: Double

    init(esbuildPath: String, loopTimeoutSeconds: Double) {
        self.esbuildPath = esbuildPath
        self.loopTimeoutSeconds = loopTimeoutSeconds
    }

    func compile(_ source: String) throws(PluginLoadError) -> String {
        let key = SHA256.hash(data: Array(source.utf8)).map { String(format: "%02x", $0) }.joined()
        lock.lock()
        let cached = cache[key]
        lock.unlock()
        if let cached { return cached }
        let output = try runEsbuild(
            ["--loader=ts", "--format=cjs", "--target=es2020", "--log-level=error", "--sourcefile=index.ts"] + Self.sourceMapOptions,
            stdin: source)
        try Self.checkImports(output)
        let guarded = LoopGuard.apply(to: output, timeoutSeconds: loopTimeoutSeconds)
        lock.lock()
        cache[key] = guarded
        lock.unlock()
        return guarded
    }

    /// Bundles a multi-file plugin (beyond the original: its `./lib` imports are resolved); bare
    /// package imports stay `require` calls and pass the allow-list check.
    func bundle(files: [String: [UInt8]], main: String) throws(PluginLoadError) -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plugin-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            for (path, contents) in files {
                let url = directory.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(contents).write(to: url)
            }
        } catch {
            throw PluginLoadError(message: "Could not prepare plugin files: \(error)", isSyntaxError: false)
        }
        let output = try runEsbuild(
            [
                directory.appendingPathComponent(main).path, "--bundle", "--format=cjs", "--target=es2020",
                "--platform=neutral", "--packages=external", "--loader:.js=ts", "--log-level=error",
            ] + Self.sourceMapOptions, stdin: nil, directory: directory)
        try Self.checkImports(output)
        return LoopGuard.apply(to: output, timeoutSeconds: loopTimeoutSeconds)
    }

    /// A map from the output back to the plugin's files, at the end of the output (see `SourceMap`);
    /// the files' text is not repeated in it. Run in the bundle's folder, its files are named from there.
    static let sourceMapOptions = ["--sourcemap=inline", "--sources-content=false"]

    private func runEsbuild(_ arguments: [String], stdin: String?, directory: URL? = nil) throws(PluginLoadError) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: esbuildPath)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw PluginLoadError(message: "Could not start esbuild: \(error)", isSyntaxError: false)
        }
        // Write stdin and read both outputs concurrently so a large plugin cannot deadlock the pipes.
        let group = DispatchGroup()
        nonisolated(unsafe) var stdout = Data()
        nonisolated(unsafe) var stderr = Data()
        DispatchQueue.global().async(group: group) { stdout = output.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { stderr = errors.fileHandleForReading.readDataToEndOfFile() }
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        group.wait()
        guard process.terminationStatus == 0 else {
            throw PluginLoadError(
                message: "/index.ts: " + Self.esbuildMessage(String(decoding: stderr, as: UTF8.self)), isSyntaxError: true)
        }
        return String(decoding: stdout, as: UTF8.self)
    }

    /// `✘ [ERROR] Unexpected "}"` + location lines → `Unexpected "}" (1:12)`.
    private static func esbuildMessage(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first(where: { $0.contains("[ERROR]") }) else {
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var message = String(first[first.range(of: "[ERROR]")!.upperBound...]).trimmingCharacters(in: .whitespaces)
        if let location = lines.first(where: { $0.hasPrefix("index.ts:") || $0.hasPrefix("<stdin>:") }) {
            let parts = location.split(separator: ":")
            if parts.count >= 3 { message += " (\(parts[1]):\(parts[2]))" }
        }
        return message
    }

    /// Every `require("X")` call of the compiled output (dead code included) must name a provided library.
    static func checkImports(_ code: String) throws(PluginLoadError) {
        for name in requiredModules(code) where !providedLibraries.contains(name) {
            if isUnavailableCloudSDK(name) { throw PluginLoadError(message: unavailableMessage(name), isSyntaxError: false) }
            throw PluginLoadError(
                message: "Cannot import '\(name)'! This package is not provided by PostHog in plugins.", isSyntaxError: false)
        }
    }

    static func requiredModules(_ code: String) -> [String] {
        let bytes = Array(code.utf8)
        let needle = Array("require(".utf8)
        var names: [String] = []
        var index = 0
        while index + needle.count < bytes.count {
            guard bytes[index] == 0x72, Array(bytes[index..<index + needle.count]) == needle else {
                index += 1
                continue
            }
            if index > 0 {
                let previous = bytes[index - 1]
                let isIdentifier =
                    (previous >= 0x30 && previous <= 0x39) || (previous >= 0x41 && previous <= 0x5A)
                    || (previous >= 0x61 && previous <= 0x7A) || previous == 0x5F || previous == 0x24 || previous == 0x2E
                if isIdentifier {
                    index += 1
                    continue
                }
            }
            var cursor = index + needle.count
            while cursor < bytes.count, bytes[cursor] == 0x20 { cursor += 1 }
            guard cursor < bytes.count, bytes[cursor] == 0x22 || bytes[cursor] == 0x27 else {
                index += 1
                continue
            }
            let quote = bytes[cursor]
            var end = cursor + 1
            while end < bytes.count, bytes[end] != quote, bytes[end] != 0x5C, bytes[end] != 0x0A { end += 1 }
            var close = end + 1
            while close < bytes.count, bytes[close] == 0x20 { close += 1 }
            if end < bytes.count, bytes[end] == quote, close < bytes.count, bytes[close] == 0x29 {
                names.append(String(decoding: bytes[(cursor + 1)..<end], as: UTF8.self))
            }
            index = end
        }
        return names
    }
}

/// Why a config could not be loaded. `isStringError` errors are the §3 texts, stored as `{message, time}`.
struct PluginLoadError: Error, Sendable {
    var message: String
    var isSyntaxError: Bool
    var isStringError = false
}
