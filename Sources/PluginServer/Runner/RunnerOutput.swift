import Foundation

/// Collects what the plugin did during one step and prints it in the order it happened: console lines
/// reach the host through a queue, so they can arrive after a capture or an error that followed them.
actor RunnerOutput {
    private struct Pending {
        var time: Date
        var sequence: Int
        var record: RunnerRecord
    }

    private let json: Bool
    private let write: @Sendable (String) -> Void
    private var pending: [Pending] = []
    private var sequence = 0
    private(set) var errorCount = 0
    /// The plugin function being run, named on errors (the host's error record does not say).
    private var method = "setupPlugin"

    init(json: Bool, write: @escaping @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }) {
        self.json = json
        self.write = write
    }

    /// Queues a record; `time` is when the plugin caused it (a log line's own timestamp), else now.
    func add(_ record: RunnerRecord, at time: Date = Date()) {
        if case .error = record { errorCount += 1 }
        sequence += 1
        pending.append(Pending(time: time, sequence: sequence, record: record))
    }

    func setMethod(_ method: String) { self.method = method }

    /// `setupCalled` false while loading: the code itself failed to load (a syntax error, a missing
    /// module, a top-level throw), reported as `load`, not as `setupPlugin`.
    func addError(name: String?, message: String, stack: String?, setupCalled: Bool = true) {
        let method = self.method == "setupPlugin" && !setupCalled ? "load" : self.method
        add(.error(method: method, name: name, message: message, stack: stack))
    }

    /// Prints the queued records, oldest first.
    func flush() {
        let ordered = pending.sorted { $0.time != $1.time ? $0.time < $1.time : $0.sequence < $1.sequence }
        pending = []
        for item in ordered { write(json ? item.record.json.jsonString : item.record.text) }
    }
}
