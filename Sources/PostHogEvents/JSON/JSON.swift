/// A JSON value with JavaScript semantics: numbers are doubles, objects keep JavaScript's key order
/// (array-index keys first, ascending, then insertion order), so what plugins and PostHog see is
/// byte-for-byte what the original's `JSON.parse` / `JSON.stringify` would produce.
public enum JSON: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)
}

extension JSON {
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var numberValue: Double? { if case .number(let n) = self { return n } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var arrayValue: [JSON]? { if case .array(let a) = self { return a } else { return nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }

    /// An integer when the value is a number with no fractional part that fits in `Int`.
    public var intValue: Int? {
        guard case .number(let n) = self, n.rounded(.towardZero) == n, abs(n) < 9.2e18 else { return nil }
        return Int(n)
    }

    /// JavaScript truthiness: `null`, `false`, `0`, `NaN` and `""` are falsy; objects and arrays are truthy.
    public var isTruthy: Bool {
        switch self {
        case .null: return false
        case .bool(let b): return b
        case .number(let n): return n != 0 && !n.isNaN
        case .string(let s): return !s.isEmpty
        case .array, .object: return true
        }
    }

    /// Member access for objects; `nil` for anything else or a missing key.
    public subscript(key: String) -> JSON? {
        get { objectValue?[key] }
        set {
            guard case .object(var object) = self else { return }
            object[key] = newValue
            self = .object(object)
        }
    }

    /// JavaScript `String(value)`: what the original produced when it stringified a value.
    public var javaScriptString: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return JSNumberFormatter.string(n)
        case .string(let s): return s
        case .array(let items):
            return items.map { item -> String in
                if case .null = item { return "" }
                return item.javaScriptString
            }.joined(separator: ",")
        case .object: return "[object Object]"
        }
    }
}

extension JSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(JSONObject(literal: elements))
    }
}

