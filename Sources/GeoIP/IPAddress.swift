#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A literal IPv4 or IPv6 address. Parsing is strict, like Node's `net.isIP` that the MaxMind Node
/// reader validated with: `127.1` or `0x7f.0.0.1` are not addresses.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, in network order.
    public let bytes: [UInt8]

    public var isIPv4: Bool { bytes.count == 4 }

    public init?(_ text: String) {
        if text.contains(":") {
            // A zone index (`fe80::1%eth0`) names an interface, not a place.
            var address = in6_addr()
            guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
            bytes = withUnsafeBytes(of: &address) { Array($0) }
        } else {
            var address = in_addr()
            guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
            bytes = withUnsafeBytes(of: &address) { Array($0) }
        }
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    /// The address with every bit after the first `prefixLength` cleared.
    public func masked(to prefixLength: Int) -> IPAddress {
        var masked = bytes
        for index in masked.indices {
            let keep = min(8, max(0, prefixLength - index * 8))
            masked[index] &= keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        }
        return IPAddress(bytes: masked)
    }

    /// Dotted quad, or the RFC 5952 form `inet_ntop` gives (`2001:db8::/32`).
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = isIPv4 ? AF_INET : AF_INET6
        let written = bytes.withUnsafeBytes { source in
            inet_ntop(family, source.baseAddress, &buffer, socklen_t(buffer.count))
        }
        guard written != nil else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `address/prefix` of the network of this address, as the Node reader's `traits.network`.
    public func network(prefixLength: Int) -> String { "\(masked(to: prefixLength))/\(prefixLength)" }
}
