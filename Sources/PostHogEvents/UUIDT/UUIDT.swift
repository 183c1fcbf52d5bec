import Foundation

/// PostHog's time-ordered 128-bit id (wire-formats.md §5): 48-bit Unix milliseconds, a 16-bit
/// per-millisecond series, 8 random bytes, no RFC 4122 version bits. Sorts by creation time.
public struct UUIDT: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// An id for the current millisecond.
    public init() {
        self.init(unixTimeMilliseconds: UInt64(max(0, EventTimestamp.now().millisecondsSince1970)))
    }

    public init(unixTimeMilliseconds: UInt64) {
        let series = UUIDTSeries.shared.next(forMillisecond: unixTimeMilliseconds)
        var generator = SystemRandomNumberGenerator()  // cryptographically secure on every platform
        let random = generator.next() as UInt64
        var bytes = [UInt8]()
        bytes.reserveCapacity(16)
        for shift in stride(from: 40, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: unixTimeMilliseconds >> UInt64(shift)))
        }
        bytes.append(UInt8(truncatingIfNeeded: series >> 8))
        bytes.append(UInt8(truncatingIfNeeded: series))
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: random >> UInt64(shift)))
        }
        self.bytes = bytes
    }

    /// The same 16 bytes as a Foundation `UUID`, for Postgres `uuid` columns.
    public var uuid: UUID {
        UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
    }

    /// Lowercase `8-4-4-4-12`, as the original's `toString()`.
    public var uuidString: String {
        var text = ""
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append("-") }
            text.append(Self.hexDigits[Int(byte >> 4)])
            text.append(Self.hexDigits[Int(byte & 0xF)])
        }
        return text
    }

    public var description: String { uuidString }

    /// The shape check for incoming uuids (ingestion.md §4.2): `8-4-4-4-12` hex digits in either case,
    /// hyphens required, nothing around them. The value is then used unchanged.
    public static func isValidUUIDString(_ text: String) -> Bool {
        let utf8 = text.utf8
        guard utf8.count == 36 else { return false }
        for (offset, byte) in utf8.enumerated() {
            switch offset {
            case 8, 13, 18, 23:
                guard byte == UInt8(ascii: "-") else { return false }
            default:
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
                    UInt8(ascii: "A")...UInt8(ascii: "F"):
                    continue
                default: return false
                }
            }
        }
        return true
    }

    private static let hexDigits: [Character] = Array("0123456789abcdef")
}

/// The per-process series counter of UUIDT: the first id of a millisecond gets 0, the next 1, …
/// The map is cleared once it holds more than 10,000 milliseconds, as the original does.
final class UUIDTSeries: @unchecked Sendable {
    // @unchecked: `counters` is only touched while `lock` is held.
    static let shared = UUIDTSeries()
    static let maximumTrackedMilliseconds = 10_000

    private let lock = NSLock()
    private var counters: [UInt64: UInt16] = [:]

    func next(forMillisecond millisecond: UInt64) -> UInt16 {
        lock.lock()
        defer { lock.unlock() }
        let series = counters[millisecond] ?? 0
        if counters.count > Self.maximumTrackedMilliseconds { counters.removeAll(keepingCapacity: true) }
        counters[millisecond] = series &+ 1  // wraps modulo 65,536
        return series
    }
}
