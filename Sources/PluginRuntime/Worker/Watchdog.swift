import CEngineHooks
import CJavaScriptCore
import Foundation

/// Stops JavaScript that runs too long or makes the process too big, on a worker's context group.
///
/// JavaScriptCore's watchdog calls back every `period` while one entry into the VM keeps running; the
/// callback decides. An entry is stopped once it has run `timeLimit` (wall time, see WatchdogClock.c),
/// or as soon as the process's resident memory passes `memoryLimitBytes` while this entry made it
/// grow by a tenth of the limit or more: a plugin filling memory in a loop (11 GB in 30 s measured)
/// would otherwise get the whole server killed by the system before the time limit. The growth is
/// what blames the entry: memory a stopped plugin filled is not all given back to the system at once,
/// and other teams' plugins running while it is still counted were stopped in its place.
/// Entries shorter than the period are never looked at.
final class Watchdog: @unchecked Sendable {
    // @unchecked Sendable: `termination` is guarded by `lock`; the run bookkeeping is touched only on the
    // worker's thread (entries and callbacks both happen there); the limits are immutable.
    enum Termination: Sendable, Equatable {
        case time(seconds: Double)
        case memory(limitBytes: Int)
    }

    let timeLimit: Double
    let memoryLimitBytes: Int?
    /// How often a running entry is looked at: often enough to catch memory growing at GB/s.
    let period: Double
    private let lock = NSLock()
    private var termination: Termination?

    /// Entries from Swift so far; a change between two callbacks means a new entry is running.
    private var entries = 0
    private var entriesAtLastCheck = -1
    private var lastCheck: UInt64 = 0
    /// When the running entry started, as far as the callbacks can tell (a period before the first).
    private var runStart: UInt64 = 0
    /// The process's resident memory at the running entry's first callback.
    private var residentAtRunStart = 0

    init(timeLimit: Double, memoryLimitBytes: Int?) {
        self.timeLimit = timeLimit
        self.memoryLimitBytes = memoryLimitBytes
        period = memoryLimitBytes == nil ? timeLimit : min(timeLimit, 0.1)
    }

    private var group: JSContextGroupRef?

    func install(on group: JSContextGroupRef) {
        self.group = group
        arm()
    }

    /// Asks for a callback `period` from now (or from the next entry).
    private func arm() {
        guard let group else { return }
        JSContextGroupSetExecutionTimeLimit(group, period, watchdogCallback, Unmanaged.passUnretained(self).toOpaque())
    }

    func noteEntry() { entries &+= 1 }

    /// True to stop the running entry.
    fileprivate func check() -> Bool {
        let now = DispatchTime.now().uptimeNanoseconds
        let periodNanoseconds = UInt64(period * 1e9)
        // Callbacks come a period apart while one entry runs; a gap, or an entry made since, starts a new run.
        let resident = memoryLimitBytes == nil ? nil : Self.residentBytes()
        if entries != entriesAtLastCheck || now &- lastCheck > periodNanoseconds + periodNanoseconds / 2 {
            runStart = now &- min(now, periodNanoseconds)
            residentAtRunStart = resident ?? 0
        }
        entriesAtLastCheck = entries
        lastCheck = now
        var reason: Termination?
        if Double(now &- runStart) / 1e9 >= timeLimit * 0.999 {
            reason = .time(seconds: timeLimit)
        } else if let memoryLimitBytes, let resident, resident > memoryLimitBytes,
            resident - residentAtRunStart >= memoryLimitBytes / 10
        {
            reason = .memory(limitBytes: memoryLimitBytes)
        }
        guard let reason else {
            // Another period for this entry (JavaScriptCore called back only once per entry otherwise).
            arm()
            return false
        }
        lock.lock()
        termination = reason
        lock.unlock()
        return true
    }

    func peek() -> Termination? {
        lock.lock()
        defer { lock.unlock() }
        return termination
    }

    func take() -> Termination? {
        lock.lock()
        defer { lock.unlock() }
        let taken = termination
        termination = nil
        return taken
    }

    /// The process's resident set, from `/proc/self/statm` (its second field, in pages).
    static func residentBytes() -> Int? {
        let file = open("/proc/self/statm", O_RDONLY)
        guard file >= 0 else { return nil }
        defer { close(file) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let fields = buffer[0..<count].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

private func watchdogCallback(_ ctx: JSContextRef?, _ context: UnsafeMutableRawPointer?) -> Bool {
    // Called on the worker's thread while an entry runs long: the callers its batch of jobs resumed
    // before this entry go now, not when it ends (see `WorkerThread.runLoop`).
    worker_resumptions_release()
    guard let context else { return true }
    return Unmanaged<Watchdog>.fromOpaque(context).takeUnretainedValue().check()
}
