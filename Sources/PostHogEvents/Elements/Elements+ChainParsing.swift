extension Elements {
    /// Reads an `elements_chain` back into records (ingestion.md §11.2), as the original's tests did
    /// to check ClickHouse rows. `\"` stays escaped, `nth-child`/`nth-of-type` become integers
    /// (JavaScript `parseInt`), unknown keys go to `attributes` (always present), `order` = position.
    public static func parseChain(_ chain: String) -> [Element] {
        chainSegments(Array(chain.unicodeScalars)).enumerated().map { position, segment in
            parseSegment(segment, position: position)
        }
    }

    /// The elements: maximal runs of anything but whitespace, `;` and `"`, or of quoted strings in
    /// which a backslash escapes the next character.
    private static func chainSegments(_ scalars: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var segments: [ArraySlice<Unicode.Scalar>] = []
        var index = 0
        var start: Int?
        func close() {
            if let begin = start { segments.append(scalars[begin..<index]) }
            start = nil
        }
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\"", let end = closingQuote(in: scalars, openingAt: index) {
                if start == nil { start = index }
                index = end + 1
            } else if scalar == "\"" || scalar == ";" || scalar.properties.isWhitespace {
                close()
                index += 1
            } else {
                if start == nil { start = index }
                index += 1
            }
        }
        close()
        return segments
    }

    /// Where a quoted string closes: the first `"` not escaped by a backslash, else (as a backtracking
    /// regular expression would settle) the last `"`; `nil` when no quote follows at all.
    private static func closingQuote(in scalars: [Unicode.Scalar], openingAt opening: Int) -> Int? {
        var index = opening + 1
        var lastQuote: Int?
        while index < scalars.count {
            switch scalars[index] {
            case "\\":
                if index + 1 < scalars.count, scalars[index + 1] == "\"" { lastQuote = index + 1 }
                index += 2
            case "\"": return index
            default: index += 1
            }
        }
        return lastQuote
    }

    private static func parseSegment(_ segment: ArraySlice<Unicode.Scalar>, position: Int) -> Element {
        var element = Element(attributes: JSONObject(), order: position)
        let scalars = Array(segment)
        // Tag and classes end at the first `:` followed by an attribute name and `=` (classes may hold `:`).
        var split = scalars.count
        for index in scalars.indices where scalars[index] == ":" && startsAttributes(scalars, at: index + 1) {
            split = index
            break
        }
        let head = String(String.UnicodeScalarView(scalars[..<split]))
        if !head.isEmpty {
            let parts = head.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            element.tagName = parts[0]
            if parts.count > 1 { element.attrClass = Array(parts.dropFirst()) }
        }
        guard split < scalars.count else { return element }
        for (key, value) in attributePairs(Array(scalars[(split + 1)...])) {
            switch key {
            case "href": element.href = value
            case "nth-child": element.nthChild = javaScriptParseInt(value)
            case "nth-of-type": element.nthOfType = javaScriptParseInt(value)
            case "text": element.text = value
            case "attr_id": element.attrId = value
            case "": continue
            default: element.attributes?[key] = .string(value)
            }
        }
        return element
    }

    /// `[a-zA-Z0-9_-]*=` at `index`.
    private static func startsAttributes(_ scalars: [Unicode.Scalar], at start: Int) -> Bool {
        var index = start
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "=" { return true }
            guard scalar.isASCII,
                scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_"
                    || scalar == "-"
            else { return false }
            index += 1
        }
        return false
    }

    /// `key="value"` pairs one after another; a value ends at the first `"` not preceded by `\`.
    private static func attributePairs(_ scalars: [Unicode.Scalar]) -> [(String, String)] {
        var pairs: [(String, String)] = []
        var index = 0
        while index < scalars.count {
            // The key runs to the first `="`.
            var equals = index
            while equals + 1 < scalars.count, !(scalars[equals] == "=" && scalars[equals + 1] == "\"") { equals += 1 }
            guard equals + 1 < scalars.count else { break }
            let valueStart = equals + 2
            var end = valueStart
            var lastQuote: Int?
            while end < scalars.count {
                if scalars[end] == "\"" {
                    if end == valueStart || scalars[end - 1] != "\\" { break }
                    lastQuote = end
                }
                end += 1
            }
            if end == scalars.count {
                guard let lastQuote else { break }
                end = lastQuote
            }
            pairs.append(
                (
                    String(String.UnicodeScalarView(scalars[index..<equals])),
                    String(String.UnicodeScalarView(scalars[valueStart..<end]))
                ))
            index = end + 1
        }
        return pairs
    }

    /// JavaScript `parseInt(text, 10)`: optional sign and leading digits after whitespace; `nil` for NaN.
    private static func javaScriptParseInt(_ text: String) -> JSON? {
        var scalars = Substring(text).unicodeScalars.drop(while: { $0.properties.isWhitespace })
        var sign = 1.0
        if let first = scalars.first, first == "-" || first == "+" {
            sign = first == "-" ? -1 : 1
            scalars = scalars.dropFirst()
        }
        let digits = scalars.prefix(while: { ("0"..."9").contains($0) })
        guard !digits.isEmpty, let value = Double(String(String.UnicodeScalarView(digits))) else { return nil }
        return .number(sign * value)
    }
}
