import CJavaScriptCore
import Foundation
import PostHogEvents
import Synchronization

/// Small helpers over the JavaScriptCore C API. All of them must run on the owning worker thread;
/// callers (the `Sandbox`) check that before handing out a context.
enum JSC {
    /// A new JavaScript string (release it). UTF-8 straight from Swift's storage; JSC keeps ASCII as
    /// 8-bit. A string with an embedded NUL takes the UTF-16 path, which the C-string one would cut.
    static func string(_ text: String) -> JSStringRef {
        let hasNul =
            text.utf8.withContiguousStorageIfAvailable { bytes in bytes.baseAddress.map { memchr($0, 0, bytes.count) != nil } ?? false }
            ?? text.utf8.contains(0)
        if !hasNul { return text.withCString { JSStringCreateWithUTF8CString($0) } }
        var utf16 = Array(text.utf16)
        return utf16.withUnsafeMutableBufferPointer { JSStringCreateWithCharacters($0.baseAddress, $0.count) }
    }

    /// Sets a property by a shared name: event keys repeat on every event, so the common ones are made once.
    static func setProperty(_ ctx: JSContextRef, _ object: JSObjectRef, _ key: String, _ value: JSValueRef?) {
        if let name = PropertyNames.shared.name(key) {
            JSObjectSetProperty(ctx, object, name, value, JSPropertyAttributes(kJSPropertyAttributeNone), nil)
        } else {
            set(ctx, object, key, value)
        }
    }

    static func swiftString(_ string: JSStringRef) -> String {
        let length = JSStringGetLength(string)
        guard length > 0, let characters = JSStringGetCharactersPtr(string) else { return "" }
        let units = UnsafeBufferPointer(start: characters, count: length)
        // ASCII (operation names, keys, most log lines) is narrowed in one pass: Swift decodes UTF-16
        // on a slow path, which showed in every call of a plugin.
        let ascii = String(unsafeUninitializedCapacity: length) { bytes in narrowASCII(units, into: bytes) ? length : 0 }
        return ascii.isEmpty ? String(decoding: units, as: UTF16.self) : ascii
    }

    /// Copies UTF-16 `units` into `bytes` (room for as many) as one byte each, in one pass; `false` when a
    /// unit is not ASCII, and `bytes` then holds nothing usable.
    static func narrowASCII(_ units: UnsafeBufferPointer<UInt16>, into bytes: UnsafeMutableBufferPointer<UInt8>) -> Bool {
        var combined: UInt16 = 0
        for index in 0..<units.count {
            let unit = units[index]
            combined |= unit
            bytes[index] = UInt8(truncatingIfNeeded: unit)
        }
        return combined < 0x80
    }

    /// JavaScript `String(value)`; `nil` when the conversion throws.
    static func toString(_ ctx: JSContextRef, _ value: JSValueRef?) -> String? {
        var exception: JSValueRef?
        guard let string = JSValueToStringCopy(ctx, value, &exception), exception == nil else { return nil }
        defer { JSStringRelease(string) }
        return swiftString(string)
    }

    static func makeString(_ ctx: JSContextRef, _ text: String) -> JSValueRef {
        let string = JSC.string(text)
        defer { JSStringRelease(string) }
        return JSValueMakeString(ctx, string)
    }

    static func get(_ ctx: JSContextRef, _ object: JSObjectRef, _ name: String) -> JSValueRef? {
        let key = string(name)
        defer { JSStringRelease(key) }
        return JSObjectGetProperty(ctx, object, key, nil)
    }

    static func set(_ ctx: JSContextRef, _ object: JSObjectRef, _ name: String, _ value: JSValueRef?) {
        let key = string(name)
        defer { JSStringRelease(key) }
        JSObjectSetProperty(ctx, object, key, value, JSPropertyAttributes(kJSPropertyAttributeNone), nil)
    }

    static func object(_ ctx: JSContextRef, _ value: JSValueRef?) -> JSObjectRef? {
        guard let value, JSValueIsObject(ctx, value) else { return nil }
        return JSValueToObject(ctx, value, nil)
    }

