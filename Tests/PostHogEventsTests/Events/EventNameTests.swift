import Testing

@testable import PostHogEvents

@Suite struct EventNameTests {
    @Test("a string name is kept as is")
    func stringKept() throws {
        #expect(try EventName.sanitize("$pageview") == "$pageview")
        #expect(try EventName.sanitize("") == "")
    }

    @Test("non-string names are written as JSON.stringify writes them")
    func nonStringsStringified() throws {
        #expect(try EventName.sanitize(["event name": "as object"]) == #"{"event name":"as object"}"#)
        #expect(try EventName.sanitize(["event name", "a list"]) == #"["event name","a list"]"#)
        #expect(try EventName.sanitize(.null) == "null")
        #expect(try EventName.sanitize(5) == "5")
        #expect(try EventName.sanitize(1.5) == "1.5")
        #expect(try EventName.sanitize(true) == "true")
    }

    @Test("names are cut to 200 UTF-16 code units")
    func truncated() throws {
        #expect(try EventName.sanitize(.string(String(repeating: "E", count: 300))).utf16.count == 200)
        #expect(try EventName.sanitize(.string(String(repeating: "E", count: 200))).utf16.count == 200)
        // 199 ASCII units, then an astral character whose pair straddles the cut.
        let straddling = String(repeating: "a", count: 199) + "💻b"
        #expect(try EventName.sanitize(.string(straddling)) == String(repeating: "a", count: 199) + "\u{FFFD}")
        let fitting = String(repeating: "a", count: 198) + "💻b"
        #expect(try EventName.sanitize(.string(fitting)) == String(repeating: "a", count: 198) + "💻")
        // A long object name is cut after stringifying.
        let long = JSON.object(["k": .string(String(repeating: "x", count: 300))])
        #expect(try EventName.sanitize(long) == String(#"{"k":""# + String(repeating: "x", count: 194)))
    }

    @Test("a missing name is rejected with a clear error")
    func missingRejected() {
        #expect(throws: EventDataError.self) { try EventName.sanitize(nil) }
        do {
            _ = try EventName.sanitize(nil)
        } catch {
            #expect(error.code == .missingEventName)
            #expect(error.field == "event")
            #expect(error.description == "missingEventName in event: the event has no name")
        }
    }
}

@Suite struct DistinctIDTests {
    @Test("distinct ids convert as JavaScript String() does")
    func conversions() {
        #expect(DistinctID.string(from: "abc") == "abc")
        #expect(DistinctID.string(from: 12345) == "12345")
        #expect(DistinctID.string(from: 1.0) == "1")
        #expect(DistinctID.string(from: 1.5) == "1.5")
        #expect(DistinctID.string(from: 1e21) == "1e+21")
        #expect(DistinctID.string(from: true) == "true")
        #expect(DistinctID.string(from: false) == "false")
        #expect(DistinctID.string(from: ["a": 1]) == "[object Object]")
        #expect(DistinctID.string(from: [1, "a", nil]) == "1,a,")
    }

    @Test("null and absent distinct ids stay absent")
    func nullAbsent() {
        #expect(DistinctID.string(from: nil) == nil)
        #expect(DistinctID.string(from: .null) == nil)
    }
}

@Suite struct PropertyDefinitionsTests {
    @Test("only JSON numbers are numerical")
    func numerical() {
        #expect(PropertyDefinitions.isNumerical(2))
        #expect(PropertyDefinitions.isNumerical(299.99))
        #expect(PropertyDefinitions.isNumerical(0))
        #expect(!PropertyDefinitions.isNumerical(true))
        #expect(!PropertyDefinitions.isNumerical(false))
        #expect(!PropertyDefinitions.isNumerical("80"))
        #expect(!PropertyDefinitions.isNumerical(.null))
        #expect(!PropertyDefinitions.isNumerical([1]))
        #expect(!PropertyDefinitions.isNumerical(["a": 1]))
    }
}
