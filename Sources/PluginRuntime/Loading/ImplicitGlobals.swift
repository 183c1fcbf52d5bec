/// Finds sloppy-mode assignments to names the code never declares (`arr = s.split('::')` with no
/// `let arr`): in the original, each plugin config had a VM of its own and such a name became a global
/// of that VM. Configs sharing a context cannot have that (its global object is sealed, see
/// `PluginContext`), so a plugin doing it gets a context per config.
///
/// A scan of the compiled code's tokens, not a parser: a name counts as declared when it follows
/// `var`/`let`/`const`/`function`/`class`, sits in a declaration's list or destructuring pattern, or in
/// the parameters of a function, arrow or `catch`. Wrong guesses go the safe way: a name taken for
/// undeclared only costs the plugin's configs a context each.
enum ImplicitGlobals {
    /// The names `code` assigns without declaring them, minus the module function's own bindings.
    static func names(in code: String) -> Set<String> {
        let tokens = Tokenizer.tokens(of: code)
        let closing = matchingParentheses(tokens)
        var declared = Set<String>()
        var assigned = Set<String>()
        // The bracket depth a `var`/`let`/`const` list lives at, while one is open.
        var declarationDepth: Int?
        // The depths of the class bodies the scan is in: `name = value` there is a field.
        var classBodies: [Int] = []
        var classPending = false
        var depth = 0
        for (index, token) in tokens.enumerated() {
            let previous = index > 0 ? tokens[index - 1].text : ""
            let next = index + 1 < tokens.count ? tokens[index + 1].text : ""
            switch token.text {
            case "(", "[", "{":
                depth += 1
                if classPending && token.text == "{" {
                    classBodies.append(depth)
                    classPending = false
                }
                continue
            case "class":
                classPending = true
                continue
            case ")", "]", "}":
                if classBodies.last == depth && token.text == "}" { classBodies.removeLast() }
                depth -= 1
                if let open = declarationDepth, depth < open { declarationDepth = nil }
                if token.text == ")", let open = closing[index], declaresParameters(tokens, open: open, close: index) {
                    for inner in open + 1..<index where tokens[inner].isName { declared.insert(tokens[inner].text) }
                }
                continue
            case ";":
                if declarationDepth == depth { declarationDepth = nil }
                continue
            case "var", "let", "const":
                declarationDepth = depth
                declarePattern(tokens, from: index + 1, into: &declared)
                continue
            default:
                break
            }
            guard token.isName, !keywords.contains(token.text), previous != ".", previous != "?." else { continue }
            if classBodies.last == depth && (assignments.contains(next) || next == ";") { continue }
            if ["function", "class", "function*"].contains(previous) || next == "=>" {
                declared.insert(token.text)
            } else if previous == ",", declarationDepth == depth {
                declarePattern(tokens, from: index, into: &declared)
            } else if assignments.contains(next) || previous == "++" || previous == "--"
                || ((next == "in" || next == "of") && previous == "(" && index >= 2 && tokens[index - 2].text == "for")
            {
                assigned.insert(token.text)
            }
        }
        return assigned.subtracting(declared).subtracting(moduleBindings)
    }

    /// Marks the name, or every name of the destructuring pattern, starting at `start` as declared.
    private static func declarePattern(_ tokens: [Token], from start: Int, into declared: inout Set<String>) {
        guard start < tokens.count else { return }
        let first = tokens[start]
        if first.isName {
            declared.insert(first.text)
            return
        }
        guard first.text == "{" || first.text == "[" else { return }
        var depth = 0
        for token in tokens[start...] {
            if token.text == "{" || token.text == "[" || token.text == "(" { depth += 1 }
            if token.text == "}" || token.text == "]" || token.text == ")" { depth -= 1 }
            if token.isName { declared.insert(token.text) }
            if depth == 0 { return }
        }
    }

    /// Whether the parentheses from `open` to `close` hold parameters: of an arrow (`(a, b) =>`), a
    /// function or method (`function f(a) {`, `name(a) {`), or a `catch (e)`.
    private static func declaresParameters(_ tokens: [Token], open: Int, close: Int) -> Bool {
        let after = close + 1 < tokens.count ? tokens[close + 1].text : ""
        if after == "=>" { return true }
        guard after == "{", open > 0 else { return false }
        let before = tokens[open - 1]
        if before.text == "catch" || before.text == "function" || before.text == "function*" { return true }
        return (before.isName && !controlKeywords.contains(before.text)) || before.text == "]"
    }

    /// For each `)`, the index of its `(`.
    private static func matchingParentheses(_ tokens: [Token]) -> [Int: Int] {
        var open: [Int] = []
        var closing: [Int: Int] = [:]
        for (index, token) in tokens.enumerated() {
            if token.text == "(" { open.append(index) }
            if token.text == ")", let start = open.popLast() { closing[index] = start }
        }
        return closing
    }

