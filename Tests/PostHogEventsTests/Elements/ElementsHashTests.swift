import Testing

@testable import PostHogEvents

@Suite struct ElementsHashTests {
    private func dump(_ elements: [Element]) -> String {
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
                "order": .number(Double(position)),
            ]
        }
        var bytes: [UInt8] = []
        PythonStyleJSONDump.write(.array(records), to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private func elements(_ json: String) throws -> [Element] {
        try Elements.elements(fromProperty: try #require(JSON(parsing: json).arrayValue))
    }

    @Test("worked example 1: dump, md5 and chain")
    func workedExample1() throws {
        let elements = try elements(
            #"[{"tag_name": "button", "$el_text": "Sign up", "attr__class": "btn primary", "attr__id": "signup", "nth_child": 2, "nth_of_type": 1}]"#
        )
        #expect(
            dump(elements)
                == #"[{"attr_class": ["btn", "primary"], "attr_id": "signup", "attributes": {"attr__class": "btn primary", "attr__id": "signup"}, "href": null, "nth_child": 2, "nth_of_type": 1, "order": 0, "tag_name": "button", "text": "Sign up"}]"#
        )
        #expect(Elements.hash(elements) == "25b6385eb866c5b701be6ff42688085d")
        #expect(
            Elements.chain(elements)
                == #"button.btn.primary:attr__class="btn primary"attr__id="signup"attr_id="signup"nth-child="2"nth-of-type="1"text="Sign up""#
        )
    }

    @Test("worked example 2: non-ASCII text, quotes, unsorted classes, mixed-case keys")
    func workedExample2() throws {
        let elements = try elements(
            #"[{"tag_name": "a", "$el_text": "Café ☕", "attr__href": "/menu?x=\"1\"", "nth_child": 1, "nth_of_type": 1}, {"tag_name": "nav", "attr__class": "top main", "attr__data-Kind": "x", "attr__data_kind": "y", "nth_child": 3, "nth_of_type": 2}]"#
        )
        #expect(
            dump(elements)
                == #"[{"attr_class": null, "attr_id": null, "attributes": {"attr__href": "/menu?x=\"1\""}, "href": "/menu?x=\"1\"", "nth_child": 1, "nth_of_type": 1, "order": 0, "tag_name": "a", "text": "Caf\u00e9 \u2615"}, {"attr_class": ["main", "top"], "attr_id": null, "attributes": {"attr__class": "top main", "attr__data-Kind": "x", "attr__data_kind": "y"}, "href": null, "nth_child": 3, "nth_of_type": 2, "order": 1, "tag_name": "nav", "text": null}]"#
        )
        #expect(Elements.hash(elements) == "a16502e17a54a341ff7356369ad17502")
        #expect(
            Elements.chain(elements)
                == #"a:attr__href="/menu?x=\"1\""href="/menu?x=\"1\""nth-child="1"nth-of-type="1"text="Café ☕";nav.main.top:attr__class="top main"attr__data_kind="y"attr__data-Kind="x"nth-child="3"nth-of-type="2""#
        )
    }

    @Test("capture new person elements hash to the pinned value")
    func captureNewPerson() throws {
        let elements = try elements(
            #"[{"tag_name": "a", "nth_child": 1, "nth_of_type": 2, "attr__class": "btn btn-sm"}, {"tag_name": "div", "nth_child": 1, "nth_of_type": 2, "$el_text": "💻"}]"#
        )
        #expect(elements[0].tagName == "a")
        #expect(elements[0].attrClass == ["btn", "btn-sm"])
        #expect(elements[1].order == 1)
        #expect(elements[1].text == "💻")
        #expect(Elements.hash(elements) == "0679137c0cd2408a2906839143e7a71f")
        #expect(dump(elements).contains(#""text": "\ud83d\udcbb""#))
    }

    @Test("long text and href are cut to 400 and 2048, attributes keep the full href")
    func longText() throws {
        let long = String(repeating: "a", count: 2050)
        let elements = try Elements.elements(fromProperty: [
            [
                "tag_name": "a", "$el_text": .string(long), "attr__href": .string(long), "nth_child": 1,
                "nth_of_type": 2, "attr__class": "btn btn-sm",
            ]
        ])
        #expect(elements[0].href?.utf16.count == 2048)
        #expect(elements[0].text?.utf16.count == 400)
        #expect(elements[0].attributes?["attr__href"]?.stringValue?.utf16.count == 2050)
        #expect(Elements.hash(elements) == "c2659b28e72835706835764cf7f63c2a")
    }

    @Test("capture first team event element hashes to the pinned value")
    func firstTeamEvent() throws {
        let elements = try elements(
            #"[{"tag_name": "a", "nth_child": 1, "nth_of_type": 2, "attr__class": "btn btn-sm"}]"#)
        #expect(Elements.hash(elements) == "a89021a60b3497d24e93ae181fba01aa")
    }

    @Test("a group given directly as records, attributes null, hashes to the pinned value")
    func directGroup() {
        let elements = [Element(text: "Sign up!", tagName: "button"), Element(tagName: "div")]
        #expect(Elements.hash(elements) == "e6d0c8f2328f82e7f91bc04edec642cf")
        // The hash takes the position, not the record's own order.
        var reordered = elements
        reordered[0].order = 5
        #expect(Elements.hash(reordered) == "e6d0c8f2328f82e7f91bc04edec642cf")
    }

    @Test("the dump escapes like Python except DEL, and prints numbers like JavaScript")
    func dumpQuirks() {
        let element = Element(
            text: "tab\t nl\n quote\" back\\ slash/ ctl\u{01} del\u{7F} é 💻", tagName: "x",
            nthChild: 1.0, nthOfType: 1e21,
            attributes: ["b": [1e-7, true, .null], "a": ["z": 1, "B": 2], "\u{E000}": 1, "😀": 2])
        let text = dump([element])
        #expect(
            text.contains(
                #""text": "tab\t nl\n quote\" back\\ slash/ ctl\u0001 del"# + "\u{7F}" + #" \u00e9 \ud83d\udcbb""#))
        #expect(text.contains(#""nth_child": 1, "nth_of_type": 1e+21"#))
        // UTF-16 order puts the astral key (a surrogate, 0xD83D) before U+E000; objects nest sorted.
        #expect(
            text.contains(
                #""attributes": {"a": {"B": 2, "z": 1}, "b": [1e-7, true, null], "\ud83d\ude00": 2, "\ue000": 1}"#))
    }
}
