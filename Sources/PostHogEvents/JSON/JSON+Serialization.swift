extension JSON {
    /// JavaScript `JSON.stringify(value)`: compact, raw UTF-8, `/` unescaped, JavaScript numbers.
    /// Non-finite numbers become `null`, as in JavaScript.
    public var jsonString: String {
        var writer = JSONTextWriter(capacity: 64)
        _ = writer.write(self, exact: false)
        return String(decoding: writer.text, as: UTF8.self)
    }

    public var jsonBytes: [UInt8] {
        var writer = JSONTextWriter(capacity: 64)
        _ = writer.write(self, exact: false)
        return Array(writer.text)
    }

    public func write(to output: inout [UInt8]) {
        var writer = JSONTextWriter(capacity: 64)
        _ = writer.write(self, exact: false)
        output.append(contentsOf: writer.text)
    }

    /// JSON text that `JSON.parse` turns back into exactly this value: as `jsonBytes`, except that
    /// -0 is written `-0` (which `JSON.parse` keeps). `false`, with `output` unchanged, when a number
    /// is not finite (no JSON text holds one).
    public func writeExact(to output: inout [UInt8]) -> Bool {
        withExactText(capacityHint: 64) { text in output.append(contentsOf: text) } != nil
    }

    /// Calls `body` with the exact text of `writeExact(to:)`, followed in memory by a NUL byte (not
    /// counted), which a C string API can take as is; `nil` when a number is not finite. The text
    /// is written in a buffer of `capacityHint` bytes, grown when it is short.
    public func withExactText<R>(capacityHint: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R? {
        var writer = JSONTextWriter(capacity: capacityHint)
        guard writer.write(self, exact: true) else { return nil }
        writer.terminate()
        return try body(writer.text)
    }
}

/// JSON text written through a pointer into a buffer it owns: no uniqueness or capacity check of an
/// array per byte, and runs of string bytes copied at once.
struct JSONTextWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var count = 0

    init(capacity: Int) {
        self.capacity = max(16, capacity)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// The text written so far (valid while the writer lives and is not written to).
    var text: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// A NUL byte after the text, not counted in it.
    mutating func terminate() {
        reserve(1)
        base[count] = 0
    }

    @inline(__always) private mutating func reserve(_ extra: Int) {
        if count &+ extra > capacity { grow(count + extra) }
    }

    private mutating func grow(_ needed: Int) {
        let newCapacity = max(needed, capacity * 2)
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always) private mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count &+= 1
    }

    private mutating func append(_ literal: StaticString) {
        let length = literal.utf8CodeUnitCount
        reserve(length)
        (base + count).update(from: literal.utf8Start, count: length)
        count &+= length
    }

    private mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let start = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (base + count).update(from: start, count: bytes.count)
        count &+= bytes.count
    }

    /// Writes `value`; `false` when `exact` and a number is not finite.
    mutating func write(_ value: JSON, exact: Bool) -> Bool {
        switch value {
        case .null: append("null")
        case .bool(let b): append(b ? "true" : "false")
        case .number(let n):
            if n.isFinite {
                if exact, n == 0, n.sign == .minus { append(UInt8(ascii: "-")) }
                writeNumber(n)
            } else {
                if exact { return false }
                append("null")
            }
        case .string(let s): writeString(s)
        case .array(let items):
            append(UInt8(ascii: "["))
            var first = true
            for item in items {
                if !first { append(UInt8(ascii: ",")) }
                first = false
                guard write(item, exact: exact) else { return false }
            }
            append(UInt8(ascii: "]"))
        case .object(let object):
            append(UInt8(ascii: "{"))
            var first = true
            for entry in object.entries {
                if !first { append(UInt8(ascii: ",")) }
                first = false
                writeString(entry.key)
                append(UInt8(ascii: ":"))
                guard write(entry.value, exact: exact) else { return false }
            }
            append(UInt8(ascii: "}"))
        }
        return true
    }

    /// A finite number as JavaScript prints it; integers below 2^53 digit by digit.
    private mutating func writeNumber(_ n: Double) {
        guard n.magnitude < 9_007_199_254_740_992, n.rounded(.towardZero) == n else {
            var text = JSNumberFormatter.string(n)
            text.withUTF8 { append($0) }
            return
        }
        var value = Int64(n)
        if value < 0 {
            append(UInt8(ascii: "-"))
            value = -value
        }
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        reserve(digits)
        var position = count &+ digits
        repeat {
            position -= 1
            base[position] = UInt8(truncatingIfNeeded: value % 10) &+ 0x30
            value /= 10
        } while value > 0
        count &+= digits
    }

    private static let hexDigits: StaticString = "0123456789abcdef"

    private mutating func writeString(_ string: String) {
        if let done: Void = string.utf8.withContiguousStorageIfAvailable({ writeString(utf8: $0) }) { return done }
        var copy = string
        copy.withUTF8 { writeString(utf8: $0) }
    }

    private mutating func writeString(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        reserve(bytes.count &+ 2)
        base[count] = UInt8(ascii: "\"")
        count &+= 1
        // Runs of bytes that need no escape are copied at once.
        var runStart = 0
        var index = 0
        while index < bytes.count {
            index = JSONTextWriter.firstEscape(in: bytes, from: index)
            guard index < bytes.count else { break }
            let byte = bytes[index]
            append(UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            index += 1
            runStart = index
            append(0x5C)
            switch byte {
            case 0x22: append(0x22)
            case 0x5C: append(0x5C)
            case 0x08: append(UInt8(ascii: "b"))
            case 0x0C: append(UInt8(ascii: "f"))
            case 0x0A: append(UInt8(ascii: "n"))
            case 0x0D: append(UInt8(ascii: "r"))
            case 0x09: append(UInt8(ascii: "t"))
            default:
                append("u00")
                append(Self.hexDigits.utf8Start[Int(byte >> 4)])
                append(Self.hexDigits.utf8Start[Int(byte & 0xF)])
            }
        }
        append(UnsafeBufferPointer(rebasing: bytes[runStart...]))
        append(UInt8(ascii: "\""))
    }
}

extension JSONTextWriter {
    /// The index of the first byte at or after `start` that a JSON string must escape (a control
    /// character, `"` or `\\`), or `bytes.count`. Eight bytes at a time: a word has such a byte when
    /// one of its bytes is below 0x20 or is zero after XOR with `"` or `\\` repeated.
    @inline(__always)
    static func firstEscape(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var index = start
        if let base = bytes.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            while index &+ 8 <= bytes.count {
                let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
                let quote = word ^ (ones &* 0x22)
                let backslash = word ^ (ones &* 0x5C)
                // Exact per byte for the lowest flagged byte, which is all the scan needs.
                let flags =
                    ((word &- ones &* 0x20) | (quote &- ones) | (backslash &- ones)) & ~word & highs
                if flags != 0 { return index &+ flags.trailingZeroBitCount / 8 }
                index &+= 8
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x20 || byte == 0x22 || byte == 0x5C { return index }
            index &+= 1
        }
        return index
    }
}

extension JSON: CustomStringConvertible {
    public var description: String { jsonString }
}
