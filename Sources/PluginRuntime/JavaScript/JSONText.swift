import CJavaScriptCore
import PostHogEvents
import Synchronization

/// JSON text held in a JavaScriptCore string: how values cross between Swift and a sandbox. A JSC
/// string belongs to no context and counts its references atomically, so the text is written (from a
/// Swift `JSON`) and read (into one) on the caller's thread; the worker's thread, which every call to
/// its sandboxes shares, only runs `JSON.parse` and `JSON.stringify` on it.
final class JSONText: @unchecked Sendable {
    // @unchecked Sendable: the string is immutable and released once, when the last owner lets go.
    let string: JSStringRef

    /// The size of the last text written, to size the next one's buffer (a batch is the size of the
    /// one before, so the buffer rarely regrows).
    private static let sizeHint = Atomic<Int>(0)

    /// The exact text of `json` (-0 included); `nil` when it holds a non-finite number, which no JSON
    /// text holds.
    init?(_ json: JSON) {
        // JSON text has no raw NUL (it is escaped): the C string ends where the text does.
        let made = json.withExactText(capacityHint: Self.sizeHint.load(ordering: .relaxed)) { text in
            Self.sizeHint.store(text.count + 1, ordering: .relaxed)
            return Self.makeString(text)
        }
        guard let made, let made else { return nil }
        string = made
    }

    /// Takes over a string made by JavaScriptCore (`JSValueCreateJSONString`).
    init(adopting string: JSStringRef) {
        self.string = string
    }

    deinit { JSStringRelease(string) }

    /// `JSON.stringify(value)` in `ctx` (on the context's thread); `nil` for what it turns into
    /// `undefined` (undefined, functions, symbols). Throws the JavaScript exception (cycles, BigInt).
    static func stringify(_ ctx: JSContextRef, _ value: JSValueRef?) throws(JSThrown) -> JSONText? {
        try stringify(ctx, value) { JSThrown.from(ctx, $0) }
    }

    /// The same, with the error a thrown value becomes decided by the caller.
    static func stringify(_ ctx: JSContextRef, _ value: JSValueRef?, thrown: (JSValueRef) -> JSThrown) throws(JSThrown) -> JSONText? {
        var exception: JSValueRef?
        guard let text = JSValueCreateJSONString(ctx, value, 0, &exception) else {
            if let exception { throw thrown(exception) }
            return nil
        }
        return JSONText(adopting: text)
    }

    /// `JSON.parse(text)` in `ctx` (on the context's thread).
    func makeValue(_ ctx: JSContextRef) -> JSValueRef? {
        JSValueMakeFromJSONString(ctx, string)
    }

    /// The value, parsed in Swift (on any thread); text from `JSON.stringify` never repeats a key.
    func parsed() throws(JSThrown) -> JSON {
        let parsed = withUTF8 { utf8 in Result { () throws(JSONParseError) in try JSON(parsingStringifiedUTF8: utf8) } }
        do {
            return try parsed.get()
        } catch {
            throw JSThrown(name: "Error", message: "Could not convert value: \(error)", stack: nil)
        }
    }

    /// Calls `body` with the text as UTF-8. JavaScriptCore's own UTF-8 conversion costs about as much
    /// as parsing the result, so ASCII text (nearly every event) is narrowed here from the string's
    /// UTF-16 code units in one pass; other text goes through the engine.
    private func withUTF8<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let length = JSStringGetLength(string)
        if length > 0, let units = JSStringGetCharactersPtr(string) {
            let narrowed = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: length) { buffer -> R? in
                JSC.narrowASCII(UnsafeBufferPointer(start: units, count: length), into: buffer) ? body(UnsafeBufferPointer(buffer)) : nil
            }
            if let narrowed { return narrowed }
        }
        let capacity = JSStringGetMaximumUTF8CStringSize(string)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            let written = JSStringGetUTF8CString(
                string, UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self), capacity)
            return body(UnsafeBufferPointer(rebasing: buffer[0..<max(0, written - 1)]))
        }
    }

    /// A JSC string of UTF-8 `text` (NUL-terminated in memory). ASCII text is widened here and handed
    /// over as UTF-16, which the engine copies as is; other text goes through its UTF-8 conversion.
    private static func makeString(_ text: UnsafeBufferPointer<UInt8>) -> JSStringRef? {
        let widened = withUnsafeTemporaryAllocation(of: UInt16.self, capacity: max(1, text.count)) { units -> JSStringRef? in
            var combined: UInt8 = 0
            for index in 0..<text.count {
                let byte = text[index]
                combined |= byte
                units[index] = UInt16(byte)
            }
            return combined < 0x80 ? JSStringCreateWithCharacters(units.baseAddress, text.count) : nil
        }
        return widened ?? JSStringCreateWithUTF8CString(UnsafeRawPointer(text.baseAddress!).assumingMemoryBound(to: CChar.self))
    }
}

/// The arguments of a call into a sandbox, prepared by the caller: as one JSON text of the argument
/// list, or, when a value has a non-finite number (no JSON text holds one), as values the worker
/// builds object by object.
enum CallArguments: Sendable {
    case text(JSONText, count: Int)
    case values([JSON])

    init(_ arguments: [JSON]) {
        if !arguments.isEmpty, let text = JSONText(.array(arguments)) {
            self = .text(text, count: arguments.count)
        } else {
            self = .values(arguments)
        }
    }

    var count: Int {
        switch self {
        case .text(_, let count): count
        case .values(let values): values.count
        }
    }

    /// The argument list as a JavaScript array in `ctx` (on the context's thread).
    func makeArray(_ ctx: JSContextRef) -> JSObjectRef? {
        switch self {
        case .text(let text, _): JSC.object(ctx, text.makeValue(ctx))
        case .values(let values): JSC.makeArray(ctx, values.map { value in { JSC.makeValue(ctx, value) } })
        }
    }
}
