import Foundation
import Logging

/// Log lines in the original's shape, `[MAIN] 10:00:05 ℹ️ message key=value`, or one JSON object per
/// line with LOG_FORMAT=json. LOG_LEVEL maps the original's levels onto swift-log's.
public struct ServerLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let json: Bool
    let silenced: Bool

    public init(label: String, level: LogLevel, json: Bool) {
        self.label = label
        self.json = json
        self.silenced = level == .none
        switch level {
        case .debug: logLevel = .debug
        case .info: logLevel = .info
        case .log: logLevel = .notice
        case .warn: logLevel = .warning
        case .error, .none: logLevel = .error
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        guard !silenced else { return }
        var merged = self.metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line: String
        if json {
            var object: [String: String] = ["level": "\(event.level)", "message": "\(event.message)", "time": Self.isoTime()]
            for (key, value) in merged { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        } else {
            let context = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "[\(label)] \(Self.clockTime()) \(Self.icon(event.level)) \(event.message)" + (context.isEmpty ? "" : " " + context)
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func icon(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: return "🐛"
        case .info, .notice: return "💬"
        case .warning: return "⚠️"
        case .error, .critical: return "🛑"
        }
    }

    static func clockTime() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        return String(format: "%02d:%02d:%02d", parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    static func isoTime() -> String { ISO8601DateFormatter().string(from: Date()) }
}
