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

    init(name: String, stackSize: Int = 16 << 20) {
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            self.owner = pthread_self()
            // Named for `top -H` and profilers (Linux keeps 15 characters).
            _ = pthread_setname_np(pthread_self(), String(name.prefix(15)))
            ready.signal()
            self.runLoop()
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
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty && stopped {
                let cleanup = self.cleanup
                self.cleanup = nil
                condition.unlock()
                cleanup?()
                return
            }
            swap(&batch, &jobs)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
