import Crypto

/// `crypto.createHash` / `createHmac` digests, computed natively with swift-crypto.
enum NativeCrypto {
    static func digest(_ algorithm: String, data: [UInt8], hmacKey: [UInt8]?) -> [UInt8]? {
        switch algorithm {
        case "md5": return compute(Insecure.MD5.self, data, hmacKey)
        case "sha1": return compute(Insecure.SHA1.self, data, hmacKey)
        case "sha256": return compute(SHA256.self, data, hmacKey)
        case "sha384": return compute(SHA384.self, data, hmacKey)
        case "sha512": return compute(SHA512.self, data, hmacKey)
        default: return nil
        }
    }

    private static func compute<H: HashFunction>(_ type: H.Type, _ data: [UInt8], _ key: [UInt8]?) -> [UInt8] {
        if let key {
            return Array(HMAC<H>.authenticationCode(for: data, using: SymmetricKey(data: key)))
        }
        return Array(H.hash(data: data))
    }
}
