extension JSON {
    /// JavaScript `JSON.stringify(value)`: compact, raw UTF-8, `/` unescaped, JavaScript numbers.
    /// Non-finite numbers become `null`, as in JavaScript.
    public var jsonString: String {
        var output: [UInt8] = []
        output.reserveCapacity(64)
        write(to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    public var jsonBytes: [UInt8] {
        var output: [UInt8] = []
        write(to: &output)
        return output
    }

    public func write(to output: inout [UInt8]) {
        _ = write(to: &output, exact: false)
    }

    /// JSON text that `JSON.parse` turns back into exactly this value: as `jsonBytes`, except that
    /// -0 is written `-0` (which `JSON.parse` keeps). `false`, with `output` partly written, when a
    /// number is not finite (no JSON text holds one).
    public func writeExact(to output: inout [UInt8]) -> Bool {
        write(to: &output, exact: true)
    }

    private func write(to output: inout [UInt8], exact: Bool) -> Bool {
        switch self {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let b): output.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n):
            if n.isFinite {
                if exact, n == 0, n.sign == .minus { output.append(UInt8(ascii: "-")) }
                JSON.writeNumber(n, to: &output)
            } else {
                if exact { return false }
                output.append(contentsOf: "null".utf8)
            }
        case .string(let s): JSON.writeString(s, to: &output)
        case .array(let items):
            output.append(UInt8(ascii: "["))
            var first = true
            for item in items {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                guard item.write(to: &output, exact: exact) else { return false }
            }
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            output.append(UInt8(ascii: "{"))
            var first = true
            for entry in object.entries {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                JSON.writeString(entry.key, to: &output)
                output.append(UInt8(ascii: ":"))
                guard entry.value.write(to: &output, exact: exact) else { return false }
            }
            output.append(UInt8(ascii: "}"))
        }
        return true
    }

    /// A finite number as JavaScript prints it; integers below 2^53 without a `String` in between.
    static func writeNumber(_ n: Double, to output: inout [UInt8]) {
        if n.magnitude < 9_007_199_254_740_992, n.rounded(.towardZero) == n {
            var value = Int64(n)
            if value < 0 {
                output.append(UInt8(ascii: "-"))
                value = -value
            }
            // At most 16 digits, written backwards into a fixed buffer.
            var digits: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &digits) { buffer in
                var position = buffer.count
                repeat {
                    position -= 1
                    buffer[position] = UInt8(truncatingIfNeeded: value % 10) &+ 0x30
                    value /= 10
                } while value > 0
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[position...]))
            }
            return
        }
        output.append(contentsOf: JSNumberFormatter.string(n).utf8)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ string: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            // Runs of bytes that need no escape are copied at once.
            var runStart = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                if runStart < index { output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index])) }
                runStart = index + 1
                output.append(0x5C)
                switch byte {
                case 0x22: output.append(0x22)
                case 0x5C: output.append(0x5C)
                case 0x08: output.append(UInt8(ascii: "b"))
                case 0x0C: output.append(UInt8(ascii: "f"))
                case 0x0A: output.append(UInt8(ascii: "n"))
                case 0x0D: output.append(UInt8(ascii: "r"))
                case 0x09: output.append(UInt8(ascii: "t"))
                default:
                    output.append(UInt8(ascii: "u"))
                    output.append(0x30)
                    output.append(0x30)
                    output.append(hexDigits[Int(byte >> 4)])
                    output.append(hexDigits[Int(byte & 0xF)])
                }
            }
            if runStart < bytes.count { output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...])) }
        }
        output.append(UInt8(ascii: "\""))
    }
}

extension JSON: CustomStringConvertible {
    public var description: String { jsonString }
}
