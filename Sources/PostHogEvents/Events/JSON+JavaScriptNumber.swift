import Foundation

extension JSON {
    /// JavaScript `Number(value)` (ECMAScript ToNumber), for inputs the original coerced.
    var javaScriptNumber: Double {
        switch self {
        case .null: return 0
        case .bool(let flag): return flag ? 1 : 0
        case .number(let number): return number
        case .string(let text): return Self.javaScriptNumber(parsing: text)
        case .array: return Self.javaScriptNumber(parsing: javaScriptString)
        case .object: return .nan
        }
    }

    /// ECMAScript StringToNumber: trimmed; empty is 0; decimal literals, `Infinity`, `0x`/`0o`/`0b`.
    static func javaScriptNumber(parsing text: String) -> Double {
        let trimmed = text.unicodeScalars.drop(while: Self.isJavaScriptWhitespace)
            .reversed().drop(while: Self.isJavaScriptWhitespace).reversed()
        let body = String(String.UnicodeScalarView(trimmed))
        if body.isEmpty { return 0 }
        for (prefix, radix) in [("0x", 16), ("0X", 16), ("0o", 8), ("0O", 8), ("0b", 2), ("0B", 2)]
        where body.hasPrefix(prefix) {
            let digits = body.dropFirst(2)
            guard !digits.isEmpty else { return .nan }
            var value = 0.0
            for character in digits {
                guard let digit = character.hexDigitValue, digit < radix else { return .nan }
                value = value * Double(radix) + Double(digit)
            }
            return value
        }
        var unsigned = Substring(body)
        var sign = 1.0
        if let first = unsigned.first, first == "+" || first == "-" {
            sign = first == "-" ? -1 : 1
            unsigned = unsigned.dropFirst()
        }
        if unsigned == "Infinity" { return sign * .infinity }
        // StrDecimalLiteral: digits with optional point and exponent; Swift's Double() also takes
        // "nan", "inf" and hex floats, which JavaScript does not, so check the shape first.
        var sawDigit = false
        var sawPoint = false
        var sawExponent = false
        var previous: Character = " "
        for character in unsigned {
            switch character {
            case "0"..."9": sawDigit = true
            case "." where !sawPoint && !sawExponent: sawPoint = true
            case "e", "E":
                guard sawDigit, !sawExponent else { return .nan }
                sawExponent = true
            case "+", "-":
                guard previous == "e" || previous == "E" else { return .nan }
            default: return .nan
            }
            previous = character
        }
        guard sawDigit, let value = Double(unsigned) else { return .nan }
        return sign * value
    }

    private static func isJavaScriptWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F,
            0x3000, 0xFEFF:
            return true
        default: return false
        }
    }
}
