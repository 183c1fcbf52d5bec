/// Keys seen recently: at most `capacity` (0 = unbounded), each forgotten `maximumAge` after it was
/// last read or written. The "seen distinct id" LRU of ingestion.md §8, and the element groups known
/// to exist.
struct RecentKeys: Sendable {
    private var entries: [String: (seenAt: ContinuousClock.Instant, sequence: UInt64)] = [:]
    private var sequence: UInt64 = 0
    let capacity: Int
    let maximumAge: Duration

    init(capacity: Int, maximumAge: Duration = .seconds(3600)) {
        self.capacity = capacity
        self.maximumAge = maximumAge
    }

    /// Whether the key was present and fresh; either way it is recorded as seen now.
    mutating func checkAndRecord(_ key: String, now: ContinuousClock.Instant) -> Bool {
        let fresh = contains(key, now: now)
        record(key, now: now)
        return fresh
    }

    /// Whether the key was seen within `maximumAge`, without touching it.
    func contains(_ key: String, now: ContinuousClock.Instant) -> Bool {
        entries[key].map { now - $0.seenAt <= maximumAge } ?? false
    }

    mutating func record(_ key: String, now: ContinuousClock.Instant) {
        sequence += 1
        entries[key] = (now, sequence)
        if capacity > 0 && entries.count > capacity { evictOldest() }
    }

    private mutating func evictOldest() {
        // Evict the least recently touched eighth at once, so eviction stays cheap on average.
        let excess = max(1, entries.count - capacity + capacity / 8)
        let oldest = entries.sorted { $0.value.sequence < $1.value.sequence }.prefix(excess)
        for (key, _) in oldest { entries[key] = nil }
    }
}
