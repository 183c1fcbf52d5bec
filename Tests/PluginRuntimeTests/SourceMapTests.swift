import Foundation
import Testing

@testable import PluginRuntime

/// The inline source map of compiled plugins (pure decoding; `MetaAndLoadingTests` has it end to end).
@Suite struct SourceMapTests {
    static func code(mappings: String, sources: [String] = ["src/a.ts"]) -> String {
        let names = sources.map { "\"\($0)\"" }.joined(separator: ",")
        let map = #"{"version":3,"sources":[\#(names)],"mappings":"\#(mappings)","names":[]}"#
        return "compiled();\n" + SourceMap.marker + Data(map.utf8).base64EncodedString() + "\n"
    }

    @Test("segments decode relative to the previous one; columns restart on each line")
    func decoding() throws {
        // Line 1: column 0 → a.ts 1:1. Line 2: column 0 → 2:1, column 4 → 2:5, column 10 → b.ts 4:3.
        let map = try #require(SourceMap(inlineIn: Self.code(mappings: "AAAA;AACA,IAAI,MCEF", sources: ["a.ts", "b.ts"])))
        #expect(map.original(line: 1, column: 1)! == ("a.ts", 1, 1))
        #expect(map.original(line: 2, column: 1)! == ("a.ts", 2, 1))
        #expect(map.original(line: 2, column: 7)! == ("a.ts", 2, 5))
        #expect(map.original(line: 2, column: 11)! == ("b.ts", 4, 3))
        #expect(map.original(line: 3, column: 1) == nil)
    }

    @Test("stack frames in the plugin's file are rewritten; the wrapper's own frames and other files stay")
    func rewriting() throws {
        let map = try #require(SourceMap(inlineIn: Self.code(mappings: "AAAA;AACA,IAAI")))
        let stack = "Error: x\nprocessEvent@index.ts:2:6\nouter@index.ts:1:3\ninvoke@prelude.js:10:2"
        #expect(
            map.rewrite(stack: stack, file: "index.ts", firstLineOffset: 20)
                == "Error: x\nprocessEvent@src/a.ts:2:5\nouter@index.ts:1:3\ninvoke@prelude.js:10:2")
        #expect(SourceMap(inlineIn: "no map here") == nil)
        #expect(SourceMap(inlineIn: "x\n" + SourceMap.marker + "not base64!") == nil)
    }
}
