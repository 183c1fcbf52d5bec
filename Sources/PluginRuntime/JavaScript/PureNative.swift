import CEngineHooks
import CJavaScriptCore
import Foundation

/// The native operations that need no plugin config (bytes, digests, signatures, randomness, zlib): what the
/// context's shared builtins reach through their bridge, and what every config's bridge falls back to.
enum PureNative {
    static func handle(_ ctx: JSContextRef, _ op: String, _ arguments: [JSValueRef?], exception: inout JSValueRef?) -> JSValueRef? {
        let argument = { (index: Int) -> JSValueRef? in index < arguments.count ? arguments[index] : nil }
        switch op {
        case "utf8encode":
            return JSC.makeBytes(ctx, Array((JSC.toString(ctx, argument(1)) ?? "").utf8))
        case "utf8decode":
            return JSC.makeString(ctx, String(decoding: JSC.bytes(ctx, argument(1)) ?? [], as: UTF8.self))
        case "hash", "hmac":
            let algorithm = JSC.toString(ctx, argument(1)) ?? ""
            let data = JSC.bytes(ctx, argument(op == "hash" ? 2 : 3)) ?? []
            let key = op == "hmac" ? JSC.bytes(ctx, argument(2)) ?? [] : nil
            guard let digest = NativeCrypto.digest(algorithm, data: data, hmacKey: key) else {
                exception = JSObjectMakeError(ctx, 1, [JSC.makeString(ctx, "Digest method not supported")], nil)
                return nil
            }
            return JSC.makeBytes(ctx, digest)
        case "rsaSign", "rsaVerify":
            // (op, digest name, PEM key, data[, signature])
            let algorithm = JSC.toString(ctx, argument(1)) ?? ""
            let pem = JSC.toString(ctx, argument(2)) ?? ""
            let data = JSC.bytes(ctx, argument(3)) ?? []
            do {
                if op == "rsaSign" { return JSC.makeBytes(ctx, try NativeCrypto.rsaSign(algorithm, privateKeyPEM: pem, data: data)) }
                let signature = JSC.bytes(ctx, argument(4)) ?? []
                return JSValueMakeBoolean(ctx, try NativeCrypto.rsaVerify(algorithm, publicKeyPEM: pem, data: data, signature: signature))
            } catch {
                exception = JSObjectMakeError(ctx, 1, [JSC.makeString(ctx, error.message)], nil)
                return nil
            }
        case "randomBytes":
            let count = max(0, min(Int(JSValueToNumber(ctx, argument(1), nil)), 1 << 30))
            var generator = SystemRandomNumberGenerator()
            return JSC.makeBytes(ctx, (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
        case "drain":
            if let group = JSContextGetGroup(ctx) { _ = engine_drain_microtasks(UnsafeRawPointer(group)) }
            return JSValueMakeUndefined(ctx)
        case "randomUUID":
            return JSC.makeString(ctx, UUID().uuidString.lowercased())
        case "zlib":
            let mode = JSC.toString(ctx, argument(1)) ?? ""
            let data = JSC.bytes(ctx, argument(2)) ?? []
            let level = Int32(JSValueToNumber(ctx, argument(3), nil))
            switch NativeZlib.run(mode, data, level: level) {
            case .success(let output): return JSC.makeBytes(ctx, output)
            case .failure(let error):
                exception = JSObjectMakeError(ctx, 1, [JSC.makeString(ctx, error.message)], nil)
                return nil
            }
        default:
            exception = JSObjectMakeError(ctx, 1, [JSC.makeString(ctx, "Unknown native operation")], nil)
            return nil
        }
    }
}

/// `native(op, …)` of the prelude's shared part: pure operations only.
func pureBridgeCallback(
    _ ctx: JSContextRef?, _ function: JSObjectRef?, _ this: JSObjectRef?, _ count: Int,
    _ arguments: UnsafePointer<JSValueRef?>?, _ exception: UnsafeMutablePointer<JSValueRef?>?
) -> JSValueRef? {
    guard let ctx else { return nil }
    let values = Array(UnsafeBufferPointer(start: arguments, count: count))
    guard let first = values.first, let op = JSC.toString(ctx, first) else { return JSValueMakeUndefined(ctx) }
    var thrown: JSValueRef?
    let result = PureNative.handle(ctx, op, values, exception: &thrown)
    if let thrown { exception?.pointee = thrown }
    return result ?? JSValueMakeUndefined(ctx)
}
