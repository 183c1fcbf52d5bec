import CEngineHooks
import CJavaScriptCore
import Foundation
import Testing

/// The execution time limit counts wall time (as the original's loop guard did), through the process's
/// clock_gettime; other readers of the thread CPU clock keep getting CPU time.
@Suite struct WatchdogClockTests {
    @Test("JavaScriptCore's execution limit counts time the entry spent blocked, not only its CPU time")
    func wallTimeLimit() throws {
        #expect(watchdog_clock_install() == 1)
        let group = JSContextGroupCreate()
        defer { JSContextGroupRelease(group) }
        JSContextGroupSetExecutionTimeLimit(group, 0.2, nil, nil)
        let context = try #require(JSGlobalContextCreateInGroup(group, nil))
        defer { JSGlobalContextRelease(context) }
        // A native function blocking the thread for 500 ms while using no CPU, then a loop, where the
        // VM checks its limit. Counted in CPU time, the script would use a few milliseconds and finish.
        let block = JSObjectMakeFunctionWithCallback(context, nil) { ctx, _, _, _, _, _ in
            usleep(500_000)
            return JSValueMakeUndefined(ctx)
        }
        let name = JSStringCreateWithUTF8CString("block")
        defer { JSStringRelease(name) }
        JSObjectSetProperty(context, JSContextGetGlobalObject(context), name, block, 0, nil)
        let script = JSStringCreateWithUTF8CString("block(); for (let i = 0; i < 100000; i++) {} 'finished'")
        defer { JSStringRelease(script) }
        var exception: JSValueRef?
        let result = JSEvaluateScript(context, script, nil, nil, 1, &exception)
        #expect(result == nil)
        #expect(exception != nil)
    }

    @Test("reads of the thread CPU clock from outside the engine still count CPU time")
    func cpuClockElsewhere() {
        _ = watchdog_clock_install()
        func cpuSeconds() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        let before = cpuSeconds()
        usleep(300_000)
        #expect(cpuSeconds() - before < 0.1)
    }
}
