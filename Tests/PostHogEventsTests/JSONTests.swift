import Testing

@testable import PostHogEvents

@Suite struct JSONTests {
    @Test("numbers print as JavaScript prints them")
    func javaScriptNumbers() {
        // Literals a Double cannot hold exactly are parsed at run time: the compiler warns on them.
        let cases: [(Double, String)] = [
            (1, "1"), (1.5, "1.5"), (-0.0, "0"), (100, "100"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
            (1e-7, "1e-7"), (0.000001, "0.000001"), (Double("123456789012345680000")!, "123456789012345680000"),
            (0.1, "0.1"), (299.99, "299.99"), (1.7976931348623157e308, "1.7976931348623157e+308"),
            (.leastNonzeroMagnitude, "5e-324"), (-42, "-42"), (1.25e-10, "1.25e-10"), (123e18, "123000000000000000000"),
            (Double("9007199254740993")!, "9007199254740992"),
        ]
        for (value, expected) in cases {
            #expect(JSNumberFormatter.string(value) == expected, "\(value)")
        }
    }

    @Test("objects keep insertion order with array-index keys first")
    func keyOrder() throws {
        let value = try JSON(parsing: #"{"b":1,"a":2,"10":3,"2":4,"02":5,"-1":6}"#)
        #expect(value.objectValue?.keys == ["2", "10", "b", "a", "02", "-1"])
        #expect(value.jsonString == #"{"2":4,"10":3,"b":1,"a":2,"02":5,"-1":6}"#)
    }

    @Test("keys are looked up by their text: same-length keys, other lengths, and a decomposed accent")
    func keyLookup() {
        var object: JSONObject = ["event": 1, "team_id": 2, "$ip": 3, "\u{e9}": 4]
        object["e\u{301}"] = 5
        object["team_id"] = 6
        #expect(object.keys == ["event", "team_id", "$ip", "\u{e9}", "e\u{301}"])
        #expect(object["team_id"] == 6 && object["event"] == 1 && object["$ip"] == 3)
        #expect(object["\u{e9}"] == 4 && object["e\u{301}"] == 5)
        #expect(object["evenT"] == nil && object["team"] == nil)
        // A literal is built as JavaScript assigns it: a repeated key keeps its first place and last value.
        let literal = JSON.object(JSONObject(literal: [("b", 1), ("7", 2), ("a", 3), ("b", 4), ("3", 5)]))
        #expect(literal.objectValue?.keys == ["3", "7", "b", "a"])
        #expect(literal["b"] == 4)
        #expect(literal.jsonString == #"{"3":5,"7":2,"b":4,"a":3}"#)
        let inOrder: JSON = ["1": 1, "2": 2, "x": 3]
        #expect(inOrder.objectValue?.keys == ["1", "2", "x"])
    }

    @Test("stringify matches JSON.stringify: raw UTF-8, slash unescaped, control characters escaped")
    func stringify() throws {
        let value: JSON = ["url": "http://x/y", "emoji": "💻 café", "ctl": "a\u{01}\n\"\\"]
        #expect(value.jsonString == "{\"url\":\"http://x/y\",\"emoji\":\"💻 café\",\"ctl\":\"a\\u0001\\n\\\"\\\\\"}")
    }

    @Test("escapes, surrogate pairs and lone surrogates parse like JSON.parse")
    func escapes() throws {
        #expect(try JSON(parsing: #""\ud83d\udcbb""#) == .string("💻"))
        #expect(try JSON(parsing: #""a\ud83d""#) == .string("a\u{FFFD}"))
        #expect(try JSON(parsing: #""\u00e9\/""#) == .string("é/"))
        // Runs of text between escapes, multi-byte text beside them, escapes first and last.
        #expect(try JSON(parsing: #""\"a\\b\nc\td\re\bf\fg\u0000h""#) == .string("\"a\\b\nc\td\re\u{8}f\u{C}g\u{0}h"))
        #expect(try JSON(parsing: #""é\n日本\u65e5\ud83d\udcbbx\udcbb\ud83d\"""#) == .string("é\n日本日💻x\u{FFFD}\u{FFFD}\""))
        #expect(try JSON(parsing: #""\ud83dA""#) == .string("\u{FFFD}A"))
        // An event embedded as JSON text, as Kafka messages carry `data`.
        let inner = #"{"event":"$pageview","properties":{"$current_url":"https://example.com/a?b=\"c\"","title":"日本"}}"#
        let outer = JSON.object(["data": .string(inner)]).jsonString
        #expect(try JSON(parsing: outer)["data"] == .string(inner))
        #expect(try JSON(parsing: try JSON(parsing: outer)["data"]?.stringValue ?? "") == JSON(parsing: inner))
        for bad in [#""\x""#, #""ab\"#, #""\u12""#, "\"a\\n\u{1}\""] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSON(parsing: bad) }
        }
    }

    @Test("malformed JSON is rejected with a position")
    func malformed() {
        for text in ["", "{", "[1,]", "{\"a\" 1}", "tru", "01", "1.", "\"abc", "{} x", "-"] {
            #expect(throws: JSONParseError.self, "\(text)") { try JSON(parsing: text) }
        }
    }

    @Test("truthiness and String() follow JavaScript")
    func truthiness() {
        #expect(!JSON.number(0).isTruthy)
        #expect(!JSON.string("").isTruthy)
        #expect(JSON.array([]).isTruthy)
        #expect(JSON.object([:]).isTruthy)
        #expect(JSON.number(12345).javaScriptString == "12345")
        #expect(JSON.array([1, "a", nil]).javaScriptString == "1,a,")
        #expect(JSON.object([:]).javaScriptString == "[object Object]")
    }

    @Test("stringified-text parsing gives what the general parser gives")
    func stringifiedParsing() throws {
        let texts = [
            #"{"b":1,"a":{"x":[1,2,{"y":null}],"z":true},"c":"s"}"#,
            #"{"2":4,"10":3,"b":1,"a":2,"02":5,"-1":6}"#,
            #"{"b":1,"10":3,"2":4}"#,  // index keys after a name (a Proxy's ownKeys): put first
            #"{"10":1,"2":2}"#,  // index keys out of order
            #"{"4294967295":1,"4294967294":2}"#,  // 2^32 - 1 is no array index
            #"{"b":1,"\u0031":2,"\u0061":3}"#,  // an escaped digit is still an index key
            #"[{"a":"\u0000\ud83d\udcbb\ud800é"},[],{},[[[]]]]"#,
            #"{"":0,"k":-0,"n":[-0,0,1,-1,123456789012345,1234567890123456,9007199254740993,1e21,-1.5e-7,0.1]}"#,
        ]
        for text in texts {
            let general = try JSON(parsing: text)
            let stringified = try Self.parseStringified(text)
            #expect(stringified == general, "\(text)")
            #expect(stringified.jsonString == general.jsonString, "\(text)")
            #expect(stringified.objectValue?.keys == general.objectValue?.keys, "\(text)")
        }
        #expect(try Self.parseStringified(#"{"b":1,"10":3,"2":4}"#).objectValue?.keys == ["2", "10", "b"])
        #expect(try Self.parseStringified(#"{"b":1,"\u0031":2}"#).objectValue?.keys == ["1", "b"])
        // An index key added afterwards still lands among the index keys.
        var object = try Self.parseStringified(#"{"1":1,"b":2}"#)
        object["0"] = 0
        #expect(object.objectValue?.keys == ["0", "1", "b"])
        #expect(throws: JSONParseError.self) { try Self.parseStringified(#"{"a":1,}"#) }
    }

    @Test("large objects: repeated keys, array-index keys in any order, lookups, removals and inserts as a small object")
    func largeObjects() throws {
        // Past the size where an object indexes its keys, with array-index keys after names and out of
        // order, a key repeated (first place, last value) and an index key repeated.
        var pairs = (0..<300).map { #""k\#($0)":\#($0)"# }
        pairs += (0..<200).reversed().map { #""\#($0 * 3)":\#($0)"# }
        pairs += [#""k7":"again""#, #""30":"thirty""#]
        let text = "{" + pairs.joined(separator: ",") + "}"
        let object = try #require(try JSON(parsing: text).objectValue)
        #expect(object.count == 500)
        #expect(Array(object.keys.prefix(3)) == ["0", "3", "6"] && object.keys[200] == "k0")
        #expect(object["k7"] == "again" && object.keys[207] == "k7")
        #expect(object["30"] == "thirty" && object["597"] == 199 && object["k299"] == 299 && object["k300"] == nil)
        // The same through the stringified-text parser (array-index keys out of place: rebuilt).
        #expect(try Self.parseStringified(JSON.object(object).jsonString).objectValue?.keys == object.keys)

        // Edits keep order and lookups right, checked against a plain list of entries.
        var edited = object
        var expected = object.entries
        for key in ["k0", "0", "k150", "597", "k299"] {
            edited[key] = nil
            expected.removeAll { $0.key == key }
        }
        edited["1"] = "one"
        expected.insert(("1", "one"), at: 0)
        edited["new"] = true
        expected.append(("new", true))
        edited["k5"] = "five"
        expected[expected.firstIndex { $0.key == "k5" }!].value = "five"
        #expect(edited.keys == expected.map(\.key))
        for (key, value) in expected { #expect(edited[key] == value, "\(key)") }
        #expect(edited["k0"] == nil && edited["597"] == nil)
        #expect(object["k0"] == 0, "the original is unchanged")
        // Shrinking back under the indexing size keeps lookups right.
        for key in edited.keys.dropFirst(10) { edited[key] = nil }
        #expect(edited.count == 10 && edited[expected[9].key] == expected[9].value && edited[expected[10].key] == nil)

        // Equal whatever the order; a 100,000-key event parses and compares in linear time.
        let many = "{" + (0..<100_000).map { #""p\#($0)":\#($0)"# }.joined(separator: ",") + "}"
        let big = try #require(try JSON(parsing: many).objectValue)
        var rebuilt = JSONObject()
        for (key, value) in big.entries.reversed() { rebuilt[key] = value }
        #expect(rebuilt == big && big["p99999"] == 99999)
    }

    static func parseStringified(_ text: String) throws -> JSON {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { try JSON(parsingStringifiedUTF8: $0) }
    }

    @Test("integers parse exactly, -0 keeps its sign, long numbers go through the full conversion")
    func numberParsing() throws {
        let cases: [(String, Double)] = [
            ("0", 0), ("7", 7), ("-7", -7), ("123456789012345", 123_456_789_012_345), ("-999999999999999", -999_999_999_999_999),
            ("1234567890123456", 1_234_567_890_123_456), ("9007199254740993", 9_007_199_254_740_992), ("1e21", 1e21),
            ("1.5", 1.5), ("-0.25e2", -25), ("10E-1", 1),
        ]
        for (text, expected) in cases {
            #expect(try JSON(parsing: text) == .number(expected), "\(text)")
        }
        #expect(try JSON(parsing: "-0").numberValue?.sign == .minus)
        #expect(try JSON(parsing: "[0]").arrayValue?.first?.numberValue?.sign == .plus)
        for text in ["01", "-", "-a", "1.", "1e", "1e+", "--1"] {
            #expect(throws: JSONParseError.self, "\(text)") { try JSON(parsing: text) }
        }
    }

    @Test("exact text keeps -0 and refuses non-finite numbers; integers print as JavaScript prints them")
    func exactText() throws {
        var output: [UInt8] = []
        #expect(JSON.array([.number(-0.0), 0, -1, 1.5]).writeExact(to: &output))
        #expect(String(decoding: output, as: UTF8.self) == "[-0,0,-1,1.5]")
        #expect(JSON.array([.number(-0.0)]).jsonString == "[0]")
        output = []
        #expect(!JSON.object(["a": [1, .number(.infinity)]]).writeExact(to: &output))
        output = []
        #expect(!JSON.number(.nan).writeExact(to: &output))
        #expect(JSON.array([.number(.nan), .number(-.infinity)]).jsonString == "[null,null]")
        let integers: [Double] = [
            0, 1, 9, 10, 99, 100, -1, -10, 1e15, 9_007_199_254_740_991, -9_007_199_254_740_991, 9_007_199_254_740_992, 1e21,
        ]
        for n in integers {
            #expect(JSON.number(n).jsonString == JSNumberFormatter.string(n), "\(n)")
        }
        let value: JSON = ["s": "a\u{0}\u{1f}\"\\/\n\té💻", "n": [1, -2.5, 1e-7], "o": ["": nil, "t": true]]
        output = []
        #expect(value.writeExact(to: &output))
        #expect(try JSON(parsing: output) == value)
        #expect(String(decoding: output, as: UTF8.self) == value.jsonString)
    }

    @Test("the word-at-a-time scan finds the first byte to escape wherever it is, and nothing else")
    func escapeScan() throws {
        // Bytes that differ from the ones to escape only in the high bit, or are just above 0x1f.
        let fillers: [UInt8] = [0x41, 0xA2, 0xDC, 0x80, 0x9F, 0x20, 0x21, 0x23, 0x5B, 0x5D, 0xFF, 0x7F]
        for length in 0..<20 {
            for filler in fillers {
                let plain = [UInt8](repeating: filler, count: length)
                #expect(plain.withUnsafeBufferPointer { JSONTextWriter.firstEscape(in: $0, from: 0) } == length)
                for position in 0..<length {
                    for special: UInt8 in [0x00, 0x1F, 0x0A, 0x22, 0x5C] {
                        var bytes = plain
                        bytes[position] = special
                        if position + 1 < length { bytes[length - 1] = 0x22 }  // a later one must not win
                        let found = bytes.withUnsafeBufferPointer { JSONTextWriter.firstEscape(in: $0, from: 0) }
                        #expect(found == position, "\(bytes)")
                        let from = bytes.withUnsafeBufferPointer { JSONTextWriter.firstEscape(in: $0, from: position + 1) }
                        #expect(from == (position + 1 < length ? length - 1 : length), "\(bytes)")
                    }
                }
            }
        }
        // Strings of every length with an escape at every place survive writing and parsing.
        for length in 0..<20 {
            for position in 0..<max(1, length) {
                for special in ["\"", "\\", "\n", "\u{1}", "é", "💻"] {
                    var characters = Array(repeating: "x", count: length)
                    if length > 0 { characters[position] = special }
                    let value = JSON.string(characters.joined())
                    #expect(try JSON(parsing: value.jsonString) == value)
                    #expect(try Self.parseStringified(value.jsonString) == value)
                }
            }
        }
    }
}
