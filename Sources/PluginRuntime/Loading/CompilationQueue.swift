import Crypto
import Foundation

/// Compiles each distinct plugin source once, however many configs use it, with at most `limit`
/// esbuild processes at a time: 10,000 configs of one plugin loading together must cost one esbuild
/// run, not 10,000 concurrent ones.
actor CompilationQueue {
    private let compiler: PluginCompiler
    private let limit: Int
    private var compilations: [String: Compilation] = [:]
    private var running = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(compiler: PluginCompiler, limit: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)) {
        self.compiler = compiler
        self.limit = limit
    }

    private typealias Compilation = Task<Result<String, PluginLoadError>, Never>

    /// Compiles several sources in one visit to the queue (a chunk of configs being loaded). Every
    /// compilation starts before any is awaited, so a chunk's distinct sources compile side by side.
    func compile(_ sources: [Result<PluginSource, PluginLoadError>]) async -> [Result<String, PluginLoadError>] {
        let started = sources.map { source in source.map(start) }
        var results: [Result<String, PluginLoadError>] = []
        results.reserveCapacity(started.count)
        for item in started {
            switch item {
            case .success(let compilation): results.append(await finish(compilation.key, compilation.task))
            case .failure(let error): results.append(.failure(error))
            }
        }
        return results
    }

    func compile(_ source: PluginSource) async throws(PluginLoadError) -> String {
        let compilation = start(source)
        return try await finish(compilation.key, compilation.task).get()
    }

    /// The source's compilation: the one running or done, or a new one.
    private func start(_ source: PluginSource) -> (key: String, task: Compilation) {
        let key = Self.identity(source)
        if let compilation = compilations[key] { return (key, compilation) }
        let compilation = Task { await self.run(source) }
        compilations[key] = compilation
        return (key, compilation)
    }

    private func finish(_ key: String, _ compilation: Compilation) async -> Result<String, PluginLoadError> {
        let result = await compilation.value
        // A failure is not kept: the next load of the same source (a retry) compiles again.
        if case .failure = result, compilations[key] == compilation { compilations[key] = nil }
        return result
    }

    private func run(_ source: PluginSource) async -> Result<String, PluginLoadError> {
        if running >= limit { await withCheckedContinuation { waiters.append($0) } } else { running += 1 }
        defer {
            if waiters.isEmpty { running -= 1 } else { waiters.removeFirst().resume() }
        }
        let compiler = self.compiler
        // esbuild is a blocking subprocess: off the cooperative pool.
        return await Task.detached { () -> Result<String, PluginLoadError> in
            do throws(PluginLoadError) {
                if source.needsBundling, let files = source.files {
                    return .success(try compiler.bundle(files: files, main: source.mainPath))
                }
                return .success(try compiler.compile(source.main))
            } catch {
                return .failure(error)
            }
        }.value
    }

    /// The source's content: its main file, and every file when it is bundled.
    static func identity(_ source: PluginSource) -> String {
        var hash = SHA256()
        hash.update(data: Array(source.mainPath.utf8) + [0])
        hash.update(data: Array(source.main.utf8) + [0])
        if source.needsBundling, let files = source.files {
            for path in files.keys.sorted() {
                hash.update(data: Array(path.utf8) + [0])
                hash.update(data: files[path]! + [0])
            }
        }
        // Hex by hand: `String(format:)` per byte was a measurable part of loading 1,000 configs.
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in hash.finalize() {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
