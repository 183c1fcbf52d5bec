import Foundation
import Testing

@testable import PostHogEvents

@Suite struct ElementsChainTests {
    static let pinnedChain =
        #"a.small:data-attr="something \" that; could mess up"href="/a-url"nth-child="1"nth-of-type="0"number="33"prop="value"style="min-height: 100vh;"text="bla bla";button.btn.btn-primary:nth-child="0"nth-of-type="0";div:nth-child="0"nth-of-type="0";div:attr_id="nested"nth-child="0"nth-of-type="0""#

    @Test("elements given as records render the pinned chain")
    func pinnedChain() {
        let elements = [
            Element(
                text: "bla bla", tagName: "a", href: "/a-url", attrClass: ["small"], nthChild: 1, nthOfType: 0,
                attributes: [
                    "prop": "value", "number": 33, "data-attr": "something \" that; could mess up",
                    "style": "min-height: 100vh;",
                ]),
            Element(tagName: "button", attrClass: ["btn", "btn-primary"], nthChild: 0, nthOfType: 0),
            Element(tagName: "div", nthChild: 0, nthOfType: 0),
            Element(tagName: "div", attrId: "nested", nthChild: 0, nthOfType: 0),
        ]
        #expect(Elements.chain(elements) == Self.pinnedChain)
    }

    @Test("the pinned chain parses back into four elements")
    func parsePinnedChain() {
        let elements = Elements.parseChain(Self.pinnedChain)
        #expect(elements.count == 4)
        #expect(
            elements[0].attributes == [
                "prop": "value", "number": "33", "data-attr": #"something \" that; could mess up"#,
                "style": "min-height: 100vh;",
            ])
        #expect(elements[0].tagName == "a")
        #expect(elements[0].attrClass == ["small"])
        #expect(elements[0].href == "/a-url")
        #expect(elements[0].text == "bla bla")
        #expect(elements[0].nthChild == 1)
        #expect(elements[0].nthOfType == 0)
        #expect(elements[1].attrClass == ["btn", "btn-primary"])
        #expect(elements[3].attrId == "nested")
        #expect(elements[3].tagName == "div")
        #expect(elements.map(\.order) == [0, 1, 2, 3])
    }

    @Test("an element with nothing but defaults; null positions count as 0")
    func defaults() {
        #expect(Elements.chain([Element()]) == #":nth-child="0"nth-of-type="0""#)
        #expect(Elements.chain([Element(tagName: "", nthChild: .null)]) == #":nth-child="0"nth-of-type="0""#)
        #expect(Elements.chain([]) == "")
    }

    @Test("classes are sorted by code unit and lose their quotes; values escape quotes but not backslashes")
    func escaping() {
        let element = Element(
            text: #"say "hi" \o/"#, tagName: "p", attrClass: ["b\"x\"", "B", "a", ""],
            attributes: ["attr__x\"": "v;"])
        #expect(
            Elements.chain([element])
                == #"p..B.a.bx:attr__x\"="v;"nth-child="0"nth-of-type="0"text="say \"hi\" \o/""#)
    }

    @Test("attribute values print as JavaScript String(); null renders as an empty string")
    func valueStrings() {
        let element = Element(
            attributes: [
                "attr__n": 1.5, "attr__b": true, "attr__a": [1, "x"], "attr__o": ["k": 1], "attr__null": .null,
            ])
        #expect(
            Elements.chain([element])
                == #":attr__a="1,x"attr__b="true"attr__n="1.5"attr__null=""attr__o="[object Object]"nth-child="0"nth-of-type="0""#
        )
    }

    @Test("attribute pairs follow ICU collation, checked against the verified list")
    func collationList() {
        let verified = [
            "attr__-a", "attr__a", "attr__a-", "attr__aria-label", "attr__arialabel", "attr__class", "attr__data",
            "attr__Data", "attr__data_attr", "attr__data-attr", "attr__dataAttr", "attr__é", "attr__href", "attr__id",
            "attr__viewbox", "attr__viewBox", "attr__x1", "attr__x10", "attr__x2", "attr__z", "attr_id", "href",
            "nth-child", "nth-of-type", "text",
        ]
        for seed in 0..<5 {
            var shuffled = verified
            var generator = SeededGenerator(state: UInt64(seed) &+ 0x9E37_79B9)
            shuffled.shuffle(using: &generator)
            #expect(shuffled.sorted(by: ChainKeyCollation.areInIncreasingOrder) == verified)
        }
        // And through the chain: attributes, then the standard keys, interleaved by collation.
        var attributes = JSONObject()
        for key in verified where key.hasPrefix("attr__") { attributes[key] = "v" }
        let chain = Elements.chain([
            Element(text: "t", href: "h", attrId: "i", nthChild: 1, nthOfType: 2, attributes: attributes)
        ])
        let keys = chain.dropFirst().split(separator: "\"").enumerated().filter { $0.offset % 2 == 0 }
            .map { String($0.element.dropLast()) }
        #expect(keys == verified)
    }

    @Test("ASCII punctuation sorts before digits before letters, lowercase first")
    func asciiOrder() {
        let ascii = (0x21...0x7E).map { String(UnicodeScalar(UInt8($0))) }
        #expect(
            ascii.shuffled().sorted(by: ChainKeyCollation.areInIncreasingOrder).joined()
                == #"_-,;:!?.'"()[]{}@*/\&#%`^+<=>|~$0123456789aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ"#)
    }

    @Test("array-index attribute keys come first, as Object.fromEntries orders them")
    func indexKeysFirst() {
        let element = Element(attributes: ["b": "2", "10": "x", "2": "y"])
        #expect(Elements.chain([element]) == #":2="y"10="x"b="2"nth-child="0"nth-of-type="0""#)
    }

    @Test("chains round-trip through parsing for elements built from $elements")
    func roundTrip() throws {
        let elements = try Elements.elements(fromProperty: [
            [
                "tag_name": "a", "attr__class": "x y", "attr__href": "/p", "$el_text": "go", "nth_child": 2,
                "nth_of_type": 3,
            ],
            ["tag_name": "div", "attr__id": "main", "attr__data-x": "1"],
        ])
        let parsed = Elements.parseChain(Elements.chain(elements))
        #expect(parsed.count == 2)
        #expect(parsed[0].tagName == "a")
        #expect(parsed[0].attrClass == ["x", "y"])
        #expect(parsed[0].href == "/p")
        #expect(parsed[0].text == "go")
        #expect(parsed[0].nthChild == 2)
        #expect(parsed[0].attributes == ["attr__class": "x y", "attr__href": "/p"])
        #expect(parsed[1].attrId == "main")
        #expect(parsed[1].attributes == ["attr__data-x": "1", "attr__id": "main"])
        #expect(parsed[1].nthChild == 0)
    }

    @Test("parsing: classes may hold colons, a quoted semicolon stays inside its element")
    func parsingEdges() {
        let elements = Elements.parseChain(#"a.hover:x:attr__v="1;2";.c:nth-child="x""#)
        #expect(elements.count == 2)
        #expect(elements[0].tagName == "a")
        #expect(elements[0].attrClass == ["hover:x"])
        #expect(elements[0].attributes == ["attr__v": "1;2"])
        #expect(elements[1].tagName == "")
        #expect(elements[1].attrClass == ["c"])
        #expect(elements[1].nthChild == nil)
        #expect(Elements.parseChain("") == [])
    }
}

