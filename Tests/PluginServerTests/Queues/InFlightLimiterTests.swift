import Synchronization
import Testing

@testable import PluginServer

@Suite struct InFlightLimiterTests {
    @Test("the room left: the window's free messages, the assured ones still free, the bytes left")
    func room() {
        let room = InFlightLimiter.room(inFlight: 3, bytesInFlight: 40, limit: 20, assured: 4, byteBudget: 100)
        #expect(room == InFlightLimiter.Room(messages: 17, assured: 1, bytes: 60))
        let full = InFlightLimiter.room(inFlight: 25, bytesInFlight: 500, limit: 20, assured: 4, byteBudget: 100)
        #expect(full == InFlightLimiter.Room(messages: 0, assured: 0, bytes: 0))
    }

    @Test("the whole window while the byte budget lasts; once it is spent, only the assured part")
    func byteBudgetShrinksTheWindow() async throws {
        let limiter = InFlightLimiter(limit: 16, assured: 4, byteBudget: 100)
        #expect(await limiter.waitForRoom() == InFlightLimiter.Room(messages: 16, assured: 4, bytes: 100))
        // Small messages: the window stays 16 and the next claim waits for an eighth of it (2).
        for _ in 0..<14 { limiter.acquire(bytes: 5) }
        #expect(await limiter.waitForRoom() == InFlightLimiter.Room(messages: 2, assured: 0, bytes: 30))
        // The budget spent: the window is the 4 assured, all taken, so the next claim waits.
        limiter.acquire(bytes: 90)
        let returned = Mutex<InFlightLimiter.Room?>(nil)
        let waiter = Task {
            let room = await limiter.waitForRoom()
            returned.withLock { $0 = room }
        }
        for _ in 0..<11 { limiter.release(bytes: 5) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(returned.withLock { $0 } == nil, "4 messages holding 105 bytes fill the assured window")
        limiter.release(bytes: 90)
        await waiter.value
        #expect(returned.withLock { $0 } == InFlightLimiter.Room(messages: 13, assured: 1, bytes: 85))
        #expect(limiter.inFlight == 3)
    }

    @Test("without a byte budget the window is the limit, whatever the sizes")
    func noBudget() async {
        let limiter = InFlightLimiter(limit: 8)
        for _ in 0..<7 { limiter.acquire(bytes: 1 << 30) }
        #expect(await limiter.waitForRoom() == InFlightLimiter.Room(messages: 1, assured: 1, bytes: .max - (7 << 30)))
    }
}
