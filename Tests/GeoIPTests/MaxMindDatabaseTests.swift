import Foundation
import PostHogEvents
import Testing

@testable import GeoIP

/// MaxMind's GeoLite2 City test database, brotli-compressed as the original stored it (see
/// Fixtures/README.md for its origin and licence).
enum Fixture {
    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures/GeoLite2-City-Test.mmdb.br")
    static var compressed: [UInt8] { get throws { [UInt8](try Data(contentsOf: url)) } }
    static func database() throws -> MaxMindDatabase { try MaxMindDatabase(brotliCompressed: try compressed) }
}

@Suite struct BrotliTests {
    @Test("the stored database decompresses to a MaxMind file")
    func decompressesFixture() throws {
        let contents = try Brotli.decompress(try Fixture.compressed)
        // Every MaxMind database ends with its metadata, introduced by this marker.
        let marker = [0xAB, 0xCD, 0xEF] + Array("MaxMind.com".utf8)
        #expect(contents.count > (try Fixture.compressed.count))
        #expect(contents.indices.contains { contents[$0...].starts(with: marker) })
    }

    @Test("a truncated or foreign stream is refused, not half-read")
    func refusesBrokenStreams() throws {
        let compressed = try Fixture.compressed
        #expect(throws: GeoIPError.self) { try Brotli.decompress(Array(compressed.prefix(compressed.count / 2))) }
        #expect(throws: GeoIPError.self) { try Brotli.decompress(Array("not brotli at all, just text".utf8)) }
        #expect(throws: GeoIPError.self) { try Brotli.decompress([]) }
    }

    @Test("decompression stops at the size limit")
    func honoursLimit() throws {
        let error = #expect(throws: GeoIPError.self) { try Brotli.decompress(try Fixture.compressed, limit: 1000) }
        #expect(error?.code == .tooLarge)
    }
}

@Suite struct MaxMindDatabaseTests {
    @Test("89.160.20.129 is Linköping, Sweden, in the shape of the Node reader's City response")
    func locatesLinkoping() throws {
        let database = try Fixture.database()
        #expect(database.databaseType == "GeoLite2-City")
        let city = try #require(database.city("89.160.20.129"))

        #expect(city.objectValue?.keys == ["continent", "country", "registeredCountry", "traits", "city", "location", "subdivisions"])
        #expect(city["city"]?["geonameId"] == 2694762)
        #expect(city["city"]?["names"]?["en"] == "Linköping")
        #expect(city["city"]?["names"]?["zh-CN"] == "林雪平")
        #expect(city["continent"]?["code"] == "EU")
        #expect(city["continent"]?["names"]?["pt-BR"] == "Europa")
        #expect(city["country"]?["isoCode"] == "SE")
        #expect(city["country"]?["isInEuropeanUnion"] == true)
        #expect(city["country"]?["names"]?["en"] == "Sweden")
        #expect(city["location"] == ["accuracyRadius": 76, "latitude": 58.4167, "longitude": 15.6167, "timeZone": "Europe/Stockholm"])
        #expect(city["registeredCountry"]?["isoCode"] == "DE")
        #expect(city["subdivisions"]?.arrayValue?.count == 1)
        #expect(city["subdivisions"]?.arrayValue?.first?["isoCode"] == "E")
        #expect(city["subdivisions"]?.arrayValue?.first?["names"]?["en"] == "Östergötland County")
        #expect(city["postal"] == nil)

        let traits = try #require(city["traits"]?.objectValue)
        #expect(traits.keys == CityResponse.booleanTraits + ["ipAddress", "network"])
        #expect(CityResponse.booleanTraits.allSatisfy { traits[$0] == false })
        #expect(traits["ipAddress"] == "89.160.20.129")
        #expect(traits["network"] == "89.160.20.128/25")
    }

