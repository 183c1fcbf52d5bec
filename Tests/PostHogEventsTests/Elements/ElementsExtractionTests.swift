import Testing

@testable import PostHogEvents

@Suite struct ElementsExtractionTests {
    @Test("fields map from $elements entries; attributes keep attr__ keys in order")
    func fields() throws {
        let elements = try Elements.elements(fromProperty: [
            [
                "attr__id": "i", "tag_name": "a", "nth_child": 1, "nth_of_type": .null, "attr__class": "b  a",
                "$el_text": "t", "attr__href": "/h", "other": 5, "attr__": "empty name",
            ]
        ])
        let element = elements[0]
        #expect(element.tagName == "a")
        #expect(element.text == "t")
        #expect(element.href == "/h")
        #expect(element.attrClass == ["", "a", "b"])
        #expect(element.attrId == "i")
        #expect(element.nthChild == 1)
        #expect(element.nthOfType == .null)
        #expect(element.attributes?.keys == ["attr__id", "attr__class", "attr__href", "attr__"])
        #expect(element.order == 0)
    }

    @Test("missing and null fields are absent; an empty class string is one empty class")
    func absentFields() throws {
        let elements = try Elements.elements(fromProperty: [
            ["$el_text": .null, "attr__class": ""], [:],
        ])
        #expect(elements[0].text == nil)
        #expect(elements[0].attrClass == [""])
        #expect(elements[0].attributes == ["attr__class": ""])
        #expect(elements[1] == Element(attributes: [:], order: 1))
    }

    @Test("text and href are cut in UTF-16 code units")
    func utf16Cuts() throws {
        let text = String(repeating: "😀", count: 250)  // 500 UTF-16 units
        let elements = try Elements.elements(fromProperty: [["$el_text": .string(text)]])
        #expect(elements[0].text == String(repeating: "😀", count: 200))
        let odd = "a" + String(repeating: "😀", count: 250)
        let cut = try Elements.elements(fromProperty: [["$el_text": .string(odd)]])
        #expect(cut[0].text == "a" + String(repeating: "😀", count: 199) + "\u{FFFD}")
    }

    @Test("non-string text, href or class and null entries are rejected with the field named")
    func rejected() {
        let cases: [(JSON, String)] = [
            (["$el_text": 5], "properties.$elements[1].$el_text"),
            (["attr__href": ["x"]], "properties.$elements[1].attr__href"),
            (["attr__class": true], "properties.$elements[1].attr__class"),
            (.null, "properties.$elements[1]"),
        ]
        for (entry, field) in cases {
            do {
                _ = try Elements.elements(fromProperty: [["tag_name": "ok"], entry])
                Issue.record("accepted \(entry)")
            } catch {
                #expect(error.code == .invalidElement)
                #expect(error.field == field)
            }
        }
    }

    @Test("non-string tag names and ids are coerced with String()")
    func coerced() throws {
        let elements = try Elements.elements(fromProperty: [["tag_name": 5, "attr__id": true], "not an object"])
        #expect(elements[0].tagName == "5")
        #expect(elements[0].attrId == "true")
        #expect(elements[1] == Element(attributes: [:], order: 1))
    }

    @Test("the Postgres elements column lists present fields only, classes sorted, no order")
    func postgresJSON() throws {
        let elements = try Elements.elements(fromProperty: [
            ["tag_name": "a", "nth_child": 1, "nth_of_type": 2, "attr__class": "btn-sm btn"],
            ["tag_name": "div", "$el_text": "💻"],
        ])
        #expect(
            Elements.postgresElementsJSON(elements).jsonString
                == #"[{"tag_name":"a","attr_class":["btn","btn-sm"],"nth_child":1,"nth_of_type":2,"attributes":{"attr__class":"btn-sm btn"}},{"text":"💻","tag_name":"div","attributes":{}}]"#
        )
        let direct = [Element(text: "Sign up!", tagName: "button", attrClass: ["z", "a"], order: 0)]
        #expect(
            Elements.postgresElementsJSON(direct).jsonString
                == #"[{"text":"Sign up!","tag_name":"button","attr_class":["a","z"]}]"#)
        #expect(Elements.postgresElementsJSON([]).jsonString == "[]")
    }
}
