/// Why a GeoIP database could not be prepared: the stage that failed and what the library said.
public struct GeoIPError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable { case decompression, tooLarge, temporaryFile, open }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The bytes are not a complete brotli stream.
        public static let decompression = Code(.decompression)
        /// Decompressing would exceed the size limit.
        public static let tooLarge = Code(.tooLarge)
        /// The private file libmaxminddb opens could not be written.
        public static let temporaryFile = Code(.temporaryFile)
        /// libmaxminddb rejected the data (not a MaxMind database, or corrupt).
        public static let open = Code(.open)

        public var description: String { value.rawValue }
    }

    public var code: Code
    /// The underlying library's message, e.g. `MMDB_strerror` or the brotli error name.
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "GeoIP database \(code): \(detail)" }
}
