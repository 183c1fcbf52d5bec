/// Hands a worker's console lines to the host one at a time, in the order the plugins wrote them (a
/// task per line would reorder them). Writing never blocks the worker thread.
final class PluginLogWriter: Sendable {
    private enum Item: Sendable {
        case entry(PluginLogEntry)
        case barrier(CheckedContinuation<Void, Never>)
    }

    private let continuation: AsyncStream<Item>.Continuation

    init(host: any PluginHost) {
        let (stream, continuation) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .unbounded)
        self.continuation = continuation
        Task {
            for await item in stream {
                switch item {
                case .entry(let entry): await host.log(entry)
                case .barrier(let waiter): waiter.resume()
                }
            }
        }
    }

    deinit { continuation.finish() }

    func write(_ entry: PluginLogEntry) {
        continuation.yield(.entry(entry))
    }

    /// Returns once every line written before the call has reached the host.
    func flush() async {
        await withCheckedContinuation { waiter in
            if case .terminated = continuation.yield(.barrier(waiter)) { waiter.resume() }
        }
    }
}
