/// Why parsing failed, with the byte offset, for log lines and dead-letter reasons.
public struct JSONParseError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public var offset: Int
    public var description: String { "\(message) at offset \(offset)" }
}

extension JSON {
    /// Parses JSON text as JavaScript's `JSON.parse` does (lone surrogate escapes become U+FFFD,
    /// which a Swift string cannot hold otherwise).
    public init(parsing text: String) throws(JSONParseError) {
        var text = text
        let result = text.withUTF8 { buffer in Result { () throws(JSONParseError) in try JSON(parsingUTF8: buffer) } }
        self = try result.get()
    }

    public init(parsing bytes: [UInt8]) throws(JSONParseError) {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) in try JSON(parsingUTF8: buffer) }
        }
        self = try result.get()
    }

    public init(parsingUTF8 buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) {
        try self.init(parsingUTF8: buffer, uniqueKeys: false)
    }

    /// Parses text that `JSON.stringify` made, whose objects never repeat a key: each object's
    /// entries are appended as read, without looking for an earlier entry of the same key (which
    /// makes parsing an object linear instead of quadratic in its size). Array-index keys are still
    /// put first; anything else is as `init(parsingUTF8:)`. Text with a repeated key must go there.
    public init(parsingStringifiedUTF8 buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) {
        try self.init(parsingUTF8: buffer, uniqueKeys: true)
    }

    private init(parsingUTF8 buffer: UnsafeBufferPointer<UInt8>, uniqueKeys: Bool) throws(JSONParseError) {
        var parser = JSONParser(bytes: buffer, uniqueKeys: uniqueKeys)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == buffer.count else { throw parser.error("Unexpected data after the JSON value") }
        self = value
    }
}

private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    /// Objects are known not to repeat a key (see `JSON(parsingStringifiedUTF8:)`).
    let uniqueKeys: Bool
    var index = 0
    static let maximumDepth = 512

    init(bytes: UnsafeBufferPointer<UInt8>, uniqueKeys: Bool) {
        self.bytes = bytes
        self.uniqueKeys = uniqueKeys
    }

    func error(_ message: String) -> JSONParseError { JSONParseError(message: message, offset: index) }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSON {
        guard depth < Self.maximumDepth else { throw error("JSON nested too deeply") }
        guard index < bytes.count else { throw error("Unexpected end of JSON input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error("Unexpected token in JSON")
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("Unexpected end of JSON input") }
        for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] {
            throw error("Unexpected token in JSON")
        }
        index += count
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSON {
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(JSONObject())
        }
        // Room for an event's top level at once; larger objects regrow a few times.
        var entries: [(key: String, value: JSON)] = []
        entries.reserveCapacity(8)
        var digitLeadsNoKey = true
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("Expected a property name") }
            // An escape may stand for a digit ("\u0030").
            if index + 1 < bytes.count, bytes[index + 1] &- UInt8(ascii: "0") < 10 || bytes[index + 1] == UInt8(ascii: "\\") {
                digitLeadsNoKey = false
            }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("Expected ':'") }
            index += 1
            skipWhitespace()
            entries.append((key, try parseValue(depth: depth + 1)))
            skipWhitespace()
            guard index < bytes.count else { throw error("Unexpected end of JSON input") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw error("Expected ',' or '}'") }
            index += 1
            return .object(JSONObject(parsed: entries, keysAreUnique: uniqueKeys, digitLeadsNoKey: digitLeadsNoKey))
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSON {
        index += 1
        var items: [JSON] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard index < bytes.count else { throw error("Unexpected end of JSON input") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw error("Expected ',' or ']'") }
            index += 1
            return .array(items)
        }
    }

    mutating func parseString() throws(JSONParseError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes. The end quote, an escape and a control character are the bytes a
        // JSON string escapes when written, so the writer's scan finds the first of them.
        index = JSONTextWriter.firstEscape(in: bytes, from: index)
        if index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return String(decoding: slice, as: UTF8.self)
            }
            if byte < 0x20 { throw error("Bad control character in string literal") }
        }
        // With escapes: the string's UTF-8 is collected in one buffer (escapes decoded into it) and
        // made a String once. Appending to a `UnicodeScalarView` took a slow path for every run of text.
        // Each pass takes the run of text the last scan passed over, then the byte that ended it.
        var utf8: [UInt8] = []
        utf8.reserveCapacity(index - start + 16)
        var runStart = start
        while true {
            utf8.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: utf8, as: UTF8.self)
            }
            if byte < 0x20 { throw error("Bad control character in string literal") }
            // A backslash.
            index += 1
            guard index < bytes.count else { break }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): utf8.append(0x22)
            case UInt8(ascii: "\\"): utf8.append(0x5C)
            case UInt8(ascii: "/"): utf8.append(0x2F)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                let unit = try parseHex4()
                var scalar = Unicode.Scalar(UInt32(unit))
                if (0xD800...0xDBFF).contains(unit), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u")
                {
                    let saved = index
                    index += 2
                    let low = try parseHex4()
                    if (0xDC00...0xDFFF).contains(low) {
                        scalar = Unicode.Scalar(0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00))
                    } else {
                        index = saved
                    }
                }
                // A lone surrogate becomes U+FFFD, which a Swift string can hold in its place.
                UTF8.encode(scalar ?? "\u{FFFD}") { utf8.append($0) }
            default:
                throw error("Bad escaped character in JSON")
            }
            runStart = index
            index = JSONTextWriter.firstEscape(in: bytes, from: index)
        }
        throw error("Unterminated string in JSON")
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt16 {
        guard index + 4 <= bytes.count else { throw error("Bad Unicode escape in JSON") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - 0x30
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - 0x57
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - 0x37
            default: throw error("Bad Unicode escape in JSON")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    mutating func parseNumber() throws(JSONParseError) -> Double {
        let start = index
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < bytes.count else { throw error("No number after minus sign in JSON") }
        // The integer part's value, exact while it has at most 15 digits.
        var integer: Int64 = 0
        let integerStart = index
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[index]) {
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                integer = integer &* 10 &+ Int64(bytes[index] &- 0x30)
                index += 1
            }
        } else {
            throw error("No number after minus sign in JSON")
        }
        // Fast path: an integer below 10^15 is exactly a Double; "-0" is -0, as in JavaScript.
        if index - integerStart <= 15,
            index == bytes.count
                || (bytes[index] != UInt8(ascii: ".") && bytes[index] != UInt8(ascii: "e") && bytes[index] != UInt8(ascii: "E"))
        {
            return negative ? -Double(integer) : Double(integer)
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let digitsStart = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > digitsStart else { throw error("Unterminated fractional number in JSON") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            let digitsStart = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > digitsStart else { throw error("Exponent part is missing a number in JSON") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else { throw error("Invalid number in JSON") }
        return value
    }
}
