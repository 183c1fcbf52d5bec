/// The messages of a `RedisClient.subscribe(to:)`: (channel, message bytes) in the order published.
/// Each iteration subscribes on its own connection; it ends when the consuming task is cancelled or
/// the client closes.
public struct RedisSubscription: AsyncSequence, Sendable {
    public typealias Element = (channel: String, message: [UInt8])

    let client: RedisClient
    let channels: [String]

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<Element>.Iterator

        public mutating func next() async -> Element? {
            await base.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        // Unbounded: dropping messages silently would be worse, and the channels this server
        // listens on (reloads) are quiet.
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: .unbounded)
        if let task = client.startSubscription(channels: channels, continuation: continuation) {
            continuation.onTermination = { _ in task.cancel() }
        } else {
            continuation.finish()
        }
        return AsyncIterator(base: stream.makeAsyncIterator())
    }

    /// The (channel, payload) of a RESP2 `message` push; nil for subscribe confirmations and others.
    static func message(from reply: RESPValue) -> Element? {
        guard case .array(let parts) = reply, parts.count == 3,
            parts[0].string == "message",
            let channel = parts[1].string, let payload = parts[2].bytes
        else { return nil }
        return (channel, payload)
    }
}
