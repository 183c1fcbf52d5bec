import CEngineHooks
import CJavaScriptCore
import Foundation

/// One OS thread running jobs in FIFO order: the serial executor of a `PluginWorker`, so every
/// JavaScriptCore call of that worker happens on this thread and async Swift code interleaves on it.
final class WorkerThread: SerialExecutor, @unchecked Sendable {
    // @unchecked Sendable: `jobs` and `stopped` are only touched under `condition`; `owner` is
    // written once by the thread before `init` returns (the semaphore orders it) and only read after.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false
    private var cleanup: (@Sendable () -> Void)?
    private var owner: pthread_t?
    /// When the worker's next timer is due (uptime nanoseconds): only touched on the thread itself.
    private var timerDeadline: UInt64?
    /// Runs on the thread once `timerDeadline` passes, between jobs; returns the next deadline.
    private var timerHandler: (() -> UInt64?)?
    /// How long (nanoseconds) a resumed task may wait for the rest of its batch of jobs.
    static let longestHold: UInt64 = 400_000

    init(name: String, stackSize: Int = 16 << 20) {
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            self.owner = pthread_self()
            // Named for `top -H` and profilers (Linux keeps 15 characters).
            _ = pthread_setname_np(pthread_self(), String(name.prefix(15)))
            ready.signal()
            _ = worker_resumptions_hold()
            self.runLoop()
            worker_resumptions_stop()
        }
        thread.name = name
        thread.stackSize = stackSize
        thread.start()
        ready.wait()
    }

    /// True when called on this worker's thread.
    var isCurrent: Bool {
        guard let owner else { return false }
        return pthread_equal(pthread_self(), owner) != 0
    }

    /// Crashes when called from any other thread: JSC state of this worker must never be touched elsewhere.
    func assertCurrent(file: StaticString = #fileID, line: UInt = #line) {
        precondition(isCurrent, "JavaScriptCore state used off its worker thread", file: file, line: line)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    func isSameExclusiveExecutionContext(other: WorkerThread) -> Bool { self === other }

    func checkIsolated() {
        assertCurrent()
    }

    /// Installs what runs when a timer is due; call once, before any `wake(at:)`.
    func onTimer(_ handler: @escaping () -> UInt64?) {
        condition.lock()
        timerHandler = handler
        condition.unlock()
    }

    /// Has the thread run its timer handler at `deadline` (uptime nanoseconds) or at an earlier
    /// deadline already set. Called on the thread, which therefore is not waiting: the deadline is
    /// the thread's own, read and written there only, without the lock.
    func wake(at deadline: UInt64) {
        if timerDeadline.map({ deadline < $0 }) ?? true { timerDeadline = deadline }
    }

    /// Lets the thread finish the queued jobs, run `cleanup`, and exit.
    func stop(then cleanup: (@Sendable () -> Void)? = nil) {
        condition.lock()
        stopped = true
        self.cleanup = cleanup
        condition.signal()
        condition.unlock()
    }

    private func runLoop() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            var timerDue = false
            while jobs.isEmpty && !stopped {
                guard let deadline = timerDeadline else {
                    condition.wait()
                    continue
                }
                let now = DispatchTime.now().uptimeNanoseconds
                if deadline <= now {
                    timerDue = true
                    break
                }
                // At most a second at a time: the wait's clock is the wall clock, which may be set back.
                _ = condition.wait(until: Date(timeIntervalSinceNow: min(Double(deadline - now) / 1e9, 1)))
            }
            if jobs.isEmpty && stopped {
                let cleanup = self.cleanup
                self.cleanup = nil
                condition.unlock()
                cleanup?()
                return
            }
            swap(&batch, &jobs)
            // A busy thread runs due timers between its batches of jobs, so they never starve.
            if !timerDue, let deadline = timerDeadline, deadline <= DispatchTime.now().uptimeNanoseconds { timerDue = true }
            if timerDue { timerDeadline = nil }
            let handler = timerDue ? timerHandler : nil
            condition.unlock()
            // Tasks this batch resumes are handed over together (one wake-up of the pool), unless the
            // first of them has waited `longestHold` already; during a long entry into JavaScript the
            // watchdog's callbacks (every 0.1 s with a memory limit) hand them over.
            // Jobs run back to back: the end of one is the start of the next, one clock read a job.
            var heldSince: UInt64?
            var started = DispatchTime.now().uptimeNanoseconds
            for job in batch {
                job.runSynchronously(on: asUnownedSerialExecutor())
                let ended = DispatchTime.now().uptimeNanoseconds
                defer { started = ended }
                guard worker_resumptions_held() > 0 else { continue }
                let since = heldSince ?? started
                if ended - since >= Self.longestHold {
                    worker_resumptions_release()
                    heldSince = nil
                } else {
                    heldSince = since
                }
            }
            batch.removeAll(keepingCapacity: true)
            // The batch's callers go now, before due timers run plugin code; the timers' after them.
            worker_resumptions_release()
            if let handler {
                if let next = handler() { wake(at: next) }
                worker_resumptions_release()
            }
        }
    }
}