/// A small deterministic generator so shuffles are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct ChainKeyCollationTests {
    @Test("the ASCII fast path orders as Foundation's ICU collator does")
    func asciiFastPathMatchesICU() {
        // A small alphabet with case pairs, punctuation, digits and whitespace gives many near-ties.
        let alphabet = Array("aAbB_-.:09xX1 \t")
        var generator = SeededGenerator(state: 42)
        let locale = Locale(identifier: "en_US")
        for _ in 0..<3000 {
            let lhs = String((0..<Int.random(in: 0...5, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            let rhs = String((0..<Int.random(in: 0...5, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            let expected = lhs.compare(rhs, options: [], range: nil, locale: locale)
            #expect(ChainKeyCollation.asciiOrder(lhs, rhs) == expected, "\(lhs.debugDescription) vs \(rhs.debugDescription)")
        }
    }

    @Test("every printable ASCII pair orders as Foundation's ICU collator does")
    func asciiPairs() {
        let locale = Locale(identifier: "en_US")
        let characters = (0x09...0x7E).filter { $0 <= 0x0D || $0 >= 0x20 }.map { String(UnicodeScalar(UInt8($0))) }
        for lhs in characters {
            for rhs in characters {
                let expected = ("k" + lhs).compare("k" + rhs, options: [], range: nil, locale: locale)
                #expect(ChainKeyCollation.asciiOrder("k" + lhs, "k" + rhs) == expected, "\(lhs) vs \(rhs)")
            }
        }
    }

    @Test("non-ASCII keys go to the collator; controls are ignorable in the fast path")
    func slowPathAndIgnorables() {
        #expect(ChainKeyCollation.asciiOrder("attr__é", "attr__f") == nil)
        #expect(ChainKeyCollation.areInIncreasingOrder("attr__é", "attr__f"))
        #expect(ChainKeyCollation.areInIncreasingOrder("attr__e", "attr__é"))
        #expect(ChainKeyCollation.asciiOrder("a\u{01}b", "ab") == .orderedSame)
    }
}
