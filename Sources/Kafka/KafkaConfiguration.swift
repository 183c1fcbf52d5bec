import CRdKafka

/// What a client needs to reach the brokers: their list, an informational client id, TLS material,
/// and any further librdkafka properties (applied last, so they win).
public struct KafkaConfiguration: Sendable, Equatable {
    public struct TLS: Sendable, Equatable {
        public var clientCertificatePEM: String
        public var clientKeyPEM: String
        public var trustedCertificatePEM: String

        public init(clientCertificatePEM: String, clientKeyPEM: String, trustedCertificatePEM: String) {
            self.clientCertificatePEM = clientCertificatePEM
            self.clientKeyPEM = clientKeyPEM
            self.trustedCertificatePEM = trustedCertificatePEM
        }
    }

    public var brokers: [String]
    public var clientId: String
    public var tls: TLS?
    public var properties: [String: String]

    public init(brokers: [String], clientId: String = "plugin-server", tls: TLS? = nil, properties: [String: String] = [:]) {
        self.brokers = brokers
        self.clientId = clientId
        self.tls = tls
        self.properties = properties
    }

    /// The librdkafka properties of this configuration, in the order they are set.
    var librdkafkaProperties: [(String, String)] {
        var result: [(String, String)] = [("bootstrap.servers", brokers.joined(separator: ",")), ("client.id", clientId)]
        if let tls {
            // The chain is verified against the pinned CA; only the host name is not checked, as brokers
            // behind managed Kafka have unstable names (wire-formats.md §3.1 recommendation).
            result += [
                ("security.protocol", "ssl"), ("ssl.certificate.pem", tls.clientCertificatePEM), ("ssl.key.pem", tls.clientKeyPEM),
                ("ssl.ca.pem", tls.trustedCertificatePEM), ("ssl.endpoint.identification.algorithm", "none"),
                ("enable.ssl.certificate.verification", "true"),
            ]
        }
        result += properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return result
    }

    /// A new librdkafka configuration object holding these properties (owned by the caller).
    func makeConf(extra: [(String, String)]) throws(KafkaError) -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else { throw KafkaError(.configuration, "rd_kafka_conf_new failed") }
        var errorText = [CChar](repeating: 0, count: 512)
        for (name, value) in extra + librdkafkaProperties {
            let result = rd_kafka_conf_set(conf, name, value, &errorText, errorText.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(.configuration, "\(name): \(KafkaError.text(errorText))")
            }
        }
        return conf
    }
}