    /// What the module function around the plugin's code binds (`PluginModule.prefix`).
    static let moduleBindings: Set<String> = [
        "console", "fetch", "posthog", "require", "global", "module", "exports", "GLOBAL", "root", "globalThis", "isVM",
        "__jestSetTimeout",
    ]
    static let assignments: Set<String> = [
        "=", "+=", "-=", "*=", "/=", "%=", "**=", "<<=", ">>=", ">>>=", "&=", "|=", "^=", "&&=", "||=", "??=", "++", "--",
    ]
    static let controlKeywords: Set<String> = ["if", "for", "while", "switch", "with", "return", "typeof", "await", "yield"]
    static let keywords: Set<String> = [
        "var", "let", "const", "function", "class", "catch", "for", "in", "of", "if", "else", "while", "do", "switch", "case",
        "default", "with", "return", "typeof", "instanceof", "new", "delete", "void", "try", "finally", "throw", "break",
        "continue", "yield", "await", "async", "static", "get", "set", "this", "super", "null", "true", "false", "undefined",
        "import", "export", "extends", "debugger", "arguments",
    ]

    struct Token {
        var text: String
        var isName: Bool
        /// Where the token starts in the code's UTF-8.
        var offset = 0
    }

    /// JavaScript's tokens, roughly: names, numbers and punctuators; strings, templates, regular
    /// expressions and comments are skipped.
    enum Tokenizer {
        static let punctuators = [
            ">>>=", "...", "===", "!==", "**=", "<<=", ">>=", ">>>", "&&=", "||=", "??=", "=>", "==", "!=", "<=", ">=", "&&",
            "||", "??", "?.", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "**", "<<", ">>",
        ].map { Array($0.utf8) }

        static func tokens(of code: String) -> [Token] {
            let bytes = Array(code.utf8)
            var tokens: [Token] = []
            var index = 0
            func isNameByte(_ byte: UInt8) -> Bool {
                byte == UInt8(ascii: "_") || byte == UInt8(ascii: "$") || byte >= 0x80 || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
                    || (byte >= 0x30 && byte <= 0x39)
            }
            func skipQuoted(_ quote: UInt8) {
                index += 1
                while index < bytes.count && bytes[index] != quote {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index += 1
            }
            /// A `/` starts a regular expression where a value is expected, not after one.
            func regexAllowed() -> Bool {
                guard let last = tokens.last else { return true }
                if last.isName { return keywords.contains(last.text) && !["this", "super", "null", "true", "false"].contains(last.text) }
                return ![")", "]", "}"].contains(last.text) && last.text != "number"
            }
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case 0x20, 0x09, 0x0A, 0x0D:
                    index += 1
                case UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "`"):
                    let start = index
                    skipQuoted(byte)
                    tokens.append(Token(text: "string", isName: false, offset: start))
                case UInt8(ascii: "/") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "/"):
                    while index < bytes.count && bytes[index] != 0x0A { index += 1 }
                case UInt8(ascii: "/") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "*"):
                    index += 2
                    while index + 1 < bytes.count && !(bytes[index] == UInt8(ascii: "*") && bytes[index + 1] == UInt8(ascii: "/")) {
                        index += 1
                    }
                    index += 2
                case UInt8(ascii: "/") where regexAllowed():
                    let start = index
                    index += 1
                    var inClass = false
                    while index < bytes.count && bytes[index] != 0x0A {
                        let current = bytes[index]
                        if current == UInt8(ascii: "\\") {
                            index += 2
                            continue
                        }
                        if current == UInt8(ascii: "[") { inClass = true }
                        if current == UInt8(ascii: "]") { inClass = false }
                        index += 1
                        if current == UInt8(ascii: "/") && !inClass { break }
                    }
                    while index < bytes.count && isNameByte(bytes[index]) { index += 1 }
                    tokens.append(Token(text: "regex", isName: false, offset: start))
                case _ where byte >= 0x30 && byte <= 0x39:
                    let start = index
                    while index < bytes.count && (isNameByte(bytes[index]) || bytes[index] == UInt8(ascii: ".")) { index += 1 }
                    tokens.append(Token(text: "number", isName: false, offset: start))
                case _ where isNameByte(byte):
                    let start = index
                    while index < bytes.count && isNameByte(bytes[index]) { index += 1 }
                    var text = String(decoding: bytes[start..<index], as: UTF8.self)
                    if text == "function" && index < bytes.count && bytes[index] == UInt8(ascii: "*") {
                        index += 1
                        text = "function*"
                    }
                    tokens.append(Token(text: text, isName: true, offset: start))
                default:
                    let match = punctuators.first { punctuator in
                        index + punctuator.count <= bytes.count && bytes[index..<index + punctuator.count].elementsEqual(punctuator)
                    }
                    let length = match?.count ?? 1
                    tokens.append(
                        Token(text: String(decoding: bytes[index..<index + length], as: UTF8.self), isName: false, offset: index))
                    index += length
                }
            }
            return tokens
        }
    }
}
