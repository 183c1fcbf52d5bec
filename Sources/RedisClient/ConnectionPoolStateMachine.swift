import NIOCore

/// Decides which connection serves which caller, when to open one and when to give up. Pure: the
/// pool feeds it events and carries out the actions it returns, outside its lock.
struct ConnectionPoolStateMachine {
    typealias ConnectionID = Int
    typealias WaiterID = Int

    struct Lease: Hashable {
        var connection: ConnectionID
        var waiter: WaiterID
    }

    /// What the pool must do now. The reason for failed waiters follows from the event:
    /// the connect error after `connectionFailed`, `.poolClosed` otherwise.
    struct Actions: Hashable {
        var leases: [Lease] = []
        var open: [ConnectionID] = []
        var close: [ConnectionID] = []
        var failWaiters: [WaiterID] = []
    }

    let minimumConnections: Int
    let maximumConnections: Int
    private(set) var isClosed = false
    private var idle: [ConnectionID] = []
    private var leased: Set<ConnectionID> = []
    private var connecting: Set<ConnectionID> = []
    private var waiters = CircularBuffer<WaiterID>()
    private var nextConnectionID = 0

    init(minimumConnections: Int, maximumConnections: Int) {
        self.maximumConnections = max(1, maximumConnections)
        self.minimumConnections = min(max(0, minimumConnections), self.maximumConnections)
    }

    private var total: Int { idle.count + leased.count + connecting.count }

    var waiterCount: Int { waiters.count }

    mutating func leaseRequested(_ waiter: WaiterID) -> Actions {
        var actions = Actions()
        guard !isClosed else {
            actions.failWaiters = [waiter]
            return actions
        }
        if let connection = idle.popLast() {
            leased.insert(connection)
            actions.leases = [Lease(connection: connection, waiter: waiter)]
        } else {
            waiters.append(waiter)
            // Only as many new connections as there are callers nobody is connecting for yet.
            if waiters.count > connecting.count, total < maximumConnections {
                actions.open.append(startConnecting())
            }
        }
        // Warm-up happens on use, not in init, so an unused client opens nothing.
        while total < minimumConnections {
            actions.open.append(startConnecting())
        }
        return actions
    }

    mutating func connectionOpened(_ connection: ConnectionID) -> Actions {
        var actions = Actions()
        connecting.remove(connection)
        if isClosed {
            actions.close = [connection]
        } else if let waiter = waiters.popFirst() {
            leased.insert(connection)
            actions.leases = [Lease(connection: connection, waiter: waiter)]
        } else {
            idle.append(connection)
        }
        return actions
    }

    /// A connect attempt failed. If nothing else could ever serve the waiting callers, they all fail
    /// now: the server is most likely down, and they should learn that fast rather than queue.
    mutating func connectionFailed(_ connection: ConnectionID) -> Actions {
        var actions = Actions()
        connecting.remove(connection)
        if leased.isEmpty, connecting.isEmpty, idle.isEmpty {
            actions.failWaiters = Array(waiters)
            waiters.removeAll()
        }
        return actions
    }

    /// A caller gave a connection back. `reusable` is false when it failed or closed while leased.
    mutating func connectionReleased(_ connection: ConnectionID, reusable: Bool) -> Actions {
        var actions = Actions()
        guard leased.remove(connection) != nil else { return actions }
        if !reusable || isClosed {
            actions.close = [connection]
            if !isClosed, waiters.count > connecting.count, total < maximumConnections {
                actions.open.append(startConnecting())
            }
        } else if let waiter = waiters.popFirst() {
            leased.insert(connection)
            actions.leases = [Lease(connection: connection, waiter: waiter)]
        } else {
            idle.append(connection)
        }
        return actions
    }

    /// A connection closed by itself (the server went away). If it was idle it is dropped now (and
    /// returned in `close` so the pool forgets it); a leased one is dropped when released. No
    /// reconnect starts here, so a server that stays down causes no connect loop.
    mutating func connectionClosed(_ connection: ConnectionID) -> Actions {
        var actions = Actions()
        if let index = idle.firstIndex(of: connection) {
            idle.remove(at: index)
            actions.close = [connection]
        }
        return actions
    }

    /// Removes a waiter whose task was cancelled; false if it was already served or failed.
    mutating func waiterCancelled(_ waiter: WaiterID) -> Bool {
        guard let index = waiters.firstIndex(of: waiter) else { return false }
        waiters.remove(at: index)
        return true
    }

    /// Closes idle connections now; leased ones close when released, connecting ones when opened.
    mutating func close() -> Actions {
        var actions = Actions()
        guard !isClosed else { return actions }
        isClosed = true
        actions.failWaiters = Array(waiters)
        waiters.removeAll()
        actions.close = idle
        idle.removeAll()
        return actions
    }

    private mutating func startConnecting() -> ConnectionID {
        let id = nextConnectionID
        nextConnectionID += 1
        connecting.insert(id)
        return id
    }
}
