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
    func roundTrip() throws {
        let ctx = JSGlobalContextCreate(nil)!
        defer { JSGlobalContextRelease(ctx) }
        let back = try JSC.json(ctx, JSC.makeValue(ctx, Self.event))
        #expect(try JSC.json(ctx, JSC.makeValueViaJSONText(ctx, Self.event)) == Self.event)
        #expect(try JSC.json(ctx, JSC.makeValueDirectly(ctx, Self.event)) == Self.event)
        #expect(back == Self.event)
        #expect(back["properties"]?.objectValue?.keys.first == "10")
        #expect(back.jsonString == Self.event.jsonString)
    }

    @Test("strings with NUL, non-ASCII and astral characters, in keys and values, survive the trip")
    func unusualStrings() throws {
        let ctx = JSGlobalContextCreate(nil)!
        defer { JSGlobalContextRelease(ctx) }
        let value: JSON = ["a\u{0}b": "x\u{0}y", "ключ": "значение 😀", "": "", "e\u{301}": ["\u{0}", "日本"]]
        #expect(try JSC.json(ctx, JSC.makeValue(ctx, value)) == value)
        #expect(JSC.toString(ctx, JSC.makeString(ctx, "nul\u{0}inside")) == "nul\u{0}inside")
    }

    @Test("JSON text written on one thread is parsed in a context on another, and read back on a third")
    func textAcrossThreads() async throws {
        let value: JSON = ["event": "e", "zero": -0.0, "n": 1e21, "s": "nul\u{0} ключ 😀", "list": [1, ["a": .null]]]
        let text = try #require(await Task.detached { JSONText(value) }.value)
        let ctx = JSGlobalContextCreate(nil)!
        defer { JSGlobalContextRelease(ctx) }
        let made = text.makeValue(ctx)
        #expect(JSC.toString(ctx, JSC.get(ctx, JSC.object(ctx, made)!, "s")) == "nul\u{0} ключ 😀")
        let zeroIsNegative = Self.evaluate(ctx, "(v) => Object.is(v.zero, -0)").flatMap { JSC.object(ctx, $0) }.map { function in
            var exception: JSValueRef?
            return JSValueToBoolean(ctx, JSC.call(ctx, function, [made], exception: &exception))
        }
        #expect(zeroIsNegative == true)
        let back = try #require(try JSONText.stringify(ctx, made))
        let parsed = try await Task.detached { try back.parsed() }.value
        #expect(parsed == ["event": "e", "zero": 0, "n": 1e21, "s": "nul\u{0} ключ 😀", "list": [1, ["a": .null]]])
        #expect(try JSONText.stringify(ctx, JSValueMakeUndefined(ctx)) == nil)
    }

    @Test("call arguments with a non-finite number are built value by value; others go as one text")
    func callArgumentsFallBack() throws {
        guard case .values(let values) = CallArguments([["n": .number(.nan)], 1]) else {
            Issue.record("a NaN argument list was written as JSON text")
            return
        }
        #expect(values.count == 2)
        guard case .text(_, let count) = CallArguments([["n": 1], "x"]) else {
            Issue.record("finite arguments were not written as JSON text")
            return
        }
        #expect(count == 2)
        let ctx = JSGlobalContextCreate(nil)!
        defer { JSGlobalContextRelease(ctx) }
        let array = try #require(CallArguments([["n": .number(-.infinity)]]).makeArray(ctx))
        let first = try #require(JSC.object(ctx, JSObjectGetPropertyAtIndex(ctx, array, 0, nil)))
        #expect(JSValueToNumber(ctx, JSC.get(ctx, first, "n"), nil) == -.infinity)
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

    @Test("many chain calls in a row each come back converted, with the plugin's change and its name")
    func manyChainCalls() async throws {
        let (runtime, _) = makeRuntime()
        await runtime.load([plugin(1, "function processEvent(e) { e.properties.seen = e.properties.prop1; return e }")])
        for index in 0..<2_000 {
            var event = Self.event
            event["properties"]?["prop1"] = .number(Double(index))
            guard case .event(let processed) = await runtime.processEventChain(teamId: 2, event: event) else {
                Issue.record("event \(index) was dropped")
                return
            }
            #expect(processed["properties"]?["seen"] == .number(Double(index)))
            #expect(processed["properties"]?["$plugins_succeeded"]?.arrayValue?.count == 1)
            #expect(processed["big"] == 1e21)
        }
    }

    @Test("values nested close to the parser's limit are written and parsed on Swift's pool, both ways")
    func deeplyNestedValues() async throws {
        let (runtime, _) = makeRuntime()
        let source = """
            function processEvent(e) {
                let inner = e.properties.deep
                let depth = 0
                while (Array.isArray(inner)) { inner = inner[0]; depth++ }
                e.properties.depthIn = depth
                let out = 'end'
                for (let i = 0; i < 500; i++) out = { next: out }
                e.properties.out = out
                return e
            }
            """
        await runtime.load([plugin(1, source)])
        var deep: JSON = "end"
        for _ in 0..<500 { deep = [deep] }
        var event = Self.event
        event["properties"]?["deep"] = deep
        guard case .event(let processed) = await runtime.processEventChain(teamId: 2, event: event) else {
            Issue.record("the event was dropped")
            return
        }
        #expect(processed["properties"]?["depthIn"] == 500)
        var out = processed["properties"]?["out"]
        var depth = 0
        while let next = out?["next"] {
            out = next
            depth += 1
        }
        #expect(depth == 500 && out == "end")
    }

    static func evaluate(_ ctx: JSGlobalContextRef, _ script: String) -> JSValueRef? {
        let text = JSC.string(script)
        defer { JSStringRelease(text) }
        return JSEvaluateScript(ctx, text, nil, nil, 1, nil)
    }

    @Test("-0, large and small numbers, non-finite numbers, __proto__ keys and nested arrays arrive as they are")
    func valuesArriveExactly() throws {
        let ctx = JSGlobalContextCreate(nil)!
        defer { JSGlobalContextRelease(ctx) }
        let global = JSContextGetGlobalObject(ctx)!
        var inner = JSONObject()
        inner["__proto__"] = ["polluted": true]
        inner["x"] = 1
        let value: JSON = [
            "z": .number(-0.0), "big": 9_007_199_254_740_994, "e21": 1e21, "small": -1.23456e-7, "int": -42,
            "list": [[1, [2, []]], [], ["a": [nil]]], "p": .object(inner), "10": "index", "s": "nul\u{0}😀",
        ]
        JSC.set(ctx, global, "v", JSC.makeValue(ctx, value))
        let checks = [
            "Object.is(v.z, -0)", "v.big === 2 ** 53 + 2", "v.e21 === 1e21", "v.small === -1.23456e-7", "v.int === -42",
            #"JSON.stringify(v.list) === '[[1,[2,[]]],[],{"a":[null]}]'"#,
            #"Object.keys(v).join() === '10,z,big,e21,small,int,list,p,s'"#,
            "Object.prototype.hasOwnProperty.call(v.p, '__proto__') && Object.getPrototypeOf(v.p) === Object.prototype",
            "v.p.polluted === undefined && v.p.__proto__.polluted === true", "v.s === 'nul\\u0000\\ud83d\\ude00'",
        ]
        for check in checks {
            #expect(JSValueToBoolean(ctx, Self.evaluate(ctx, check)), "\(check)")
        }
        // No JSON text holds these: the value is built property by property.
        JSC.set(ctx, global, "w", JSC.makeValue(ctx, ["inf": .number(.infinity), "nan": [.number(.nan)], "ok": "yes"]))
        #expect(JSValueToBoolean(ctx, Self.evaluate(ctx, "w.inf === Infinity && Number.isNaN(w.nan[0]) && w.ok === 'yes'")))
    }

    @Test("values come back from JavaScript in its own-key order, Proxy and toJSON included")
    func valuesComeBack() throws {
        let ctx = JSGlobalContextCreate(nil)!
        defer { JSGlobalContextRelease(ctx) }
        let proxy = Self.evaluate(
            ctx,
            """
            new Proxy({}, { ownKeys: () => ['b', '10', '2'], get: (t, k) => 'v' + String(k),
                getOwnPropertyDescriptor: () => ({ value: 0, enumerable: true, configurable: true }) })
            """)
        let back = try JSC.json(ctx, proxy)
        #expect(back.objectValue?.keys == ["2", "10", "b"])
        #expect(back["b"] == "vb")
        let plain = try JSC.json(
            ctx, Self.evaluate(ctx, "({ b: -0, a: [1.5, 2 ** 60, undefined, () => 1], 3: { toJSON() { return 'x' } }, u: undefined })"))
        #expect(plain.objectValue?.keys == ["3", "b", "a"])
        #expect(plain == ["3": "x", "b": 0, "a": [1.5, 1_152_921_504_606_846_976, nil, nil]])
        #expect(throws: JSThrown.self) { try JSC.json(ctx, Self.evaluate(ctx, "(() => { const o = {}; o.o = o; return o })()")) }
    }

    @Test("long non-ASCII text comes back whole, whatever its UTF-8 takes per character")
    func longNonASCIIText() throws {
        let ctx = JSGlobalContextCreate(nil)!
        defer { JSGlobalContextRelease(ctx) }
        // "ÿ" and "Ā" are where narrowing UTF-16 to bytes would go wrong (0xFF, and U+0100 → 0x00).
        for unit in ["é", "日", "😀", "a\u{0}", "\u{7f}\u{80}", "ÿ", "Ā", "ascii \u{7f}"] {
            for count in [1, 7, 100, 5000] {
                let text = String(repeating: unit, count: count)
                let value: JSON = ["k": .string(text), "list": [.string(text), .string("x" + text)], text: 1]
                #expect(try JSC.json(ctx, JSC.makeValue(ctx, value)) == value, "\(unit) × \(count)")
            }
        }
        // A lone surrogate made in JavaScript comes back as U+FFFD.
        #expect(
            try JSC.json(ctx, Self.evaluate(ctx, "['a\\ud800', '\\udc00'.repeat(3000)]")) == [
                "a\u{FFFD}", .string(String(repeating: "\u{FFFD}", count: 3000)),
            ])
    }
}