    @Test("postal code, metro code and a registered country outside the EU keep the reader's names")
    func locatesMilton() throws {
        let city = try #require(try Fixture.database().city("216.160.83.56"))
        #expect(city["city"]?["names"]?["en"] == "Milton")
        #expect(city["postal"] == ["code": "98354"])
        #expect(city["location"]?["metroCode"] == 819)
        #expect(city["subdivisions"]?.arrayValue?.first?["isoCode"] == "WA")
        // The reader set the flag on the registered country only; the country keeps what the record has.
        #expect(city["registeredCountry"]?["isInEuropeanUnion"] == false)
        #expect(city["country"]?["isInEuropeanUnion"] == nil)
        #expect(city["traits"]?["network"] == "216.160.83.56/29")
    }

    @Test("IPv6 addresses and IPv4 written inside IPv6 are found, with the IPv6 network")
    func locatesIPv6() throws {
        let database = try Fixture.database()
        let japan = try #require(database.city("2001:218::1"))
        #expect(japan["country"]?["isoCode"] == "JP")
        #expect(japan["traits"]?["network"] == "2001:218::/32")
        #expect(japan["traits"]?["ipAddress"] == "2001:218::1")
        #expect(database.city("::ffff:89.160.20.129")?["city"]?["names"]?["en"] == "Linköping")
    }

    @Test("text that is not an address and addresses the database lacks give null")
    func unknownAndInvalid() throws {
        let database = try Fixture.database()
        for text in ["asdfgh", "", "127.1", "89.160.20", "89.160.20.129.1", "0x59.160.20.129", "10.0.0.1", "2001:480::1"] {
            #expect(database.city(text) == nil, "\(text)")
        }
        #expect(database.city(" 89.160.20.129\n")?["traits"]?["ipAddress"] == "89.160.20.129")
    }

    @Test("bytes that are not a MaxMind database are refused when opening")
    func refusesForeignData() {
        let error = #expect(throws: GeoIPError.self) { try MaxMindDatabase(contents: Array(repeating: 7, count: 4096)) }
        #expect(error?.code == .open)
        #expect(throws: GeoIPError.self) { try MaxMindDatabase(contents: []) }
    }

    @Test("lookups from many threads at once share one database")
    func concurrentLookups() async throws {
        let database = try Fixture.database()
        let names = await withTaskGroup(of: String?.self) { group in
            for index in 0..<200 {
                group.addTask { database.city(index % 2 == 0 ? "89.160.20.129" : "2001:218::1")?["city"]?["names"]?["en"]?.stringValue }
            }
            return await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(names.filter { $0 == "Linköping" }.count == 100)
    }
}

@Suite struct CityResponseTests {
    @Test("keys become camelCase at every depth, except locale keys with a hyphen")
    func camelCase() {
        #expect(CityResponse.camelCase("geoname_id") == "geonameId")
        #expect(CityResponse.camelCase("is_in_european_union") == "isInEuropeanUnion")
        #expect(CityResponse.camelCase("en") == "en")
        let converted = CityResponse.camelCasedKeys(["a_b": [["c_d": ["pt-BR": 1, "e_f": 2]]]])
        #expect(converted == ["aB": [["cD": ["pt-BR": 1, "eF": 2]]]])
    }

    @Test("a record without traits or registered country still gets the flags, address and network")
    func minimalRecord() {
        let response = CityResponse.make(record: ["country": ["iso_code": "SE"]], ipAddress: "1.2.3.4", network: "1.2.3.0/24")
        #expect(response.objectValue?.keys == ["country", "traits"])
        #expect(response["traits"]?["isTorExitNode"] == false)
        #expect(response["traits"]?["network"] == "1.2.3.0/24")
    }
}

@Suite struct IPAddressTests {
    @Test("networks are the address with the host bits cleared")
    func networks() throws {
        #expect(try #require(IPAddress("89.160.20.129")).network(prefixLength: 25) == "89.160.20.128/25")
        #expect(try #require(IPAddress("89.160.20.129")).network(prefixLength: 0) == "0.0.0.0/0")
        #expect(try #require(IPAddress("2001:218:ffff::1")).network(prefixLength: 32) == "2001:218::/32")
        #expect(try #require(IPAddress("2001:218::1")).network(prefixLength: 128) == "2001:218::1/128")
    }
}
