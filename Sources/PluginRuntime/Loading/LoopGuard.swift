import CJavaScriptCore
import PostHogEvents

/// The original's loop guard (reference §5.3): each `while` and C-style `for` loop of the compiled
/// plugin takes the time when it starts, and throws `Script execution timed out after looping for
/// <T> seconds on line <L>:<C>` at an iteration that starts after TASK_TIMEOUT. The time counts the
/// loop's awaits, so a loop paginating an API without end stops (the execution time limit only bounds
/// each synchronous run). `for…in`, `for…of` and `do…while` are not guarded, as in the original's
/// rule for the first two.
///
/// The loop's own text is kept: `while (c)` becomes `for (let _LP = Date.now(); (c) && <guard>; )`,
/// and `for (i; t; u)` gets the start beside its declarations and the guard after its test. A loop
/// that never awaits reads the clock every 64th iteration (its iterations are quick, and the
/// execution time limit bounds it too): a clock read per iteration made a 2,000-iteration loop 5×
/// slower. Code whose rewrite does not parse (a tokenizer misreading it) is left as it was.
enum LoopGuard {
    static func apply(to code: String, timeoutSeconds: Double) -> String {
        guard code.contains("while") || code.contains("for") else { return code }
        let tokens = ImplicitGlobals.Tokenizer.tokens(of: code)
        let (closing, depth) = brackets(tokens)
        let doTails = doWhileTails(tokens, depth: depth)
        let lines = LineStarts(code)
        let sourceMap = SourceMap(inlineIn: code)
        var names = Set(tokens.lazy.filter(\.isName).map(\.text))
        var edits: [(offset: Int, removing: Int, text: String)] = []
        for (index, token) in tokens.enumerated() where token.isName && (token.text == "while" || token.text == "for") {
            guard !doTails.contains(index), index + 1 < tokens.count, tokens[index + 1].text == "(",
                index == 0 || (tokens[index - 1].text != "." && tokens[index - 1].text != "?."),
                let close = closing[index + 1]
            else { continue }
            let start = freshName(&names)
            let open = index + 1
            let awaits = awaits(tokens, from: open, closing: closing, depth: depth)
            // A loop that never awaits counts its iterations in `<start>n` and reads the clock every 64th.
            let variables = awaits ? "\(start) = Date.now()" : "\(start) = Date.now(), \(start)n = 0"
            let check = guardExpression(
                start: start, place: lines.place(of: token.offset, sourceMap: sourceMap), timeout: timeoutSeconds, everyIteration: awaits)
            if token.text == "while" {
                edits.append((token.offset, 5, "for"))
                edits.append((tokens[open].offset + 1, 0, "let \(variables); ("))
                edits.append((tokens[close].offset, 0, ") && \(check); "))
                continue
            }
            let separators = (open + 1..<close).filter { tokens[$0].text == ";" && depth[$0] == depth[open] + 1 }
            guard separators.count == 2 else { continue }  // for…in, for…of
            let (first, second) = (separators[0], separators[1])
            if first == open + 1 {
                edits.append((tokens[first].offset, 0, "let \(variables)"))
            } else if tokens[open + 1].text == "let" || tokens[open + 1].text == "var" {
                edits.append((tokens[first].offset, 0, ", \(variables)"))
            } else {
                // `const` becomes `let`, so the counter can count; an expression runs first, then the clock is read.
                if tokens[open + 1].text == "const" {
                    edits.append((tokens[open + 1].offset, 5, "let"))
                    edits.append((tokens[first].offset, 0, ", \(variables)"))
                } else {
                    edits.append((tokens[open + 1].offset, 0, "let \(start) = ("))
                    edits.append((tokens[first].offset, 0, awaits ? ", Date.now())" : ", Date.now()), \(start)n = 0"))
                }
            }
            if second == first + 1 {
                edits.append((tokens[second].offset, 0, " \(check)"))
            } else {
                edits.append((tokens[first + 1].offset, 0, "("))
                edits.append((tokens[second].offset, 0, ") && \(check)"))
            }
        }
        guard !edits.isEmpty else { return code }
        var bytes = Array(code.utf8)
        // From the end, so earlier offsets stay right; at one offset, in the order they were made.
        for edit in edits.enumerated().sorted(by: { ($0.element.offset, $0.offset) > ($1.element.offset, $1.offset) }).map(\.element) {
            bytes.replaceSubrange(edit.offset..<edit.offset + edit.removing, with: Array(edit.text.utf8))
        }
        let guarded = String(decoding: bytes, as: UTF8.self)
        return parses(guarded) ? guarded : code
    }

    /// True once the loop may go on; throws the original's error once `timeout` has passed.
    static func guardExpression(start: String, place: String, timeout: Double, everyIteration: Bool) -> String {
        let seconds = JSNumberFormatter.string(timeout)
        let message = "Script execution timed out after looping for \(seconds) second\(timeout == 1 ? "" : "s") on line \(place)"
        let skip = everyIteration ? "" : "(++\(start)n & 63) !== 0 || "
        return
            "(\(skip)Date.now() - \(start) <= \(JSNumberFormatter.string(timeout * 1000)) || (() => { throw new Error(\"\(message)\") })())"
    }

