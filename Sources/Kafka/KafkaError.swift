import CRdKafka

/// The Kafka client's one error: what failed (`code`), librdkafka's error name and text, and the
/// topic it concerned when there is one.
public struct KafkaError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case configuration, clientCreation, produce, delivery, consume, commit, subscribe, metadata, closed
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A property was refused by librdkafka.
        public static let configuration = Code(.configuration)
        public static let clientCreation = Code(.clientCreation)
        /// librdkafka refused to queue a message (queue full, unknown topic, message too large).
        public static let produce = Code(.produce)
        /// The broker did not acknowledge a message after the client's retries.
        public static let delivery = Code(.delivery)
        public static let consume = Code(.consume)
        public static let commit = Code(.commit)
        public static let subscribe = Code(.subscribe)
        public static let metadata = Code(.metadata)
        /// The client was closed.
        public static let closed = Code(.closed)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String
    /// librdkafka's error code (`rd_kafka_resp_err_t`), 0 when the error did not come from it.
    public var librdkafkaCode: Int32
    public var topic: String?

    public init(_ code: Code, _ message: String, librdkafkaCode: Int32 = 0, topic: String? = nil) {
        self.code = code
        self.message = message
        self.librdkafkaCode = librdkafkaCode
        self.topic = topic
    }

    init(_ code: Code, response: rd_kafka_resp_err_t, topic: String? = nil) {
        self.init(code, String(cString: rd_kafka_err2str(response)), librdkafkaCode: response.rawValue, topic: topic)
    }

    /// A NUL-terminated error buffer filled by librdkafka.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String {
        var text = "Kafka \(code): \(message)"
        if let topic { text += " (topic \(topic))" }
        return text
    }
}
