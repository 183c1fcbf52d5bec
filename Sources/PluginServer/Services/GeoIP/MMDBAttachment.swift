import Foundation
import NIOCore
import PostgresNIO

/// The server-wide GeoIP database row of posthog_pluginattachment: key `@posthog/mmdb`, no config,
/// no team, brotli-compressed contents, a file name carrying the date (postgres-schema.md).
struct MMDBAttachment: Sendable, Equatable {
    static let key = "@posthog/mmdb"
    /// Older than this (in whole days, from the date in the file name) and it is downloaded again.
    static let staleAfterDays = 45

    var id: Int
    var fileName: String

    /// Days since the ISO date in the file name (`GeoLite2-City-2021-06-01.mmdb.br`): from local
    /// midnight of that date, rounded as `Math.round`, as the original computed it; `nil` without a date.
    static func ageInDays(fileName: String, now: Date, calendar: Calendar = .current) -> Int? {
        guard let match = fileName.firstMatch(of: /(\d{4})-(\d{2})-(\d{2})/),
            let year = Int(match.1), let month = Int(match.2), let day = Int(match.3),
            let date = calendar.date(from: DateComponents(year: year, month: month, day: day))
        else { return nil }
        return Int((now.timeIntervalSince(date) / 86_400 + 0.5).rounded(.down))
    }

    /// Stale when older than 45 days. The original refused to start on a name without a date; here
    /// such a row counts as stale, so a fresh download replaces it.
    static func isStale(fileName: String, now: Date, calendar: Calendar = .current) -> Bool {
        guard let age = ageInDays(fileName: fileName, now: now, calendar: calendar) else { return true }
        return age > staleAfterDays
    }
}

/// Reads and replaces the `@posthog/mmdb` row with the original's statements (`src/main/services/mmdb.ts`).
struct MMDBAttachmentStore: Sendable {
    let store: PostgresStore

    /// The row the original read: the first by file name. Without the contents, which are tens of
    /// megabytes and only needed when the row is opened.
    func latest() async throws -> MMDBAttachment? {
        let rows = try await store.query(
            """
            SELECT id, file_name FROM posthog_pluginattachment
            WHERE key = \(MMDBAttachment.key) AND plugin_config_id IS NULL AND team_id IS NULL
            ORDER BY file_name ASC LIMIT 1
            """)
        for try await (id, fileName) in rows.decode((Int, String).self) { return MMDBAttachment(id: id, fileName: fileName) }
        return nil
    }

    /// The brotli-compressed contents of a row; `nil` when the row has gone or holds none.
    func contents(of attachment: MMDBAttachment) async throws -> [UInt8]? {
        let rows = try await store.query("SELECT contents FROM posthog_pluginattachment WHERE id = \(attachment.id)")
        for try await contents in rows.decode(ByteBuffer?.self) { return contents.map { Array(buffer: $0) } }
        return nil
    }

    /// Inserts the new row and deletes every other `@posthog/mmdb` row, in one transaction (the
    /// original ran the two statements apart).
    func replace(fileName: String, contentType: String, contents: [UInt8]) async throws {
        try await store.withTransaction { connection in
            let inserted = try await connection.query(
                """
                INSERT INTO posthog_pluginattachment (key, content_type, file_name, file_size, contents, plugin_config_id, team_id)
                VALUES (\(MMDBAttachment.key), \(contentType), \(fileName), \(contents.count), \(ByteBuffer(bytes: contents)), NULL, NULL)
                RETURNING id
                """, logger: store.logger)
            var newId = 0
            for try await id in inserted.decode(Int.self) { newId = id }
            try await connection.query(
                "DELETE FROM posthog_pluginattachment WHERE key = \(MMDBAttachment.key) AND id != \(newId)", logger: store.logger
            ).consume()
        }
    }
}