    /// Calls `function` with `arguments`; a thrown value comes back in `exception`.
    static func call(
        _ ctx: JSContextRef, _ function: JSObjectRef, this: JSObjectRef? = nil, _ arguments: [JSValueRef?],
        exception: inout JSValueRef?
    ) -> JSValueRef? {
        arguments.withUnsafeBufferPointer { buffer in
            JSObjectCallAsFunction(ctx, function, this, buffer.count, buffer.baseAddress, &exception)
        }
    }

    static func bytes(_ ctx: JSContextRef, _ value: JSValueRef?) -> [UInt8]? {
        guard let object = object(ctx, value) else { return nil }
        var exception: JSValueRef?
        let type = JSValueGetTypedArrayType(ctx, object, &exception)
        guard exception == nil, type != kJSTypedArrayTypeNone, type != kJSTypedArrayTypeArrayBuffer else {
            return nil
        }
        let offset = JSObjectGetTypedArrayByteOffset(ctx, object, nil)
        let length = JSObjectGetTypedArrayByteLength(ctx, object, nil)
        guard length > 0, let base = JSObjectGetTypedArrayBytesPtr(ctx, object, nil) else { return [] }
        let start = base.advanced(by: offset).assumingMemoryBound(to: UInt8.self)
        return Array(UnsafeBufferPointer(start: start, count: length))
    }

    static func makeBytes(_ ctx: JSContextRef, _ bytes: [UInt8]) -> JSValueRef? {
        guard let array = JSObjectMakeTypedArray(ctx, kJSTypedArrayTypeUint8Array, bytes.count, nil) else {
            return nil
        }
        if !bytes.isEmpty, let base = JSObjectGetTypedArrayBytesPtr(ctx, array, nil) {
            bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        }
        return array
    }

    // MARK: JSON ⇄ JSValue

    /// Builds a JavaScript value. Arrays and objects go through `JSON.parse` of their serialized text
    /// (`JSValueMakeFromJSONString`): one API call, one lock, and JSC's own parser, instead of an API
    /// call per key and per value (measured in release for a batch of 100 events: the per-property
    /// build was about a third of the time of a batch). A value holding a non-finite number, which no
    /// JSON text holds, is built property by property. The text keeps `JSONObject` order, which
    /// already follows JavaScript's own-key order, and -0 (`JSON.parse("-0")` is -0).
    static func makeValue(_ ctx: JSContextRef, _ json: JSON) -> JSValueRef? {
        switch json {
        case .null: return JSValueMakeNull(ctx)
        case .bool(let b): return JSValueMakeBoolean(ctx, b)
        case .number(let n): return JSValueMakeNumber(ctx, n)
        case .string(let s): return makeString(ctx, s)
        case .array, .object: return makeValueViaJSONText(ctx, json) ?? makeValueDirectly(ctx, json)
        }
    }

    /// The value through `JSON.parse` of the serialized text; `nil` when it holds a non-finite number.
    static func makeValueViaJSONText(_ ctx: JSContextRef, _ json: JSON) -> JSValueRef? {
        switch json {
        case .null, .bool, .number, .string: return makeValue(ctx, json)
        case .array, .object:
            return JSONText(json)?.makeValue(ctx)
        }
    }

    /// The value built through the C API object by object.
    static func makeValueDirectly(_ ctx: JSContextRef, _ json: JSON) -> JSValueRef? {
        switch json {
        case .null, .bool, .number, .string: return makeValue(ctx, json)
        case .array(let items):
            return makeArray(ctx, items.map { item in { makeValueDirectly(ctx, item) } })
        case .object(let object):
            let result = JSObjectMake(ctx, nil, nil)
            for (key, value) in object { setProperty(ctx, result!, key, makeValueDirectly(ctx, value)) }
            return result
        }
    }

    /// An array whose elements are made one by one and attached at once: the garbage collector scans
    /// the thread's stack, not Swift arrays, so a value kept only in a Swift array while the next one
    /// is allocated could be collected (and its cell reused) before the array holds it.
    static func makeArray(_ ctx: JSContextRef, _ elements: [() -> JSValueRef?]) -> JSObjectRef? {
        guard let array = JSObjectMakeArray(ctx, 0, nil, nil) else { return nil }
        for (index, element) in elements.enumerated() {
            JSObjectSetPropertyAtIndex(ctx, array, UInt32(index), element(), nil)
        }
        return array
    }

