import Foundation
import PostHogEvents

/// Reads the events to run: a JSON array, or one JSON object per line (blank lines skipped).
enum RunnerEventInput {
    static func read(path: String?) throws(RunnerError) -> [JSON] {
        let data: Data
        if let path {
            // Read as a stream: `/dev/null`, a pipe or `<(…)` have no size to read up to.
            guard let file = FileHandle(forReadingAtPath: path) else { throw RunnerError("Cannot read events file \(path)") }
            defer { try? file.close() }
            do {
                data = try file.readToEnd() ?? Data()
            } catch {
                throw RunnerError("Cannot read events file \(path): \(error.localizedDescription)")
            }
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        return try parse(String(decoding: data, as: UTF8.self))
    }

    static func parse(_ text: String) throws(RunnerError) -> [JSON] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return [] }
        if trimmed.hasPrefix("[") {
            let parsed: JSON
            do { parsed = try JSON(parsing: trimmed) } catch { throw RunnerError("Events are not a valid JSON array: \(error)") }
            let events = parsed.arrayValue ?? []
            for (index, event) in events.enumerated() where event.objectValue == nil {
                throw RunnerError("Event #\(index + 1) is not a JSON object")
            }
            return events
        }
        var events: [JSON] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.trimmingCharacters(in: .whitespaces)
            if content.isEmpty { continue }
            let parsed: JSON
            do { parsed = try JSON(parsing: content) } catch { throw RunnerError("Line \(number + 1) is not valid JSON: \(error)") }
            guard parsed.objectValue != nil else { throw RunnerError("Line \(number + 1) is not a JSON object") }
            events.append(parsed)
        }
        return events
    }
}
