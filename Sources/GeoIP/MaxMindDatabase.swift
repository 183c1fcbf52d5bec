import CMaxMindDB
import PostHogEvents

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open MaxMind database (libmaxminddb). Built from bytes: libmaxminddb opens only files, so the
/// bytes go to a private file that is unlinked as soon as the library has mapped it.
public final class MaxMindDatabase: @unchecked Sendable {
    // @unchecked: `handle` is written once by MMDB_open and only read afterwards; libmaxminddb's
    // lookups on a shared, opened MMDB_s are thread-safe. MMDB_close runs in deinit, once no caller
    // holds the database any more.
    private let handle: UnsafeMutablePointer<MMDB_s>
    /// `GeoLite2-City`, `GeoIP2-City`, …
    public let databaseType: String
    /// When MaxMind built the data (seconds since 1970).
    public let buildEpoch: UInt64
    private let ipVersion: Int

    /// Decompresses and opens a `.mmdb.br` as the original stored it.
    public convenience init(brotliCompressed: [UInt8]) throws(GeoIPError) {
        try self.init(contents: Brotli.decompress(brotliCompressed))
    }

    public init(contents: [UInt8]) throws(GeoIPError) {
        let path = try Self.writePrivateFile(contents)
        defer { unlink(path) }
        let handle = UnsafeMutablePointer<MMDB_s>.allocate(capacity: 1)
        let status = MMDB_open(path, UInt32(MMDB_MODE_MMAP), handle)
        guard status == MMDB_SUCCESS else {
            handle.deallocate()
            throw GeoIPError(.open, String(cString: MMDB_strerror(status)))
        }
        self.handle = handle
        databaseType = handle.pointee.metadata.database_type.map { String(cString: $0) } ?? ""
        buildEpoch = handle.pointee.metadata.build_epoch
        ipVersion = Int(handle.pointee.metadata.ip_version)
    }

    deinit {
        MMDB_close(handle)
        handle.deallocate()
    }

    /// The record stored for `address` with its original (snake_case) keys, and the prefix length of
    /// the network it was found in; `nil` when the database has no data for the address.
    public func lookup(_ address: IPAddress) -> (record: JSON, prefixLength: Int)? {
        var error: Int32 = MMDB_SUCCESS
        let result = Self.withSocketAddress(address) { MMDB_lookup_sockaddr(handle, $0, &error) }
        // An IPv6 address in an IPv4-only database is an error here; for the Node reader it was "not found".
        guard error == MMDB_SUCCESS, result.found_entry else { return nil }
        var entry = result.entry
        var list: UnsafeMutablePointer<MMDB_entry_data_list_s>?
        guard MMDB_get_entry_data_list(&entry, &list) == MMDB_SUCCESS, let first = list else { return nil }
        defer { MMDB_free_entry_data_list(first) }
        var cursor: UnsafeMutablePointer<MMDB_entry_data_list_s>? = first
        let record = Self.decode(&cursor)
        // IPv4 addresses live under ::/96 of an IPv6 tree: the library counts those 96 bits.
        let netmask = Int(result.netmask)
        return (record, address.isIPv4 && ipVersion == 6 ? max(0, netmask - 96) : netmask)
    }

    // MARK: Decoding

    /// Reads one value from the flattened entry list (a map or array is followed by its members).
    private static func decode(_ cursor: inout UnsafeMutablePointer<MMDB_entry_data_list_s>?) -> JSON {
        guard let node = cursor else { return .null }
        cursor = node.pointee.next
        let data = node.pointee.entry_data
        switch Int32(bitPattern: data.type) {
        case MMDB_DATA_TYPE_MAP:
            var object = JSONObject()
            for _ in 0..<data.data_size {
                let key = decode(&cursor).stringValue ?? ""
                object[key] = decode(&cursor)
            }
            return .object(object)
        case MMDB_DATA_TYPE_ARRAY:
            return .array((0..<data.data_size).map { _ in decode(&cursor) })
        case MMDB_DATA_TYPE_UTF8_STRING:
            // Not NUL-terminated: the length is `data_size`.
            let bytes = UnsafeRawBufferPointer(start: data.utf8_string, count: Int(data.data_size))
            return .string(String(decoding: bytes, as: UTF8.self))
        case MMDB_DATA_TYPE_DOUBLE: return .number(data.double_value)
        case MMDB_DATA_TYPE_FLOAT: return .number(Double(data.float_value))
        case MMDB_DATA_TYPE_UINT16: return .number(Double(data.uint16))
        case MMDB_DATA_TYPE_UINT32: return .number(Double(data.uint32))
        case MMDB_DATA_TYPE_INT32: return .number(Double(data.int32))
        case MMDB_DATA_TYPE_UINT64:
            // Beyond 2^53 a double would round; the Node reader gave such values as strings too.
            return data.uint64 <= 1 << 53 ? .number(Double(data.uint64)) : .string(String(data.uint64))
        case MMDB_DATA_TYPE_BOOLEAN: return .bool(data.boolean)
        case MMDB_DATA_TYPE_BYTES:
            let bytes = UnsafeBufferPointer(start: data.bytes, count: Int(data.data_size))
            return .array(bytes.map { .number(Double($0)) })
        default:
            // uint128 (not used by the City databases) has no JSON form worth inventing.
            return .null
        }
    }

    // MARK: Plumbing

    private static func withSocketAddress<Result>(_ address: IPAddress, _ body: (UnsafePointer<sockaddr>) -> Result) -> Result {
        if address.isIPv4 {
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            withUnsafeMutableBytes(of: &socketAddress.sin_addr) { $0.copyBytes(from: address.bytes) }
            return withUnsafePointer(to: &socketAddress) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1, body) }
        }
        var socketAddress = sockaddr_in6()
        socketAddress.sin6_family = sa_family_t(AF_INET6)
        withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { $0.copyBytes(from: address.bytes) }
        return withUnsafePointer(to: &socketAddress) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1, body) }
    }

    /// Writes `contents` to a new file only this process can read (mkstemp: mode 0600).
    private static func writePrivateFile(_ contents: [UInt8]) throws(GeoIPError) -> String {
        let directory = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(directory)/posthog-geoip-XXXXXX".utf8CString)
        let descriptor = mkstemp(&template)
        guard descriptor >= 0 else { throw GeoIPError(.temporaryFile, "mkstemp in \(directory): \(String(cString: strerror(errno)))") }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        defer { close(descriptor) }
        var written = 0
        let failure: Int32? = contents.withUnsafeBytes { bytes in
            while written < bytes.count {
                let count = write(descriptor, bytes.baseAddress! + written, bytes.count - written)
                if count < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += count
            }
            return nil
        }
        if let failure {
            unlink(path)
            throw GeoIPError(.temporaryFile, "writing \(path): \(String(cString: strerror(failure)))")
        }
        return path
    }
}
