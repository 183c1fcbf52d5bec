/// Autocapture elements: from `$elements` to records (ingestion.md §11.1), and the forms the
/// original stored them in — the chain string (§11.2), the group hash (§11.3), the `elements` column (§15).
public enum Elements {
    static let maximumTextUTF16Length = 400
    static let maximumHrefUTF16Length = 2048
    static let attributePrefix = "attr__"

    /// The records for a non-empty `properties.$elements`, in order, with `order` = position.
    ///
    /// A present, non-null `$el_text`, `attr__href` or `attr__class` that is not a string made the
    /// original throw (it called string methods on it) and drop the event; this throws too, so the
    /// event is rejected with a reason instead of silently losing the element. A `null` entry throws
    /// for the same reason. A non-string `tag_name` or `attr__id` was stored as is by the original
    /// (Postgres casts it to text); it is coerced with JavaScript `String()`, which gives the same
    /// row and chain (the hash then sees a string where the original saw e.g. a number). An explicit
    /// `null` tag name or id becomes absent: same hash, chain and row, but `posthog_event.elements`
    /// omits the key where the original wrote `null`.
    public static func elements(fromProperty value: [JSON]) throws(EventDataError) -> [Element] {
        var elements: [Element] = []
        elements.reserveCapacity(value.count)
        for (position, entry) in value.enumerated() {
            elements.append(try element(from: entry, position: position))
        }
        return elements
    }

    private static func element(from entry: JSON, position: Int) throws(EventDataError) -> Element {
        let object: JSONObject
        switch entry {
        case .null:
            throw EventDataError(
                code: .invalidElement, field: "properties.$elements[\(position)]", reason: "an element is null")
        case .object(let value): object = value
        // Property access on another primitive or an array gives `undefined` in JavaScript.
        default: object = JSONObject()
        }

        func string(_ key: String) throws(EventDataError) -> String? {
            switch object[key] {
            case nil, .null?: return nil
            case .string(let text)?: return text
            default:
                throw EventDataError(
                    code: .invalidElement, field: "properties.$elements[\(position)].\(key)", reason: "not a string")
            }
        }
        func coercedString(_ key: String) -> String? {
            guard let value = object[key], !value.isNull else { return nil }
            return value.javaScriptString
        }

        var attributes = JSONObject()
        for (key, value) in object where key.hasPrefix(attributePrefix) { attributes[key] = value }
        return Element(
            text: try string("$el_text")?.truncatedToUTF16(maximumTextUTF16Length),
            tagName: coercedString("tag_name"),
            href: try string("attr__href")?.truncatedToUTF16(maximumHrefUTF16Length),
            // JavaScript split(' '): every single space separates, so "a  b" has an empty class.
            attrClass: try string("attr__class")?.split(separator: " ", omittingEmptySubsequences: false)
                .map(String.init)
                .sorted { $0.precedesInUTF16Order($1) },
            attrId: coercedString("attr__id"),
            nthChild: object["nth_child"],
            nthOfType: object["nth_of_type"],
            attributes: attributes,
            order: position
        )
    }

    /// The `posthog_event.elements` JSON (ingestion.md §15): present fields only, no `order`.
    public static func postgresElementsJSON(_ elements: [Element]) -> JSON {
        .array(
            elements.map { element in
                var object = JSONObject()
                if let text = element.text { object["text"] = .string(text) }
                if let tagName = element.tagName { object["tag_name"] = .string(tagName) }
                if let href = element.href { object["href"] = .string(href) }
                if let attrClass = element.sortedAttrClass { object["attr_class"] = .array(attrClass.map(JSON.string)) }
                if let attrId = element.attrId { object["attr_id"] = .string(attrId) }
                if let nthChild = element.nthChild { object["nth_child"] = nthChild }
                if let nthOfType = element.nthOfType { object["nth_of_type"] = nthOfType }
                if let attributes = element.attributes { object["attributes"] = .object(attributes) }
                return .object(object)
            })
    }
}
