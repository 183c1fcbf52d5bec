import Testing

@testable import RedisClient

@Suite("Connection pool state machine")
struct ConnectionPoolStateMachineTests {
    typealias Machine = ConnectionPoolStateMachine
    typealias Lease = Machine.Lease

    @Test("the first lease opens a connection and is served when it opens")
    func firstLease() {
        var machine = Machine(minimumConnections: 1, maximumConnections: 3)
        #expect(machine.leaseRequested(0) == Machine.Actions(open: [0]))
        #expect(machine.connectionOpened(0) == Machine.Actions(leases: [Lease(connection: 0, waiter: 0)]))
    }

    @Test("an idle connection is reused instead of opening another")
    func reuse() {
        var machine = Machine(minimumConnections: 1, maximumConnections: 3)
        _ = machine.leaseRequested(0)
        _ = machine.connectionOpened(0)
        #expect(machine.connectionReleased(0, reusable: true) == Machine.Actions())
        #expect(machine.leaseRequested(1) == Machine.Actions(leases: [Lease(connection: 0, waiter: 1)]))
    }

    @Test("no more than the maximum is opened and waiters are served in FIFO order")
    func maximumAndFIFO() {
        var machine = Machine(minimumConnections: 0, maximumConnections: 2)
        var opened: [Int] = []
        for waiter in 0..<5 { opened += machine.leaseRequested(waiter).open }
        #expect(opened == [0, 1])
        #expect(machine.connectionOpened(0).leases == [Lease(connection: 0, waiter: 0)])
        #expect(machine.connectionOpened(1).leases == [Lease(connection: 1, waiter: 1)])
        #expect(machine.connectionReleased(1, reusable: true).leases == [Lease(connection: 1, waiter: 2)])
        #expect(machine.connectionReleased(0, reusable: true).leases == [Lease(connection: 0, waiter: 3)])
        #expect(machine.connectionReleased(1, reusable: true).leases == [Lease(connection: 1, waiter: 4)])
        #expect(machine.waiterCount == 0)
    }

    @Test("the minimum is opened on first use, not before")
    func warmUp() {
        var machine = Machine(minimumConnections: 2, maximumConnections: 3)
        #expect(machine.leaseRequested(0).open == [0, 1])
    }

    @Test("a broken connection given back is closed, never lent again, and replaced for waiters")
    func brokenRelease() {
        var machine = Machine(minimumConnections: 0, maximumConnections: 1)
        _ = machine.leaseRequested(0)
        _ = machine.connectionOpened(0)
        _ = machine.leaseRequested(1)
        #expect(machine.connectionReleased(0, reusable: false) == Machine.Actions(open: [1], close: [0]))
        #expect(machine.connectionOpened(1).leases == [Lease(connection: 1, waiter: 1)])
    }

    @Test("an idle connection that closes is dropped without reconnecting")
    func idleClose() {
        var machine = Machine(minimumConnections: 1, maximumConnections: 3)
        _ = machine.leaseRequested(0)
        _ = machine.connectionOpened(0)
        _ = machine.connectionReleased(0, reusable: true)
        #expect(machine.connectionClosed(0) == Machine.Actions(close: [0]))
        #expect(machine.leaseRequested(1).open == [1])
    }

    @Test("when connecting fails and nothing else is open, every waiter fails fast")
    func failFast() {
        var machine = Machine(minimumConnections: 0, maximumConnections: 2)
        for waiter in 0..<4 { _ = machine.leaseRequested(waiter) }
        #expect(machine.connectionFailed(0) == Machine.Actions())
        #expect(machine.connectionFailed(1) == Machine.Actions(failWaiters: [0, 1, 2, 3]))
        #expect(machine.leaseRequested(4).open == [2])
    }

    @Test("when connecting fails while a connection is leased, waiters wait for it")
    func failWithLeased() {
        var machine = Machine(minimumConnections: 0, maximumConnections: 2)
        _ = machine.leaseRequested(0)
        _ = machine.connectionOpened(0)
        _ = machine.leaseRequested(1)
        #expect(machine.connectionFailed(1) == Machine.Actions())
        #expect(machine.connectionReleased(0, reusable: true).leases == [Lease(connection: 0, waiter: 1)])
    }

    @Test("a cancelled waiter is skipped")
    func cancellation() {
        var machine = Machine(minimumConnections: 0, maximumConnections: 1)
        _ = machine.leaseRequested(0)
        _ = machine.leaseRequested(1)
        _ = machine.leaseRequested(2)
        let cancelled = machine.waiterCancelled(1)
        #expect(cancelled)
        #expect(machine.connectionOpened(0).leases == [Lease(connection: 0, waiter: 0)])
        #expect(machine.connectionReleased(0, reusable: true).leases == [Lease(connection: 0, waiter: 2)])
        let cancelledAfterLease = machine.waiterCancelled(2)
        #expect(!cancelledAfterLease)
    }

    @Test("closing fails waiters and closes idle connections now, leased and connecting ones later")
    func closing() {
        var machine = Machine(minimumConnections: 0, maximumConnections: 3)
        _ = machine.leaseRequested(0)
        _ = machine.leaseRequested(1)
        _ = machine.leaseRequested(2)
        _ = machine.connectionOpened(0)
        _ = machine.connectionOpened(1)
        _ = machine.connectionReleased(1, reusable: true)  // served to waiter 2
        _ = machine.connectionReleased(1, reusable: true)  // now idle
        _ = machine.leaseRequested(3)  // gets 1 again
        _ = machine.leaseRequested(4)  // waits for connection 2, still connecting
        #expect(machine.close() == Machine.Actions(failWaiters: [4]))
        #expect(machine.connectionReleased(0, reusable: true).close == [0])
        #expect(machine.connectionReleased(1, reusable: true).close == [1])
        #expect(machine.connectionOpened(2).close == [2])
        #expect(machine.leaseRequested(9).failWaiters == [9])
    }

    @Test("closing closes idle connections at once")
    func closingIdle() {
        var machine = Machine(minimumConnections: 1, maximumConnections: 3)
        _ = machine.leaseRequested(0)
        _ = machine.connectionOpened(0)
        _ = machine.connectionReleased(0, reusable: true)
        #expect(machine.close() == Machine.Actions(close: [0]))
    }
}
