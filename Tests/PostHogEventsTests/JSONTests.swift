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
}
