import NIOCore

/// Turns RESP2 bytes into replies as they arrive. Bytes may be split anywhere; a partly received
/// array keeps its finished elements between calls, so no element is parsed twice.
struct RESPDecoder {
    /// Redis's own `proto-max-bulk-len` default; anything longer is a corrupt stream, not a value.
    static let maximumBulkLength = 512 * 1024 * 1024

    private struct PartialArray {
        var remaining: Int
        var elements: [RESPValue]
    }

    private enum Token {
        case value(RESPValue)
        case arrayHeader(count: Int)
    }

    private var openArrays: [PartialArray] = []

    /// Consumes bytes of `buffer` and returns the next complete reply, or nil when more bytes are needed.
    /// Only whole elements are consumed, so the caller may append to the buffer and call again.
    mutating func decode(_ buffer: inout ByteBuffer) throws(RESPDecodingError) -> RESPValue? {
        nextToken: while let token = try Self.readToken(&buffer) {
            var completed: RESPValue
            switch token {
            case .arrayHeader(let count):
                // Cap the reservation: the count comes from the wire before the elements do.
                var elements: [RESPValue] = []
                elements.reserveCapacity(min(count, 1024))
                openArrays.append(PartialArray(remaining: count, elements: elements))
                continue nextToken
            case .value(let value):
                completed = value
            }
            while !openArrays.isEmpty {
                let last = openArrays.count - 1
                openArrays[last].elements.append(completed)
                openArrays[last].remaining -= 1
                if openArrays[last].remaining > 0 { continue nextToken }
                completed = .array(openArrays.removeLast().elements)
            }
            return completed
        }
        return nil
    }

    /// Reads one scalar or array header, moving the reader index only when it is complete.
    private static func readToken(_ buffer: inout ByteBuffer) throws(RESPDecodingError) -> Token? {
        let start = buffer.readerIndex
        guard let typeByte = buffer.getInteger(at: start, as: UInt8.self) else { return nil }
        guard let lineEnd = try lineEnd(in: buffer, from: start + 1) else { return nil }
        let lineLength = lineEnd - (start + 1)
        let afterLine = lineEnd + 2

        switch typeByte {
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let text = buffer.getString(at: start + 1, length: lineLength) ?? ""
            buffer.moveReaderIndex(to: afterLine)
            return .value(typeByte == UInt8(ascii: "+") ? .simpleString(text) : .error(text))

        case UInt8(ascii: ":"):
            let value = try integer(in: buffer, at: start + 1, length: lineLength)
            buffer.moveReaderIndex(to: afterLine)
            return .value(.integer(value))

        case UInt8(ascii: "$"):
            let length = try integer(in: buffer, at: start + 1, length: lineLength)
            if length == -1 {
                buffer.moveReaderIndex(to: afterLine)
                return .value(.null)
            }
            guard length >= 0, length <= maximumBulkLength else {
                throw RESPDecodingError("bulk string length \(length) is out of range")
            }
            guard buffer.writerIndex - afterLine >= length + 2 else { return nil }
            guard buffer.getInteger(at: afterLine + length, as: UInt16.self) == crlf else {
                throw RESPDecodingError("bulk string of \(length) bytes is not followed by CRLF")
            }
            let bytes = buffer.getBytes(at: afterLine, length: length) ?? []
            buffer.moveReaderIndex(to: afterLine + length + 2)
            return .value(.bulkString(bytes))

        case UInt8(ascii: "*"):
            let count = try integer(in: buffer, at: start + 1, length: lineLength)
            buffer.moveReaderIndex(to: afterLine)
            switch count {
            case -1: return .value(.null)
            case 0: return .value(.array([]))
            case 1...: return .arrayHeader(count: count)
            default: throw RESPDecodingError("array length \(count) is out of range")
            }

        default:
            throw RESPDecodingError("unknown RESP type byte \(typeByte)")
        }
    }

    private static let crlf = UInt16(UInt8(ascii: "\r")) << 8 | UInt16(UInt8(ascii: "\n"))

    /// Index of the CR of the first CRLF at or after `index`, nil if the line is not complete yet.
    private static func lineEnd(in buffer: ByteBuffer, from index: Int) throws(RESPDecodingError) -> Int? {
        let view = buffer.readableBytesView
        let offset = index - buffer.readerIndex
        guard offset <= view.count else { return nil }
        let rest = view.dropFirst(offset)
        guard let newline = rest.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let cr = newline - 1
        guard cr >= rest.startIndex, view[cr] == UInt8(ascii: "\r") else {
            throw RESPDecodingError("line ends with LF without CR")
        }
        // ByteBufferView indices are buffer indices, so this is directly usable with get* calls.
        return cr
    }

    private static func integer(in buffer: ByteBuffer, at index: Int, length: Int) throws(RESPDecodingError) -> Int {
        guard let bytes = buffer.viewBytes(at: index, length: length), !bytes.isEmpty else {
            throw RESPDecodingError("empty integer")
        }
        var negative = false
        var value = 0
        for (position, byte) in bytes.enumerated() {
            if position == 0, byte == UInt8(ascii: "-"), bytes.count > 1 {
                negative = true
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw RESPDecodingError("invalid integer")
            }
            let digit = Int(byte - UInt8(ascii: "0"))
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) =
                negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { throw RESPDecodingError("integer overflows 64 bits") }
            value = next
        }
        return value
    }
}

/// Why a byte stream is not RESP2. Becomes a `RedisError` with code `.protocolViolation`.
struct RESPDecodingError: Error, Hashable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}
