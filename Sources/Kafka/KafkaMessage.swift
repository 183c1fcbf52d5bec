/// A record header: a name and raw bytes.
public struct KafkaHeader: Sendable, Equatable {
    public var name: String
    public var value: [UInt8]

    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }

    public init(name: String, value: String) { self.init(name: name, value: Array(value.utf8)) }
}

/// A record to produce. Keyed records are partitioned by murmur2 of the key (the Java client's
/// partitioner); keyless ones are spread by the client.
public struct KafkaOutgoingMessage: Sendable, Equatable {
    public var topic: String
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [KafkaHeader]

    public init(topic: String, key: [UInt8]? = nil, value: [UInt8], headers: [KafkaHeader] = []) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
    }

    /// What librdkafka counts against `message.max.bytes`.
    public var size: Int {
        value.count + (key?.count ?? 0) + headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.count }
    }
}

/// A consumed record and where it came from.
public struct KafkaMessage: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [KafkaHeader]

    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader] = []) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
    }

    public func header(_ name: String) -> [UInt8]? { headers.last { $0.name == name }?.value }
}

/// A partition of a topic.
public struct TopicPartition: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }
}
