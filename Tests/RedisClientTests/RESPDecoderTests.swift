import NIOCore
import Testing

@testable import RedisClient

@Suite("RESP decoder")
struct RESPDecoderTests {
    /// Feeds `chunks` one after another and collects every complete reply.
    private func decode(_ chunks: [[UInt8]]) throws -> [RESPValue] {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        for chunk in chunks {
            buffer.writeBytes(chunk)
            while let value = try decoder.decode(&buffer) { values.append(value) }
        }
        #expect(buffer.readableBytes == 0)
        return values
    }

    private func decode(_ text: String) throws -> [RESPValue] { try decode([Array(text.utf8)]) }

    @Test("every RESP2 type decodes")
    func everyType() throws {
        #expect(try decode("+OK\r\n") == [.simpleString("OK")])
        #expect(try decode("-ERR unknown command\r\n") == [.error("ERR unknown command")])
        #expect(try decode(":42\r\n:-7\r\n:0\r\n") == [.integer(42), .integer(-7), .integer(0)])
        #expect(try decode("$5\r\nhello\r\n") == [.bulkString(Array("hello".utf8))])
        #expect(try decode("$0\r\n\r\n") == [.bulkString([])])
        #expect(try decode("$-1\r\n") == [.null])
        #expect(try decode("*-1\r\n") == [.null])
        #expect(try decode("*0\r\n") == [.array([])])
        #expect(try decode(":9223372036854775807\r\n:-9223372036854775808\r\n") == [.integer(.max), .integer(.min)])
    }

    @Test("bulk strings are binary-safe, CR LF and NUL included")
    func binaryBulk() throws {
        let payload: [UInt8] = [0, 13, 10, 255, 36, 13, 10]
        #expect(try decode([Array("$7\r\n".utf8) + payload + Array("\r\n".utf8)]) == [.bulkString(payload)])
    }

    @Test("nested arrays with nulls and errors decode as one reply")
    func nesting() throws {
        let text = "*4\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n$-1\r\n*0\r\n-ERR x\r\n"
        let expected = RESPValue.array([
            .integer(1), .array([.bulkString(Array("a".utf8)), .array([.null])]), .array([]), .error("ERR x"),
        ])
        #expect(try decode(text) == [expected])
    }

    @Test("input split at every position gives the same replies")
    func splitAnywhere() throws {
        let text = Array("+OK\r\n*3\r\n$3\r\nfoo\r\n*2\r\n:5\r\n$-1\r\n-ERR no\r\n$4\r\nab\r\n\r\n:12\r\n".utf8)
        let whole = try decode([text])
        #expect(whole.count == 4)
        for split in 0...text.count {
            #expect(try decode([Array(text[..<split]), Array(text[split...])]) == whole, "split at \(split)")
        }
        #expect(try decode(text.map { [$0] }) == whole, "one byte at a time")
    }

    @Test("a large bulk string arriving in chunks decodes once complete")
    func largeBulk() throws {
        let payload = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let message = Array("$\(payload.count)\r\n".utf8) + payload + Array("\r\n".utf8)
        var decoder = RESPDecoder()
        var buffer = ByteBuffer()
        var result: RESPValue?
        for start in stride(from: 0, to: message.count, by: 65_536) {
            #expect(result == nil)
            buffer.writeBytes(message[start..<min(start + 65_536, message.count)])
            result = try decoder.decode(&buffer)
        }
        #expect(result == .bulkString(payload))
    }

    @Test("incomplete input consumes nothing and waits for more")
    func incomplete() throws {
        var decoder = RESPDecoder()
        for partial in ["", "+O", "+OK\r", "$5\r\nhel", "$5\r\nhello\r", ":1"] {
            var buffer = ByteBuffer(string: partial)
            #expect(try decoder.decode(&buffer) == nil)
            #expect(buffer.readableBytes == partial.utf8.count)
        }
    }

    @Test(
        "malformed input is a protocol violation",
        arguments: [
            "?what\r\n", ":12a\r\n", ":\r\n", "$abc\r\n", "$-2\r\n", "*-5\r\n", "$3\r\nabcde\r\n", "+OK\n",
            ":99999999999999999999\r\n", "$999999999999\r\n",
        ])
    func malformed(_ text: String) {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: text)
        #expect(throws: RESPDecodingError.self) { try decoder.decode(&buffer) }
    }
}

@Suite("RESP command encoding")
struct RESPEncodingTests {
    @Test("commands are arrays of bulk strings, whatever the argument type")
    func encoding() {
        var buffer = ByteBuffer()
        buffer.writeRESPCommand(["SET", "kéy", RedisArgument([0, 13, 10]), 42, RedisArgument(1.5)])
        let expected = "*5\r\n$3\r\nSET\r\n$4\r\nkéy\r\n$3\r\n\u{0}\r\n\r\n$2\r\n42\r\n$3\r\n1.5\r\n"
        #expect(buffer.readString(length: buffer.readableBytes) == expected)
    }

    @Test("script hashes match Redis's SHA-1 names")
    func sha1() {
        #expect(SHA1.hexDigest("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA1.hexDigest("return 1") == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
        #expect(SHA1.hexDigest(String(repeating: "a", count: 1000)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }
}
