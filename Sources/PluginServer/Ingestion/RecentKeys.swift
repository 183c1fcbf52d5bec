/// Keys seen recently: at most `capacity` (0 = unbounded), each forgotten `maximumAge` after it was
/// last read or written. The "seen distinct id" LRU of ingestion.md §8, and the element groups known
/// to exist.
///
/// A least-recently-used list threaded through an array (indices, no node objects) beside a
/// dictionary of positions: recording a key and evicting the oldest are constant time, and a full
/// cache reuses the evicted key's slot. Evicting by
/// sorting every key (as before) cost a sort of the whole cache, under the ingester's lock, every
/// eighth of its capacity of new keys: about 2 % of the server's CPU with many new distinct ids.
struct RecentKeys: Sendable {
    private struct Entry {
        var key: String
        var seenAt: ContinuousClock.Instant
        /// Neighbours in recency order; -1 at either end.
        var older: Int
        var newer: Int
    }

    private var entries: [Entry] = []
    private var positions: [String: Int] = [:]
    private var oldest = -1
    private var newest = -1
    let capacity: Int
    let maximumAge: Duration

    init(capacity: Int, maximumAge: Duration = .seconds(3600)) {
        self.capacity = capacity
        self.maximumAge = maximumAge
    }

    var count: Int { positions.count }

    /// Whether the key was present and fresh; either way it is recorded as seen now.
    mutating func checkAndRecord(_ key: String, now: ContinuousClock.Instant) -> Bool {
        let fresh = contains(key, now: now)
        record(key, now: now)
        return fresh
    }

    /// Whether the key was seen within `maximumAge`, without touching it.
    func contains(_ key: String, now: ContinuousClock.Instant) -> Bool {
        positions[key].map { now - entries[$0].seenAt <= maximumAge } ?? false
    }

    /// Records the key as seen `now`, the most recent; past `capacity`, the least recent key goes.
    mutating func record(_ key: String, now: ContinuousClock.Instant) {
        if let position = positions[key] {
            entries[position].seenAt = now
            unlink(position)
            linkAsNewest(position)
            return
        }
        let entry = Entry(key: key, seenAt: now, older: -1, newer: -1)
        let position: Int
        // A full cache gives the least recent key's slot to the new one.
        if capacity > 0 && positions.count >= capacity, let slot = evictOldest() {
            entries[slot] = entry
            position = slot
        } else {
            entries.append(entry)
            position = entries.count - 1
        }
        positions[key] = position
        linkAsNewest(position)
    }

    /// Forgets the least recent key; its slot, now free.
    private mutating func evictOldest() -> Int? {
        let position = oldest
        guard position >= 0 else { return nil }
        unlink(position)
        positions[entries[position].key] = nil
        return position
    }

    private mutating func unlink(_ position: Int) {
        let older = entries[position].older
        let newer = entries[position].newer
        if older >= 0 { entries[older].newer = newer } else { oldest = newer }
        if newer >= 0 { entries[newer].older = older } else { newest = older }
        entries[position].older = -1
        entries[position].newer = -1
    }

    private mutating func linkAsNewest(_ position: Int) {
        entries[position].older = newest
        entries[position].newer = -1
        if newest >= 0 { entries[newest].newer = position } else { oldest = position }
        newest = position
    }
}
