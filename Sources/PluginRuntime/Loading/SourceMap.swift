import Foundation
import PostHogEvents

/// The source map esbuild writes at the end of the compiled plugin (`--sourcemap=inline`), so error
/// stacks name the plugin author's own lines and files instead of the compiled output's. Decoded only
/// when an error needs it; the compiled code keeps the map as its last line.
struct SourceMap: Sendable {
    /// One mapped segment: from a generated column (0-based) to a place in a source (0-based).
    struct Segment: Sendable {
        var generatedColumn: Int
        var source: Int
        var line: Int
        var column: Int
    }

    static let marker = "//# sourceMappingURL=data:application/json;base64,"

    let sources: [String]
    /// Per generated line, its segments by generated column.
    let lines: [[Segment]]

    /// The map inlined at the end of `code`; nil without one, or when it cannot be read.
    init?(inlineIn code: String) {
        guard let start = code.range(of: Self.marker, options: .backwards) else { return nil }
        let encoded = code[start.upperBound...].prefix { !$0.isNewline }
        guard let data = Data(base64Encoded: String(encoded)), let json = try? JSON(parsing: Array(data)),
            let mappings = json["mappings"]?.stringValue
        else { return nil }
        sources = (json["sources"]?.arrayValue ?? []).map { $0.stringValue ?? "" }
        guard let lines = Self.decode(mappings) else { return nil }
        self.lines = lines
    }

    /// The source place of generated `line` and `column` (both 1-based, as JavaScriptCore reports them).
    func original(line: Int, column: Int) -> (source: String, line: Int, column: Int)? {
        guard line >= 1, line <= lines.count else { return nil }
        let segments = lines[line - 1]
        guard let segment = segments.last(where: { $0.generatedColumn <= column - 1 }) ?? segments.first,
            column >= 1,
            segment.source >= 0, segment.source < sources.count
        else { return nil }
        return (sources[segment.source], segment.line + 1, segment.column + 1)
    }

    /// Rewrites the frames of `stack` in `file` (`name@file:line:column`) to source places; `offset` is
    /// what the module wrapper put before the code on its first line.
    func rewrite(stack: String, file: String, firstLineOffset offset: Int) -> String {
        let needle = "@" + file + ":"
        var lines: [String] = []
        for frame in stack.split(separator: "\n", omittingEmptySubsequences: false) {
            guard let at = frame.range(of: needle, options: .backwards) else {
                lines.append(String(frame))
                continue
            }
            let place = frame[at.upperBound...].split(separator: ":")
            // Frames of the wrapper itself (before the code on line 1, or after it) stay as they are.
            guard place.count == 2, let line = Int(place[0]), let column = Int(place[1]).map({ line == 1 ? $0 - offset : $0 }),
                column >= 1, let found = original(line: line, column: column)
            else {
                lines.append(String(frame))
                continue
            }
            lines.append(frame[..<at.lowerBound] + "@\(found.source):\(found.line):\(found.column)")
        }
        return lines.joined(separator: "\n")
    }

    /// Base64 VLQ segments, fields relative to the previous segment (the column to the previous one
    /// on the same line).
    private static func decode(_ mappings: String) -> [[Segment]]? {
        var digits = [Int](repeating: -1, count: 128)
        for (index, character) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            digits[Int(character)] = index
        }
        var lines: [[Segment]] = [[]]
        var fields: [Int] = []
        var value = 0
        var shift = 0
        var source = 0
        var line = 0
        var column = 0
        var generatedColumn = 0
        func endSegment() -> Bool {
            defer { fields.removeAll(keepingCapacity: true) }
            guard !fields.isEmpty else { return true }
            guard fields.count == 1 || fields.count >= 4 else { return false }
            generatedColumn += fields[0]
            guard fields.count >= 4 else { return true }
            source += fields[1]
            line += fields[2]
            column += fields[3]
            lines[lines.count - 1].append(Segment(generatedColumn: generatedColumn, source: source, line: line, column: column))
            return true
        }
        for character in mappings.utf8 {
            switch character {
            case UInt8(ascii: ","):
                guard endSegment() else { return nil }
            case UInt8(ascii: ";"):
                guard endSegment() else { return nil }
                lines.append([])
                generatedColumn = 0
            default:
                guard character < 128, digits[Int(character)] >= 0 else { return nil }
                let digit = digits[Int(character)]
                value += (digit & 31) << shift
                if digit & 32 != 0 {
                    shift += 5
                    guard shift < 60 else { return nil }
                } else {
                    fields.append(value & 1 == 1 ? -(value >> 1) : value >> 1)
                    value = 0
                    shift = 0
                }
            }
        }
        guard endSegment() else { return nil }
        return lines
    }
}
