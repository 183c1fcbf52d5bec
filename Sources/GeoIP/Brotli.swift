import CBrotli

/// Brotli decompression of the stored database (the original kept `@posthog/mmdb` brotli-compressed,
/// plugin-runtime.md §8.5).
public enum Brotli {
    /// Decompresses a complete brotli stream; throws on a truncated or corrupt one, and before the
    /// output would exceed `limit` bytes.
    public static func decompress(_ input: [UInt8], limit: Int = 1 << 30) throws(GeoIPError) -> [UInt8] {
        guard let decoder = BrotliDecoderCreateInstance(nil, nil, nil) else {
            throw GeoIPError(.decompression, "cannot create a brotli decoder")
        }
        defer { BrotliDecoderDestroyInstance(decoder) }

        var output: [UInt8] = []
        output.reserveCapacity(min(limit, input.count * 4))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var result = BROTLI_DECODER_RESULT_ERROR
        var remaining = input.count
        input.withUnsafeBufferPointer { source in
            var next = source.baseAddress
            repeat {
                var free = chunk.count
                chunk.withUnsafeMutableBufferPointer { target in
                    var out = target.baseAddress
                    result = BrotliDecoderDecompressStream(decoder, &remaining, &next, &free, &out, nil)
                }
                output.append(contentsOf: chunk[0..<(chunk.count - free)])
            } while result == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT && output.count <= limit
        }
        if output.count > limit { throw GeoIPError(.tooLarge, "more than \(limit) bytes once decompressed") }
        switch result {
        case BROTLI_DECODER_RESULT_SUCCESS where remaining == 0:
            return output
        case BROTLI_DECODER_RESULT_SUCCESS:
            throw GeoIPError(.decompression, "\(remaining) bytes after the end of the brotli stream")
        case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
            throw GeoIPError(.decompression, "the brotli stream is truncated")
        default:
            let name = BrotliDecoderErrorString(BrotliDecoderGetErrorCode(decoder)).map { String(cString: $0) } ?? "unknown"
            throw GeoIPError(.decompression, name)
        }
    }
}
