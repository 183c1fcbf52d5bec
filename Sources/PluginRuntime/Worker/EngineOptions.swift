import Foundation

/// JavaScriptCore options the runtime depends on, read by the engine from the environment when it
/// initializes (before the first context group is made).
enum EngineOptions {
    /// Polling traps: optimized code checks for the watchdog's stop request at every loop back edge.
    /// With the default signal traps a stop request is only acted on when the signal lands in
    /// JIT-compiled code, so a loop spending its time in the engine's own C++ (`while (true)
    /// Date.now()`, `JSON.stringify` in a loop) was never stopped and held its worker forever.
    private static let applied: Void = {
        setenv("JSC_usePollingTraps", "true", 1)
    }()

    static func apply() { _ = applied }
}
