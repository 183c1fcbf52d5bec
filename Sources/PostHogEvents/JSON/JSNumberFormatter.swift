/// Formats doubles exactly as JavaScript's `Number.prototype.toString()` does (ECMAScript
/// Number::toString), so JSON text, `String(x)` and hashes match the original byte for byte.
public enum JSNumberFormatter {
    public static func string(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == 0 { return "0" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        if value < 0 { return "-" + string(-value) }
        // Fast path for integers that are exactly representable.
        if value < 1e15, value.rounded(.towardZero) == value { return String(Int64(value)) }

        // Swift's description is the shortest round-trip digit string; re-lay it out per ECMAScript.
        let (digits, n) = shortestDigits(value)
        let k = digits.count
        if k <= n && n <= 21 {
            return String(decoding: digits, as: UTF8.self) + String(repeating: "0", count: n - k)
        }
        if 0 < n && n <= 21 {
            return String(decoding: digits[0..<n], as: UTF8.self) + "."
                + String(decoding: digits[n...], as: UTF8.self)
        }
        if -6 < n && n <= 0 {
            return "0." + String(repeating: "0", count: -n) + String(decoding: digits, as: UTF8.self)
        }
        let exponent = n - 1
        let sign = exponent < 0 ? "-" : "+"
        let mantissa =
            k == 1
            ? String(decoding: digits, as: UTF8.self)
            : String(decoding: digits[0..<1], as: UTF8.self) + "." + String(decoding: digits[1...], as: UTF8.self)
        return mantissa + "e" + sign + String(abs(exponent))
    }

    /// The shortest digits `s` (no leading or trailing zeros) and the decimal exponent `n` such that
    /// `value == 0.s × 10^n`.
    static func shortestDigits(_ value: Double) -> (digits: [UInt8], n: Int) {
        let description = value.description.utf8
        var mantissa = Substring(value.description)
        var exponent = 0
        if let e = description.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            let text = value.description
            let index = text.utf8.index(text.utf8.startIndex, offsetBy: description.distance(from: description.startIndex, to: e))
            mantissa = text[text.startIndex..<index]
            exponent = Int(text[text.index(after: index)...]) ?? 0
        }
        var digits: [UInt8] = []
        var pointPosition = 0
        var seenPoint = false
        for byte in mantissa.utf8 {
            if byte == UInt8(ascii: ".") {
                seenPoint = true
                continue
            }
            digits.append(byte)
            if !seenPoint { pointPosition += 1 }
        }
        pointPosition += exponent
        while let first = digits.first, first == UInt8(ascii: "0") {
            digits.removeFirst()
            pointPosition -= 1
        }
        while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
        return (digits, pointPosition)
    }
}
