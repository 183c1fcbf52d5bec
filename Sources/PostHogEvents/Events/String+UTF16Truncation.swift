extension String {
    /// The first `limit` UTF-16 code units, as JavaScript's `slice(0, limit)` / `substr(0, limit)`.
    /// A cut through a surrogate pair would leave a lone surrogate, which a Swift string cannot hold
    /// and Postgres stores as U+FFFD anyway; the dangling half becomes U+FFFD (ingestion.md §4.3).
    func truncatedToUTF16(_ limit: Int) -> String {
        let units = utf16
        guard units.count > limit else { return self }
        let end = units.index(units.startIndex, offsetBy: limit)
        if end != units.endIndex, UTF16.isTrailSurrogate(units[end]) {
            let beforeLead = units.index(before: end)
            return String(unicodeScalars[..<beforeLead]) + "\u{FFFD}"
        }
        // Sliced through the scalar view: the cut may fall inside a grapheme cluster.
        return String(unicodeScalars[..<end])
    }

    /// Ascending UTF-16 code-unit order: JavaScript's default `Array.prototype.sort` and the key
    /// order of the element hash. Swift's own `<` compares canonically, which differs.
    func precedesInUTF16Order(_ other: String) -> Bool {
        utf16.lexicographicallyPrecedes(other.utf16)
    }
}
