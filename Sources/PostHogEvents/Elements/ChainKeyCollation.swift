import Foundation

/// The order of attribute pairs in `elements_chain`: JavaScript `localeCompare`, i.e. ICU's en-US
/// (root) collation at tertiary strength (ingestion.md §11.2). Foundation on Linux and Apple platforms
/// compares with ICU when given a locale; the tests pin the verified ordering of §11.2.
enum ChainKeyCollation {
    private static let locale = Locale(identifier: "en_US")

    static func areInIncreasingOrder(_ lhs: String, _ rhs: String) -> Bool {
        // No code-point fast path: even all-ASCII keys differ (`_` sorts before `-` and digits).
        lhs.compare(rhs, options: [], range: nil, locale: locale) == .orderedAscending
    }
}
