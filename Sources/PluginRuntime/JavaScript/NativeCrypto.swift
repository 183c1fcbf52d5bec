import Crypto
import _CryptoExtras

/// `crypto.createHash` / `createHmac` digests and `createSign` / `createVerify` RSA signatures,
/// computed natively with swift-crypto.
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

    struct SigningError: Error { var message: String }

    /// Keys of 1,024 bits and more are taken, as Node takes them; a shorter one is named as such.
    private static func keyError(_ error: any Error, kind: String) -> SigningError {
        if case CryptoKitError.incorrectParameterSize = error {
            return SigningError(message: "RSA keys shorter than 1024 bits are not accepted")
        }
        return SigningError(message: "error:1E08010C:DECODER routines::unsupported: the key is not a PEM RSA \(kind) key")
    }

    /// Whether `signature` is `data`'s RSASSA-PKCS1-v1_5 signature by the PEM public key's owner.
    static func rsaVerify(_ algorithm: String, publicKeyPEM: String, data: [UInt8], signature: [UInt8]) throws(SigningError) -> Bool {
        let key: _RSA.Signing.PublicKey
        do {
            key = try _RSA.Signing.PublicKey(unsafePEMRepresentation: publicKeyPEM)
        } catch {
            throw keyError(error, kind: "public")
        }
        let digest = try signedDigest(algorithm, of: data)
        return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: digest, padding: .insecurePKCS1v1_5)
    }

    /// An RSASSA-PKCS1-v1_5 signature (Node's `createSign('RSA-SHA256').sign(pem)`, the JWTs' RS256)
    /// with a PEM private key, PKCS#1 or PKCS#8.
    static func rsaSign(_ algorithm: String, privateKeyPEM: String, data: [UInt8]) throws(SigningError) -> [UInt8] {
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(unsafePEMRepresentation: privateKeyPEM)
        } catch {
            throw keyError(error, kind: "private")
        }
        let digest = try signedDigest(algorithm, of: data)
        do {
            return Array(try key.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
        } catch {
            throw SigningError(message: "RSA signing failed: \(error)")
        }
    }

    /// The digest an RSA signature covers, by Node's digest name.
    private static func signedDigest(_ algorithm: String, of data: [UInt8]) throws(SigningError) -> any Digest {
        switch algorithm {
        case "sha1": return Insecure.SHA1.hash(data: data)
        case "sha256": return SHA256.hash(data: data)
        case "sha384": return SHA384.hash(data: data)
        case "sha512": return SHA512.hash(data: data)
        default: throw SigningError(message: "Invalid digest: \(algorithm)")
        }
    }
}
