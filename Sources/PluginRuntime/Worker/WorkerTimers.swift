import Foundation

/// The timers of a worker's sandboxes (`createBuffer` flush timeouts, and the test timer): a min-heap by
/// deadline, served by the worker's own thread (`WorkerThread.wake(at:)`), as Node's event loop serves
/// its timers. A timer costs an entry here, not a task, a sleep and a thread hop of its own.
struct WorkerTimers {
    struct Timer {
        var deadline: UInt64
        /// Ties keep the order timers were set in.
        var sequence: UInt64
        var key: SandboxKey
        var id: Int
    }

    private var heap: [Timer] = []
    private var sequence: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var nextDeadline: UInt64? { heap.first?.deadline }

    /// Adds a timer of sandbox `key`'s call `id`; returns its deadline.
    mutating func add(key: SandboxKey, id: Int, milliseconds: Double, now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> UInt64 {
        // Clamped like Node's: below 1 ms (or not a number) counts as 1 ms; at most a day here.
        let delay = milliseconds >= 1 ? min(milliseconds, 86_400_000) : 1
        let deadline = now + UInt64(delay * 1_000_000)
        sequence += 1
        heap.append(Timer(deadline: deadline, sequence: sequence, key: key, id: id))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
        return deadline
    }

    /// Removes and returns the timers due at `now`, earliest first.
    mutating func takeDue(now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> [Timer] {
        var due: [Timer] = []
        while let first = heap.first, first.deadline <= now {
            due.append(first)
            let last = heap.removeLast()
            guard !heap.isEmpty else { break }
            heap[0] = last
            siftDown()
        }
        return due
    }

    private mutating func siftDown() {
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var child = left
            if left + 1 < heap.count && Self.precedes(heap[left + 1], heap[left]) { child = left + 1 }
            guard Self.precedes(heap[child], heap[parent]) else { return }
            heap.swapAt(child, parent)
            parent = child
        }
    }

    private static func precedes(_ a: Timer, _ b: Timer) -> Bool {
        a.deadline != b.deadline ? a.deadline < b.deadline : a.sequence < b.sequence
    }
}