    /// Whether the loop whose parenthesis opens at `open` can wait: an `await` or `yield` in its head or
    /// body (a braced block, or the statement up to the next `;` at the loop's depth).
    private static func awaits(_ tokens: [ImplicitGlobals.Token], from open: Int, closing: [Int: Int], depth: [Int]) -> Bool {
        guard let close = closing[open] else { return true }
        var end = tokens.count - 1
        if close + 1 < tokens.count, tokens[close + 1].text == "{", let body = closing[close + 1] {
            end = body
        } else if let statementEnd = (close + 1..<tokens.count).first(where: {
            depth[$0] < depth[open] || (depth[$0] == depth[open] && tokens[$0].text == ";")
        }) {
            end = statementEnd
        }
        return tokens[open...end].contains { $0.isName && ($0.text == "await" || $0.text == "yield") }
    }

    private static func freshName(_ names: inout Set<String>) -> String {
        var number = 1
        while names.contains("_LP\(number)") || names.contains("_LP\(number)n") { number += 1 }
        names.insert("_LP\(number)")
        return "_LP\(number)"
    }

    /// For each opening bracket its closing one, and each token's bracket depth (a bracket's own
    /// depth is the one outside it).
    private static func brackets(_ tokens: [ImplicitGlobals.Token]) -> (closing: [Int: Int], depth: [Int]) {
        var closing: [Int: Int] = [:]
        var depth = [Int](repeating: 0, count: tokens.count)
        var open: [Int] = []
        for (index, token) in tokens.enumerated() {
            switch token.text {
            case "(", "[", "{":
                depth[index] = open.count
                open.append(index)
            case ")", "]", "}":
                if let start = open.popLast() { closing[start] = index }
                depth[index] = open.count
            default:
                depth[index] = open.count
            }
        }
        return (closing, depth)
    }

    /// The `while` ending each `do` loop: the first `while` at the `do`'s depth that follows the end of
    /// a statement (`;` or `}`).
    private static func doWhileTails(_ tokens: [ImplicitGlobals.Token], depth: [Int]) -> Set<Int> {
        var pending: [Int] = []
        var tails = Set<Int>()
        for (index, token) in tokens.enumerated() where token.isName {
            if index > 0 && (tokens[index - 1].text == "." || tokens[index - 1].text == "?.") { continue }
            if token.text == "do" { pending.append(depth[index]) }
            if token.text == "while", let last = pending.last, last == depth[index], index > 0,
                tokens[index - 1].text == ";" || tokens[index - 1].text == "}"
            {
                tails.insert(index)
                pending.removeLast()
            }
        }
        return tails
    }

    /// Whether `code`, as the module function wraps it, is valid JavaScript.
    static func parses(_ code: String) -> Bool {
        guard let context = JSGlobalContextCreate(nil) else { return false }
        defer { JSGlobalContextRelease(context) }
        let script = JSC.string(PluginModule.source(code))
        defer { JSStringRelease(script) }
        return JSCheckScriptSyntax(context, script, nil, 1, nil)
    }
}

/// Line and column of offsets in compiled code, named in the plugin's own text when it has a map.
private struct LineStarts {
    let starts: [Int]
    /// Lines holding non-ASCII text, whose UTF-8 offsets are not JavaScript's (UTF-16) columns.
    private let wideLines: Set<Int>
    private let bytes: [UInt8]

    init(_ code: String) {
        var starts = [0]
        var wideLines: Set<Int> = []
        for (offset, byte) in code.utf8.enumerated() {
            if byte == 0x0A { starts.append(offset + 1) } else if byte >= 0x80 { wideLines.insert(starts.count - 1) }
        }
        self.starts = starts
        self.wideLines = wideLines
        bytes = wideLines.isEmpty ? [] : Array(code.utf8)
    }

    /// UTF-16 code units of the line's text before `offset` (a UTF-8 offset).
    private func utf16Column(line: Int, offset: Int) -> Int {
        guard wideLines.contains(line) else { return offset - starts[line] }
        var units = 0
        for byte in bytes[starts[line]..<offset] where byte & 0xC0 != 0x80 { units += byte >= 0xF0 ? 2 : 1 }
        return units
    }

    /// `line:column`, the line from 1 and the column from 0, as the original's message gives them.
    func place(of offset: Int, sourceMap: SourceMap?) -> String {
        var low = 0
        var high = starts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if starts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        let line = low + 1
        // JavaScript counts columns in UTF-16 code units, as do source maps.
        let column = utf16Column(line: low, offset: offset)
        if let found = sourceMap?.original(line: line, column: column + 1) { return "\(found.line):\(found.column - 1)" }
        return "\(line):\(column)"
    }
}
