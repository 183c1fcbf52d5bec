import Foundation
import Testing

@testable import Kafka
@testable import PluginServer

/// wire-formats.md §3.1: TLS only when the three base64 PEM variables are all set; the chain is
/// verified against the given CA, only the host name is not checked.
@Suite struct KafkaTLSConfigurationTests {
    static let pems = (certificate: "-----BEGIN CERTIFICATE-----\nclient\n", key: "-----BEGIN PRIVATE KEY-----\nkey\n", ca: "CA\n")

    static func configuration(_ environment: [String: String]) throws -> KafkaConfiguration {
        let base = ["KAFKA_ENABLED": "true", "KAFKA_HOSTS": "a:9092, b:9092"]
        let settings = try ServerSettings(environment: base.merging(environment) { $1 })
        return try KafkaOutputs.configuration(settings.kafka, instanceId: "instance")
    }

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    @Test("without the three certificate variables the client speaks plaintext to the listed brokers")
    func plaintext() throws {
        let configuration = try Self.configuration([:])
        #expect(configuration.tls == nil)
        #expect(configuration.brokers == ["a:9092", "b:9092"])
        #expect(configuration.clientId.hasPrefix("plugin-server-v") && configuration.clientId.hasSuffix("-instance"))
        #expect(!configuration.librdkafkaProperties.contains { $0.0.hasPrefix("ssl") || $0.0 == "security.protocol" })
    }

    @Test("two of the three certificate variables are not enough for TLS")
    func partial() throws {
        let configuration = try Self.configuration([
            "KAFKA_CLIENT_CERT_B64": Self.base64(Self.pems.certificate), "KAFKA_TRUSTED_CERT_B64": Self.base64(Self.pems.ca),
        ])
        #expect(configuration.tls == nil)
    }

    @Test("all three: base64 decoded PEMs, chain verified against the CA, host name not checked")
    func tls() throws {
        let configuration = try Self.configuration([
            "KAFKA_CLIENT_CERT_B64": Self.base64(Self.pems.certificate), "KAFKA_CLIENT_CERT_KEY_B64": Self.base64(Self.pems.key),
            "KAFKA_TRUSTED_CERT_B64": Self.base64(Self.pems.ca),
        ])
        let tls = try #require(configuration.tls)
        #expect(tls.clientCertificatePEM == Self.pems.certificate)
        #expect(tls.clientKeyPEM == Self.pems.key)
        #expect(tls.trustedCertificatePEM == Self.pems.ca)
        let properties = Dictionary(configuration.librdkafkaProperties) { $1 }
        #expect(properties["security.protocol"] == "ssl")
        #expect(properties["ssl.certificate.pem"] == Self.pems.certificate)
        #expect(properties["ssl.key.pem"] == Self.pems.key)
        #expect(properties["ssl.ca.pem"] == Self.pems.ca)
        #expect(properties["enable.ssl.certificate.verification"] == "true")
        #expect(properties["ssl.endpoint.identification.algorithm"] == "none")
    }

    @Test("a certificate variable that is not base64 is a configuration error naming it")
    func notBase64() {
        #expect {
            _ = try Self.configuration([
                "KAFKA_CLIENT_CERT_B64": "%%%", "KAFKA_CLIENT_CERT_KEY_B64": Self.base64(Self.pems.key),
                "KAFKA_TRUSTED_CERT_B64": Self.base64(Self.pems.ca),
            ])
        } throws: { error in
            "\(error)".contains("KAFKA_CLIENT_CERT_B64")
        }
    }
}