    /// `JSON.parse(JSON.stringify(value))` as a Swift `JSON`; `undefined`, functions and symbols become
    /// `null`. Throws the JavaScript exception (cycles, BigInt) as a `JSThrown`.
    static func json(_ ctx: JSContextRef, _ value: JSValueRef?) throws(JSThrown) -> JSON {
        guard let value else { return .null }
        switch JSValueGetType(ctx, value) {
        case kJSTypeUndefined, kJSTypeNull, kJSTypeSymbol: return .null
        case kJSTypeBoolean: return .bool(JSValueToBoolean(ctx, value))
        case kJSTypeNumber:
            let n = JSValueToNumber(ctx, value, nil)
            return n.isFinite ? .number(n) : .null
        case kJSTypeString: return .string(toString(ctx, value) ?? "")
        default:
            return try JSONText.stringify(ctx, value)?.parsed() ?? .null
        }
    }
}

/// Property names made once and kept for the life of the process, up to `limit` of them (the keys
/// that come first are the ones every event has); beyond that, names are made per use.
final class PropertyNames: @unchecked Sendable {
    // @unchecked Sendable: `names` is only touched under `lock`; JSC strings are immutable and
    // thread-safe reference-counted, so one can be used in every worker's contexts.
    static let shared = PropertyNames(limit: 4096)
    private let limit: Int
    private let lock = NSLock()
    private var names: [String: JSStringRef] = [:]

    init(limit: Int) { self.limit = limit }

    /// The shared name, or `nil` when the table is full (the caller then makes and releases its own).
    func name(_ key: String) -> JSStringRef? {
        lock.lock()
        defer { lock.unlock() }
        if let name = names[key] { return name }
        guard names.count < limit else { return nil }
        let name = JSC.string(key)
        names[key] = name
        return name
    }
}

/// A JavaScript exception reduced to what crosses threads: name, message and stack.
struct JSThrown: Error, Sendable, Equatable {
    init(name: String, message: String, stack: String?, isErrorObject: Bool = true) {
        self.name = name
        self.message = message
        self.stack = stack
        self.isErrorObject = isErrorObject
    }

    var name: String
    var message: String
    var stack: String?
    /// True when the thrown value was an Error object (it then has `name` and `stack` in records).
    var isErrorObject = true
    /// The state of the call's first argument (the event) when the call failed.
    var argumentAfter: JSON?
    /// The watchdog stopped the call (time or memory limit).
    var isTermination = false

    static func from(_ ctx: JSContextRef, _ value: JSValueRef) -> JSThrown {
        if let object = JSC.object(ctx, value), JSValueIsObject(ctx, value) {
            let message = JSC.get(ctx, object, "message")
            let hasMessage = message.map { !JSValueIsUndefined(ctx, $0) } ?? false
            if hasMessage {
                let nameValue = JSC.get(ctx, object, "name").flatMap { JSValueIsUndefined(ctx, $0) ? nil : $0 }
                let name = nameValue.flatMap { JSC.toString(ctx, $0) } ?? "Error"
                let stackValue = JSC.get(ctx, object, "stack")
                var stack: String?
                if let stackValue, !JSValueIsUndefined(ctx, stackValue) {
                    // The stack of an error the engine made lacks Node's leading "Name: message" line
                    // (those of `new Error(…)` have it: the prelude adds it); add it for the stored record.
                    let frames = JSC.toString(ctx, stackValue) ?? ""
                    let head = "\(name): \(JSC.toString(ctx, message) ?? "")"
                    let headed = frames.split(separator: "\n", maxSplits: 1).first.map { !StackFrame.isFrame($0) } ?? false
                    stack = headed ? frames : frames.isEmpty ? head : head + "\n" + frames
                }
                return JSThrown(name: name, message: JSC.toString(ctx, message) ?? "", stack: stack)
            }
        }
        // A thrown non-Error: record String(value) (reference §4.1, recommended fix).
        return JSThrown(name: "Error", message: JSC.toString(ctx, value) ?? "", stack: nil, isErrorObject: false)
    }
}
