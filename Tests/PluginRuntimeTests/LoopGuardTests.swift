import Testing

@testable import PluginRuntime

/// The original's loop guard (reference §5.3) on compiled plugin code.
@Suite struct LoopGuardTests {
    @Test("while and C-style for loops get the guard; for…in, for…of, do…while and the names `while`/`for` do not")
    func rewrite() {
        let code = """
            let i = 0, j, k = 0; const o = { for: 1, while: 2 }
            while (i < 3) i++
            for (;;) { break }
            for (let a = 0, b = 1; a < 2; a++) {}
            for (j = 0; j < 2; j++) {}
            for (var v = 0; ; v++) { if (v > 1) break }
            for (const x in o) {}
            for (const x of [1]) {}
            do { k++ } while (k < 2)
            o.while; o.for
            """
        let guarded = LoopGuard.apply(to: code, timeoutSeconds: 30)
        #expect(
            guarded.components(separatedBy: "Script execution timed out after looping for 30 seconds on line ").count == 6, "\(guarded)")
        #expect(guarded.contains("on line 2:0\") })())"), "\(guarded)")
        #expect(guarded.contains("for (const x in o)") && guarded.contains("for (const x of [1])"))
        #expect(guarded.contains("do { k++ } while (k < 2)") && guarded.contains("o.while; o.for"))
        #expect(LoopGuard.parses(guarded))
        // One second is "second".
        #expect(LoopGuard.apply(to: "while (x) {}", timeoutSeconds: 1).contains("looping for 1 second on line 1:0"))
        // Columns count UTF-16 code units, as JavaScript's do: "é" is one, "😀" two (UTF-8: two and four bytes).
        #expect(LoopGuard.apply(to: "const s = 'héllo'; while (x) {}", timeoutSeconds: 1).contains("on line 1:19"))
        #expect(LoopGuard.apply(to: "let a = 1\nconst s = '😀é'; for (;;) {}", timeoutSeconds: 1).contains("on line 2:17"))
    }

    @Test("a loop that never awaits is stopped too, reading the clock every 64th iteration; its loops keep their results")
    func synchronousLoop() async throws {
        let (runtime, host) = makeRuntime(taskTimeout: 1, executionLimit: 60)
        await runtime.load([
            plugin(
                1, order: 1,
                """
                function processEvent(event) {
                    let i, total = 0
                    for (i = 0; i < 100; i++) total += i
                    for (const limit = 10; total < 5000; ) total += limit
                    if (event.event === 'spin') for (let n = 0; ; n++) {}
                    event.properties.total = total
                    return event
                }
                """)
        ])
        #expect(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"]?["total"] == 5000)
        var spin = sampleEvent
        spin["event"] = "spin"
        _ = await runtime.processEventChain(teamId: 2, event: spin)
        let message = await host.errors[1]?.message
        #expect(message == "Script execution timed out after looping for 1 second on line 5:32", "\(message ?? "none")")
    }

    @Test("code whose rewrite would not parse is left as it was")
    func unparsable() {
        // A class method named `while` reads like a loop to the token scan.
        let code = "class A { while(a) { return a } }"
        #expect(LoopGuard.apply(to: code, timeoutSeconds: 30) == code)
    }

    @Test("a loop that awaits is stopped once it has looped for TASK_TIMEOUT; loops that end run as before")
    func awaitingLoop() async throws {
        let (runtime, host) = makeRuntime(taskTimeout: 1)
        await runtime.load([
            plugin(
                1, order: 1,
                """
                export async function processEvent(event, meta) {
                    let sum = 0
                    for (let i = 0; i < 4; i++) sum += i
                    let n = 0
                    while (n < 3) n++
                    event.properties.sum = sum + n
                    return event
                }
                export async function runEveryMinute(meta) {
                    let pages = 0
                    while (true) {
                        await meta.cache.get('page')
                        pages++
                    }
                }
                """)
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        #expect(result.event?["properties"]?["sum"] == 9)
        await #expect(throws: (any Error).self) { try await runtime.runTask(configId: 1, name: "runEveryMinute") }
        let error = try #require(await host.errors[1])
        #expect(error.message == "Script execution timed out after looping for 1 second on line 11:4", "\(error)")
    }
}
