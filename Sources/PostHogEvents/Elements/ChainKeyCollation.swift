import Foundation

/// The order of attribute pairs in `elements_chain`: JavaScript `localeCompare`, i.e. ICU's en-US
/// (root) collation at tertiary strength (ingestion.md §11.2). ASCII keys take an exact fast path;
/// others go to Foundation, which compares with ICU when given a locale (about 2 µs a comparison).
enum ChainKeyCollation {
    private static let locale = Locale(identifier: "en_US")

    static func areInIncreasingOrder(_ lhs: String, _ rhs: String) -> Bool {
        let order = asciiOrder(lhs, rhs) ?? lhs.compare(rhs, options: [], range: nil, locale: locale)
        return order == .orderedAscending
    }

    /// ICU root order for all-ASCII strings, `nil` otherwise. Every ASCII character is one collation
    /// element, so ICU compares the primary weights of the whole strings first (letters case-folded),
    /// then their case (lowercase first); secondary weights are all equal; control characters other
    /// than TAB, LF, VT, FF and CR are ignorable.
    static func asciiOrder(_ lhs: String, _ rhs: String) -> ComparisonResult? {
        guard lhs.utf8.allSatisfy({ $0 < 0x80 }), rhs.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        var left = lhs.utf8.lazy.filter { primaryWeights[Int($0)] != 0 }.makeIterator()
        var right = rhs.utf8.lazy.filter { primaryWeights[Int($0)] != 0 }.makeIterator()
        var caseOrder = ComparisonResult.orderedSame
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil): return caseOrder
            case (nil, _): return .orderedAscending
            case (_, nil): return .orderedDescending
            case (let l?, let r?):
                let (leftWeight, rightWeight) = (primaryWeights[Int(l)], primaryWeights[Int(r)])
                if leftWeight != rightWeight { return leftWeight < rightWeight ? .orderedAscending : .orderedDescending }
                // The first case difference decides, but only once all primary weights are equal.
                if caseOrder == .orderedSame, l != r { caseOrder = isUppercase(l) ? .orderedDescending : .orderedAscending }
            }
        }
    }

    private static func isUppercase(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") }

    /// ICU root primary order of ASCII (checked against Foundation's ICU in the tests); 0 = ignorable.
    private static let primaryWeights: [UInt8] = {
        let order = "\t\n\u{0B}\u{0C}\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
        var weights = [UInt8](repeating: 0, count: 128)
        for (rank, byte) in order.utf8.enumerated() { weights[Int(byte)] = UInt8(rank + 1) }
        for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { weights[Int(byte)] = weights[Int(byte + 0x20)] }
        return weights
    }()
}
