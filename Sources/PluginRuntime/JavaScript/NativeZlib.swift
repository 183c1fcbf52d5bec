import CBrotli
import CSystemZlib
import GeoIP

/// The `zlib` library's synchronous functions over system zlib and brotli.
enum NativeZlib {
    struct Failure: Error { var message: String }

    static func run(_ mode: String, _ input: [UInt8], level: Int32) -> Result<[UInt8], Failure> {
        switch mode {
        case "gzip": return deflate(input, level: level, windowBits: 31)
        case "deflate": return deflate(input, level: level, windowBits: 15)
        case "deflateRaw": return deflate(input, level: level, windowBits: -15)
        case "gunzip": return inflate(input, windowBits: 31)
        case "inflate": return inflate(input, windowBits: 15)
        case "inflateRaw": return inflate(input, windowBits: -15)
        case "unzip": return inflate(input, windowBits: 47)
        case "brotliCompress": return brotliCompress(input, quality: level)
        case "brotliDecompress": return brotliDecompress(input)
        default: return .failure(Failure(message: "Unknown zlib operation \(mode)"))
        }
    }

    static func deflate(_ input: [UInt8], level: Int32, windowBits: Int32) -> Result<[UInt8], Failure> {
        var stream = z_stream()
        guard
            deflateInit2_(&stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
                == Z_OK
        else { return .failure(Failure(message: "zlib initialisation failed")) }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 64)
        var input = input
        let status = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = UInt32(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = UInt32(outBuffer.count)
                return CSystemZlib.deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { return .failure(Failure(message: "zlib compression failed")) }
        return .success(Array(output.prefix(Int(stream.total_out))))
    }

    static func inflate(_ input: [UInt8], windowBits: Int32) -> Result<[UInt8], Failure> {
        var stream = z_stream()
        guard inflateInit2_(&stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return .failure(Failure(message: "zlib initialisation failed"))
        }
        defer { inflateEnd(&stream) }
        var input = input
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var status: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(inBuffer.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { outBuffer -> Int in
                    stream.next_out = outBuffer.baseAddress
                    stream.avail_out = UInt32(outBuffer.count)
                    status = CSystemZlib.inflate(&stream, Z_NO_FLUSH)
                    return outBuffer.count - Int(stream.avail_out)
                }
                output.append(contentsOf: chunk.prefix(produced))
            } while status == Z_OK && (stream.avail_in > 0 || stream.avail_out == 0)
        }
        guard status == Z_STREAM_END else {
            return .failure(Failure(message: status == Z_BUF_ERROR ? "unexpected end of file" : "incorrect header check"))
        }
        return .success(output)
    }

    /// Brotli at `quality` (0–11; Node's default is 11), in one call.
    static func brotliCompress(_ input: [UInt8], quality: Int32) -> Result<[UInt8], Failure> {
        var size = BrotliEncoderMaxCompressedSize(input.count)
        if size == 0 { size = input.count + 1024 }
        var output = [UInt8](repeating: 0, count: size)
        let quality = quality < 0 || quality > 11 ? 11 : quality
        let done = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                BrotliEncoderCompress(
                    quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, source.count, source.baseAddress, &size, target.baseAddress)
            }
        }
        guard done == BROTLI_TRUE else { return .failure(Failure(message: "brotli compression failed")) }
        return .success(Array(output.prefix(size)))
    }

    /// A whole brotli stream, through the decoder the GeoIP database is read with (at most 1 GiB out).
    static func brotliDecompress(_ input: [UInt8]) -> Result<[UInt8], Failure> {
        do {
            return .success(try Brotli.decompress(input))
        } catch {
            return .failure(Failure(message: "Decompression failed"))
        }
    }
}
