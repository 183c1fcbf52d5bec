import NIOCore

extension ByteBuffer {
    /// Writes a command the way Redis clients must send it: an array of bulk strings.
    mutating func writeRESPCommand(_ arguments: [RedisArgument]) {
        writeRESPHeader(UInt8(ascii: "*"), arguments.count)
        for argument in arguments {
            switch argument.storage {
            case .string(let string):
                writeRESPHeader(UInt8(ascii: "$"), string.utf8.count)
                writeString(string)
            case .bytes(let bytes):
                writeRESPHeader(UInt8(ascii: "$"), bytes.count)
                writeBytes(bytes)
            case .integer(let integer):
                let text = String(integer)
                writeRESPHeader(UInt8(ascii: "$"), text.utf8.count)
                writeString(text)
            case .double(let double):
                let text = String(double)
                writeRESPHeader(UInt8(ascii: "$"), text.utf8.count)
                writeString(text)
            }
            writeStaticString("\r\n")
        }
    }

    private mutating func writeRESPHeader(_ type: UInt8, _ count: Int) {
        writeInteger(type)
        writeString(String(count))
        writeStaticString("\r\n")
    }
}
