import CJavaScriptCore
import Foundation
import PostHogEvents
import Testing

@testable import PluginRuntime

@Suite struct ConversionTests {
    static let event: JSON = {
        var properties = JSONObject()
        for i in 0..<20 { properties["prop\(i)"] = i % 2 == 0 ? .number(Double(i) + 0.5) : .string("value \(i)") }
        properties["10"] = "index key"
        return ["event": "$pageview", "distinct_id": "u", "team_id": 2, "properties": .object(properties), "big": 1e21]
    }()

    @Test("JSON round-trips through JavaScript keeping key order and numbers, both ways in")
    func roundTripAndSpeed() throws {
        let ctx = JSGlobalContextCreate(nil)!
        defer { JSGlobalContextRelease(ctx) }
        let back = try JSC.json(ctx, JSC.makeValue(ctx, Self.event))
        #expect(try JSC.json(ctx, JSC.makeValueViaJSONText(ctx, Self.event)) == Self.event)
        #expect(back == Self.event)
        #expect(back["properties"]?.objectValue?.keys.first == "10")
        #expect(back.jsonString == Self.event.jsonString)
        let iterations = 20_000
        var start = Date()
        for _ in 0..<iterations { _ = JSC.makeValueViaJSONText(ctx, Self.event) }
        let viaText = Date().timeIntervalSince(start)
        start = Date()
        for _ in 0..<iterations { _ = JSC.makeValueDirectly(ctx, Self.event) }
        let direct = Date().timeIntervalSince(start)
        let value = JSC.makeValue(ctx, Self.event)
        start = Date()
        for _ in 0..<iterations { _ = try JSC.json(ctx, value) }
        let out = Date().timeIntervalSince(start)
        print("conversion per event: JSON text in \(viaText / Double(iterations) * 1e6) µs, direct in \(direct / Double(iterations) * 1e6) µs, out \(out / Double(iterations) * 1e6) µs")
    }

    @Test("strings with NUL, non-ASCII and astral characters, in keys and values, survive the trip")
    func unusualStrings() throws {
        let ctx = JSGlobalContextCreate(nil)!
        defer { JSGlobalContextRelease(ctx) }
        let value: JSON = ["a\u{0}b": "x\u{0}y", "ключ": "значение 😀", "": "", "e\u{301}": ["\u{0}", "日本"]]
        #expect(try JSC.json(ctx, JSC.makeValue(ctx, value)) == value)
        #expect(JSC.toString(ctx, JSC.makeString(ctx, "nul\u{0}inside")) == "nul\u{0}inside")
    }

    @Test("a large array survives garbage collections during its own conversion")
    func largeArrayUnderCollection() throws {
        let ctx = JSGlobalContextCreate(nil)!
        defer { JSGlobalContextRelease(ctx) }
        let items: [JSON] = (0..<20_000).map { i in
            ["team_id": 2, "index": .number(Double(i)), "properties": ["nested": .string("value \(i)"), "list": [1, 2, 3]]]
        }
        for _ in 0..<3 {
            let value = JSC.makeValue(ctx, .array(items))
            JSValueProtect(ctx, value)
            defer { JSValueUnprotect(ctx, value) }
            JSGarbageCollect(ctx)
            #expect(try JSC.json(ctx, value) == .array(items))
        }
    }

    @Test("processEvent throughput in one sandbox")
    func throughput() async throws {
        let (runtime, _) = makeRuntime()
        await runtime.load([plugin(1, "function processEvent(e) { e.properties.seen = true; return e }")])
        let count = 5_000
        let start = Date()
        for _ in 0..<count { _ = await runtime.processEventChain(teamId: 2, event: Self.event) }
        let seconds = Date().timeIntervalSince(start)
        print("processEvent chain calls/s: \(Double(count) / seconds)")
    }
}
