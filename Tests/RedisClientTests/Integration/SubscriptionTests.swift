import Testing

@testable import RedisClient

@Suite("Pub/sub")
struct SubscriptionTests {
    /// Publishes until a subscriber receives it: subscribing happens in the background.
    private func publishUntilReceived(_ client: RedisClient, _ channel: String, _ message: String) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await client.publish(channel, message) == 0 {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test("a subscription receives messages and keeps receiving after the server restarts")
    func receiveAcrossRestart() async throws {
        try await withRedis { client, server in
            let subscription = client.subscribe(to: ["reload", "other"])
            var iterator = subscription.makeAsyncIterator()

            try await publishUntilReceived(client, "reload", "one")
            let first = await iterator.next()
            #expect(first?.channel == "reload")
            #expect(first?.message == "one".bytes)
            try await client.publish("other", [0, 255])
            let second = await iterator.next()
            #expect(second?.channel == "other")
            #expect(second?.message == [0, 255])

            server.kill()
            try await server.start()
            try await publishUntilReceived(client, "reload", "two")
            let third = await iterator.next()
            #expect(third?.channel == "reload")
            #expect(third?.message == "two".bytes)
        }
    }

    @Test("a subscription ends when the consuming task is cancelled or the client closes")
    func ending() async throws {
        try await withRedis { client, _ in
            let consumer = Task {
                var count = 0
                for await _ in client.subscribe(to: ["c"]) { count += 1 }
                return count
            }
            try await publishUntilReceived(client, "c", "x")
            consumer.cancel()
            _ = await consumer.value
            // Its connection closes, so nobody receives any more.
            let deadline = ContinuousClock.now + .seconds(5)
            while try await client.publish("c", "y") > 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await client.publish("c", "y") == 0)

            // Closing the client ends a subscription that is being consumed.
            var iterator = client.subscribe(to: ["d"]).makeAsyncIterator()
            try await publishUntilReceived(client, "d", "x")
            #expect(await iterator.next()?.message == "x".bytes)
            await client.close()
            #expect(await iterator.next() == nil)
        }
    }
}