/// A JSON object that keeps JavaScript's own-property order.
///
/// Keys are looked up by a linear scan, the fastest way for the few keys of an event. An object that
/// grows past `indexedCount` keys also keeps a position per key: a client may send an event with
/// 100,000 properties, and every parse, merge or comparison of it would otherwise take quadratic time.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var entries: [(key: String, value: JSON)] = []
    /// How many leading entries have array-index keys (kept sorted ascending, as JavaScript does).
    private var indexKeyCount = 0
    /// Each key's position in `entries`, kept only while there are more than `indexedCount` of them.
    private var positions: [String: Int]?

    /// Above this many keys an object keeps `positions`.
    static let indexedCount = 64

    public init() {}

    /// The object of parsed `pairs`, in text order. Text from `JSON.stringify` has unique keys
    /// (`keysAreUnique`), so no key is looked for twice; few keys are checked for repeats where they
    /// stand. Pairs already in JavaScript's key order (unique, array-index keys first and ascending:
    /// nearly always) become the entries as they are; any others are assigned in order.
    /// `digitLeadsNoKey`: the parser saw no key start with a digit or an escape, so none is an array index.
    init(parsed pairs: [(key: String, value: JSON)], keysAreUnique: Bool, digitLeadsNoKey: Bool = false) {
        if keysAreUnique || pairs.count <= Self.indexedCount,
            let indexKeyCount = keysAreUnique && digitLeadsNoKey ? 0 : Self.leadingIndexKeys(pairs, checkingRepeats: !keysAreUnique)
        {
            entries = pairs
            self.indexKeyCount = indexKeyCount
            if entries.count > Self.indexedCount { reindex() }
        } else {
            self = JSONObject(assigning: pairs)
        }
    }

    /// How many array-index keys lead `pairs`, or nil when the pairs are not in JavaScript's key order
    /// (an array-index key after another key or out of order, or, `checkingRepeats`, a key repeated).
    private static func leadingIndexKeys(_ pairs: [(key: String, value: JSON)], checkingRepeats: Bool) -> Int? {
        var indexKeyCount = 0
        var lastIndex: UInt64 = 0
        for (position, pair) in pairs.enumerated() {
            if let index = arrayIndex(pair.key) {
                guard indexKeyCount == position, indexKeyCount == 0 || index > lastIndex else { return nil }
                indexKeyCount += 1
                lastIndex = index
            }
            if checkingRepeats {
                let length = pair.key.utf8.count
                for earlier in pairs[..<position] where earlier.key.utf8.count == length && earlier.key == pair.key { return nil }
            }
        }
        return indexKeyCount
    }

    /// The object JavaScript builds by assigning `pairs` in order, as `JSON.parse` does: a repeated key
    /// keeps its first place and takes its last value, array-index keys go first, ascending. Linear
    /// (plus sorting the array-index keys) in the number of pairs, however they are ordered.
    init(assigning pairs: [(key: String, value: JSON)]) {
        guard pairs.count > Self.indexedCount else {
            for (key, value) in pairs { self[key] = value }
            return
        }
        var place = [String: Int](minimumCapacity: pairs.count)
        var unique: [(key: String, value: JSON)] = []
        unique.reserveCapacity(pairs.count)
        var arrayIndices: [(index: UInt64, place: Int)] = []
        for (key, value) in pairs {
            if let existing = place[key] {
                unique[existing].value = value
                continue
            }
            place[key] = unique.count
            if let index = Self.arrayIndex(key) { arrayIndices.append((index, unique.count)) }
            unique.append((key, value))
        }
        guard !arrayIndices.isEmpty else {
            entries = unique
            if unique.count > Self.indexedCount { positions = place }
            return
        }
        arrayIndices.sort { $0.index < $1.index }
        var ordered: [(key: String, value: JSON)] = []
        ordered.reserveCapacity(unique.count)
        for item in arrayIndices { ordered.append(unique[item.place]) }
        for entry in unique where Self.arrayIndex(entry.key) == nil { ordered.append(entry) }
        entries = ordered
        indexKeyCount = arrayIndices.count
        if entries.count > Self.indexedCount { reindex() }
    }

    public init(dictionaryLiteral elements: (String, JSON)...) {
        self.init(literal: elements)
    }

    /// A literal's pairs, taken as they are when already in JavaScript's key order (as nearly every
    /// literal is), else assigned in order: events built in code pay no lookup per key.
    init(literal pairs: [(String, JSON)]) {
        self.init(parsed: pairs.map { (key: $0.0, value: $0.1) }, keysAreUnique: false)
    }

    /// Room for `count` entries without regrowing.
    public mutating func reserveCapacity(_ count: Int) { entries.reserveCapacity(count) }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSON)]> { entries.makeIterator() }

    public func contains(_ key: String) -> Bool { position(of: key) != nil }

    public subscript(key: String) -> JSON? {
        get { position(of: key).map { entries[$0].value } }
        set {
            if let position = position(of: key) {
                if let newValue { entries[position].value = newValue } else { remove(at: position) }
                return
            }
            guard let newValue else { return }
            if let index = Self.arrayIndex(key) {
                // The array-index keys lead, ascending: the place is found by bisection.
                var insertAt = 0
                var end = indexKeyCount
                while insertAt < end {
                    let middle = (insertAt + end) / 2
                    if Self.arrayIndex(entries[middle].key)! < index { insertAt = middle + 1 } else { end = middle }
                }
                entries.insert((key, newValue), at: insertAt)
                indexKeyCount += 1
                if positions != nil {
                    renumber(from: insertAt)
                } else if entries.count > Self.indexedCount {
                    reindex()
                }
            } else {
                entries.append((key, newValue))
                noteAppended(key)
            }
        }
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSON? {
        guard let position = position(of: key) else { return nil }
        let value = entries[position].value
        remove(at: position)
        return value
    }

    /// Copies every entry of `other` over this object (JavaScript `{...this, ...other}`).
    public mutating func merge(_ other: JSONObject) {
        for (key, value) in other { self[key] = value }
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.entries.count == rhs.entries.count else { return false }
        for (key, value) in lhs.entries where rhs[key] != value { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent, matching `==`.
        var combined = 0
        for (key, value) in entries {
            var entryHasher = Hasher()
            entryHasher.combine(key)
            entryHasher.combine(value)
            combined ^= entryHasher.finalize()
        }
        hasher.combine(entries.count)
        hasher.combine(combined)
    }

    /// Keys of another length are told apart by their stored UTF-8 counts, without a string
    /// comparison (most of the keys a lookup passes).
    private func position(of key: String) -> Int? {
        if let positions { return positions[key] }
        let length = key.utf8.count
        return entries.firstIndex { $0.key.utf8.count == length && $0.key == key }
    }

    /// Keeps `positions` after `key` was appended as the last entry.
    private mutating func noteAppended(_ key: String) {
        if positions != nil {
            positions![key] = entries.count - 1
        } else if entries.count > Self.indexedCount {
            reindex()
        }
    }

    private mutating func remove(at position: Int) {
        if position < indexKeyCount { indexKeyCount -= 1 }
        let removed = entries.remove(at: position)
        guard positions != nil else { return }
        if entries.count > Self.indexedCount {
            positions!.removeValue(forKey: removed.key)
            renumber(from: position)
        } else {
            positions = nil
        }
    }

    private mutating func reindex() {
        var positions = [String: Int](minimumCapacity: entries.count)
        for (position, entry) in entries.enumerated() { positions[entry.key] = position }
        self.positions = positions
    }

    /// Updates `positions` for the entries from `start` on, which moved.
    private mutating func renumber(from start: Int) {
        for position in start..<entries.count { positions![entries[position].key] = position }
    }

    /// A canonical array index ("0", "17", never "017" or "-1"), below 2^32 - 1 as in ECMAScript.
    static func arrayIndex(_ key: String) -> UInt64? {
        let utf8 = key.utf8
        guard let first = utf8.first, utf8.count <= 10, first >= 0x30, first <= 0x39 else { return nil }
        if first == 0x30 && utf8.count > 1 { return nil }
        var value: UInt64 = 0
        for byte in utf8 {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + UInt64(byte - 0x30)
        }
        return value < 4_294_967_295 ? value : nil
    }
}
