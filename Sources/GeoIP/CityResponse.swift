import PostHogEvents

/// The object the original's `meta.geoip.locate` resolved with: `@maxmind/geoip2-node` (2.x/3.x)
/// `Reader.city()`, copied across threads as a plain object (plugin-runtime.md §8.5).
enum CityResponse {
    /// Trait flags the Node reader always set, `false` when the record lacks them.
    static let booleanTraits = [
        "isAnonymous", "isAnonymousProxy", "isAnonymousVpn", "isHostingProvider", "isLegitimateProxy", "isPublicProxy",
        "isResidentialProxy", "isSatelliteProvider", "isTorExitNode",
    ]

    /// Shapes a raw City record. Key order is the Node model's assignment order (continent, country,
    /// maxmind, registeredCountry, representedCountry, traits, city, location, postal, subdivisions);
    /// absent parts are left out, as `undefined` members vanish from a plugin's JSON.
    static func make(record: JSON, ipAddress: String, network: String) -> JSON {
        let fields = camelCasedKeys(record).objectValue ?? JSONObject()
        var response = JSONObject()
        for key in ["continent", "country", "maxmind"] { response[key] = fields[key] }
        if var registered = fields["registeredCountry"]?.objectValue {
            registered["isInEuropeanUnion"] = .bool(registered["isInEuropeanUnion"]?.isTruthy ?? false)
            response["registeredCountry"] = .object(registered)
        }
        response["representedCountry"] = fields["representedCountry"]
        var traits = fields["traits"]?.objectValue ?? JSONObject()
        for flag in booleanTraits { traits[flag] = .bool(traits[flag]?.isTruthy ?? false) }
        traits["ipAddress"] = .string(ipAddress)
        traits["network"] = .string(network)
        response["traits"] = .object(traits)
        for key in ["city", "location", "postal", "subdivisions"] { response[key] = fields[key] }
        return .object(response)
    }

    /// camelcase-keys with `deep: true, exclude: [/-/]`: every key at every depth, except keys with
    /// a hyphen (the `pt-BR`, `zh-CN` locale names stay as they are).
    static func camelCasedKeys(_ value: JSON) -> JSON {
        switch value {
        case .object(let object):
            var converted = JSONObject()
            for (key, member) in object { converted[key.contains("-") ? key : camelCase(key)] = camelCasedKeys(member) }
            return .object(converted)
        case .array(let items):
            return .array(items.map(camelCasedKeys))
        default:
            return value
        }
    }

    /// `geoname_id` → `geonameId`, `is_in_european_union` → `isInEuropeanUnion`.
    static func camelCase(_ key: String) -> String {
        let parts = key.split(separator: "_", omittingEmptySubsequences: true)
        guard let first = parts.first else { return key }
        return parts.dropFirst().reduce(first.prefix(1).lowercased() + first.dropFirst()) {
            $0 + $1.prefix(1).uppercased() + $1.dropFirst()
        }
    }
}

extension MaxMindDatabase {
    /// `meta.geoip.locate(ip)`: the City response for an address, or `nil` for text that is not an
    /// IP address and for addresses the database does not know (the original's server answered
    /// `null` for both).
    public func city(_ ip: String) -> JSON? {
        // The original's internal server trimmed what the worker sent; its reader refused (and the
        // server answered null) for a database that is not a City one.
        let text = String(ip.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
        guard databaseType.contains("City"), let address = IPAddress(text), let (record, prefixLength) = lookup(address) else {
            return nil
        }
        return CityResponse.make(record: record, ipAddress: text, network: address.network(prefixLength: prefixLength))
    }
}
