/// The lines of JavaScriptCore's `error.stack`: `name@file:line:column`, `@[native code]` for a
/// builtin, and names with a space only for the engine's own (`global code`).
enum StackFrame {
    private static let spacedNames: Set<Substring> = ["global code", "eval code", "module code"]

    /// Whether `line` is one frame, of `file` when given.
    static func isFrame(_ line: Substring, file: String? = nil) -> Bool {
        guard let at = line.lastIndex(of: "@") else { return false }
        let name = line[..<at]
        guard !name.contains(where: \.isWhitespace) || spacedNames.contains(name) else { return false }
        let place = line[line.index(after: at)...]
        if place == "[native code]" { return file == nil }
        let parts = place.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts.suffix(2).allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }) else { return false }
        let url = parts.dropLast(2).joined(separator: ":")
        guard !url.isEmpty, !url.contains(where: \.isWhitespace) else { return false }
        return file.map { url == $0 } ?? true
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
