import Testing

@testable import PluginRuntime

/// Which lines of a logged message are frames of the server's own wrappers (pure text).
@Suite struct StackFrameTests {
    @Test("frame lines: a name without spaces (or the engine's `global code`), a file, a line and a column")
    func frames() {
        #expect(StackFrame.isFrame("invoke@prelude.js:1983:28", file: "prelude.js"))
        #expect(StackFrame.isFrame("@prelude.js:1:2", file: "prelude.js"))
        #expect(StackFrame.isFrame("global code@prelude.js:1:2", file: "prelude.js"))
        #expect(StackFrame.isFrame("processEvent@index.ts:3:9"))
        #expect(StackFrame.isFrame("@[native code]"))
        #expect(StackFrame.isFrame("fetch@http://host:8080/a.js:3:9"))
        #expect(!StackFrame.isFrame("processEvent@index.ts:3:9", file: "prelude.js"))
        #expect(!StackFrame.isFrame("@[native code]", file: "prelude.js"))
        #expect(!StackFrame.isFrame("second line foo@prelude.js:1:1"))
        #expect(!StackFrame.isFrame("mail me@example.com"))
        #expect(!StackFrame.isFrame("x@prelude.js:1:"))
        #expect(!StackFrame.isFrame("x@prelude.js:a:1"))
    }

    @Test("the wrappers' frames leave a logged message, and nothing else does")
    func preludeFramesLeave() {
        let stack = "onEvent@index.ts:16:5\ninvokeExport@prelude.js:1988:21\ninvoke@prelude.js:1983:28"
        #expect(PluginContext.withoutPreludeFrames(stack) == "onEvent@index.ts:16:5")
        // The first frame of a stack logged after a label shares the label's line.
        #expect(
            PluginContext.withoutPreludeFrames("failed: invokeExport@prelude.js:1988:21\ninvoke@prelude.js:1983:28\n@[native code]")
                == "failed: \n@[native code]")
        for kept in [
            "first line\nsecond line foo@prelude.js:1:1\nthird",
            #"error was: {"stack":"f@index.ts:1:2\ninvoke@prelude.js:1983:28"}"#,
            "a frame-like word at the end x@prelude.js:1:2",
        ] {
            #expect(PluginContext.withoutPreludeFrames(kept) == kept)
        }
    }
}
