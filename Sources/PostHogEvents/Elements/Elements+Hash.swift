import Crypto

extension Elements {
    /// The element group hash (ingestion.md §11.3): md5 of a Python `json.dumps(sort_keys=True)`-style
    /// dump of nine fields per element, as the original computed it in JavaScript.
    public static func hash(_ elements: [Element]) -> String {
        let records: [JSON] = elements.enumerated().map { position, element in
            [
                "attributes": element.attributes.map(JSON.object) ?? .null,
                "text": element.text.map(JSON.string) ?? .null,
                "tag_name": element.tagName.map(JSON.string) ?? .null,
                "href": element.href.map(JSON.string) ?? .null,
                "attr_id": element.attrId.map(JSON.string) ?? .null,
                "attr_class": element.sortedAttrClass.map { .array($0.map(JSON.string)) } ?? .null,
                "nth_child": element.nthChild ?? .null,
                "nth_of_type": element.nthOfType ?? .null,
                // The position, whatever `order` the record carries.
                "order": .number(Double(position)),
            ]
        }
        var dump: [UInt8] = []
        PythonStyleJSONDump.write(.array(records), to: &dump)
        return Insecure.MD5.hash(data: dump).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

/// Python's `json.dumps(value, sort_keys=True)` as the original re-implemented it in JavaScript:
/// `", "`/`": "` separators, keys in UTF-16 code-unit order, every UTF-16 unit outside U+0020…U+007F
/// escaped as lowercase `\uxxxx` — except DEL, left raw (Quirk) — and numbers printed JavaScript-style.
enum PythonStyleJSONDump {
    static func write(_ value: JSON, to output: inout [UInt8]) {
        switch value {
        case .null, .bool, .number:
            value.write(to: &output)
        case .string(let text):
            writeString(text, to: &output)
        case .array(let items):
            output.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { output.append(contentsOf: [UInt8(ascii: ","), UInt8(ascii: " ")]) }
                write(item, to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            output.append(UInt8(ascii: "{"))
            let entries = object.entries.sorted { $0.key.precedesInUTF16Order($1.key) }
            for (index, entry) in entries.enumerated() {
                if index > 0 { output.append(contentsOf: [UInt8(ascii: ","), UInt8(ascii: " ")]) }
                writeString(entry.key, to: &output)
                output.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
                write(entry.value, to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func writeString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for unit in text.utf16 {
            switch unit {
            case 0x22: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case 0x5C: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x20...0x7F: output.append(UInt8(unit))
            default:
                output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u")])
                for shift in stride(from: 12, through: 0, by: -4) {
                    output.append(hexDigits[Int((unit >> UInt16(shift)) & 0xF)])
                }
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
