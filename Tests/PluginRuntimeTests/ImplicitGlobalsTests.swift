import Testing

@testable import PluginRuntime

/// The scan that decides whether a plugin's configs may share a context: names assigned but never
/// declared (sloppy-mode globals) must be found; declared names, properties and fields must not be.
@Suite struct ImplicitGlobalsTests {
    @Test("assignments to undeclared names are found, in any position and with any assignment operator")
    func undeclaredAssignments() {
        let code = """
            function processEvent(event) {
                arr = event.event.split('::')
                if (arr.length > 1) { count += 1; total++ ; --left }
                for (key in event.properties) {}
                const f = () => (nested = 1)
                x ? (picked = 2) : null
                return event
            }
            """
        #expect(ImplicitGlobals.names(in: code) == ["arr", "count", "total", "left", "key", "nested", "picked"])
    }

    @Test("declared names are not: var/let/const lists and patterns, functions, classes, parameters, catch, for loops")
    func declaredNames() {
        let code = """
            var a = 1, b = 2, { c, d: [e] } = obj
            let f; f = 3
            const g = (h, { i } = {}, ...j) => { h = 1; i = 2; j = 3 }
            function k(l, m = 4) { l = m; k = null }
            class N extends Object { field = 1; static other = 2; method(o) { o = 5; this.p = 6 } }
            N = 7
            try { q() } catch (err) { err = 8 }
            for (let r = 0; r < 2; r++) {}
            for (const s of []) {}
            const t = async u => { u = 9 }
            obj.prop = 10; obj?.prop; obj['v'] = 11
            module.exports = { w: 1 }; exports.y = 2; global.z = 3; globalThis.q = 4
            var fn = function named(p1, p2) { p1 = p2 }
            """
        #expect(ImplicitGlobals.names(in: code) == [])
    }

    @Test("strings, templates, comments and regular expressions are skipped")
    func skippedText() {
        let code = """
            const text = 'a = 1' + "b = 2" + `c = ${3}`
            // d = 4
            /* e = 5 */
            const re = /f = 6/g, half = 10 / 2
            g = text.replace(/[/=]/g, '')
            """
        #expect(ImplicitGlobals.names(in: code) == ["g"])
    }
}
