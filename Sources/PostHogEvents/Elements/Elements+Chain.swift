extension Elements {
    /// The `elements_chain` string (ingestion.md §11.2): `tag.class.class:key="value"…` per element,
    /// joined by `;`. A `null` attribute value made the original throw (no string form) and drop the
    /// event; here it renders as `""` (the reference's recommended alternative), so the event is kept.
    public static func chain(_ elements: [Element]) -> String {
        elements.map(chainSegment).joined(separator: ";")
    }

    private static func chainSegment(_ element: Element) -> String {
        var segment = ""
        if let tagName = element.tagName, !tagName.isEmpty { segment += tagName }
        for single in element.sortedAttrClass ?? [] {
            segment += "." + single.replacingEvery("\"", with: "")
        }
        segment += ":"

        // The original built this object with spreads, so `attributes` may override the defaults.
        var pairs = JSONObject()
        if let text = element.text, !text.isEmpty { pairs["text"] = .string(text) }
        pairs["nth-child"] = nonNull(element.nthChild) ?? 0
        pairs["nth-of-type"] = nonNull(element.nthOfType) ?? 0
        if let href = element.href, !href.isEmpty { pairs["href"] = .string(href) }
        if let attrId = element.attrId, !attrId.isEmpty { pairs["attr_id"] = .string(attrId) }
        if let attributes = element.attributes { pairs.merge(attributes) }

        // Stable sort by collation; then, as the original's `Object.fromEntries`, escaped keys go back
        // into an object, which puts array-index keys first and lets a duplicate key keep its first slot.
        let sorted = pairs.entries.enumerated().sorted { left, right in
            if ChainKeyCollation.areInIncreasingOrder(left.element.key, right.element.key) { return true }
            if ChainKeyCollation.areInIncreasingOrder(right.element.key, left.element.key) { return false }
            return left.offset < right.offset
        }
        var escaped = JSONObject()
        for (_, pair) in sorted {
            let value = pair.value.isNull ? "" : pair.value.javaScriptString
            escaped[escapeQuotes(pair.key)] = .string(escapeQuotes(value))
        }
        for (key, value) in escaped {
            segment += key + "=\"" + (value.stringValue ?? "") + "\""
        }
        return segment
    }

    /// `"` becomes `\"`; backslashes are left alone (§11.2).
    private static func escapeQuotes(_ text: String) -> String {
        text.replacingEvery("\"", with: "\\\"")
    }

    /// JavaScript `??` treats `null` like absent.
    private static func nonNull(_ value: JSON?) -> JSON? {
        guard let value, !value.isNull else { return nil }
        return value
    }
}

extension String {
    /// Replaces every occurrence of one character, by Unicode scalar (not grapheme), as JavaScript does.
    fileprivate func replacingEvery(_ target: Unicode.Scalar, with replacement: String) -> String {
        guard unicodeScalars.contains(target) else { return self }
        var result = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            if scalar == target { result.append(contentsOf: replacement.unicodeScalars) } else { result.append(scalar) }
        }
        return String(result)
    }
}
