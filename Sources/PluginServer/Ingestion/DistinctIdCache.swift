/// The "seen distinct id" LRU of ingestion.md §8: at most `capacity` keys (0 = unbounded), each
/// forgotten an hour after it was last read or written.
struct DistinctIdCache: Sendable {
    private var entries: [String: (seenAt: ContinuousClock.Instant, sequence: UInt64)] = [:]
    private var sequence: UInt64 = 0
    let capacity: Int
    static let maximumAge: Duration = .seconds(3600)

    init(capacity: Int) { self.capacity = capacity }

    /// Whether the key was present and fresh; either way it is recorded as seen now.
    mutating func checkAndRecord(_ key: String, now: ContinuousClock.Instant) -> Bool {
        sequence += 1
        let fresh = entries[key].map { now - $0.seenAt <= Self.maximumAge } ?? false
        entries[key] = (now, sequence)
        if capacity > 0 && entries.count > capacity { evictOldest() }
        return fresh
    }

    private mutating func evictOldest() {
        // Evict the least recently touched eighth at once, so eviction stays cheap on average.
        let excess = max(1, entries.count - capacity + capacity / 8)
        let oldest = entries.sorted { $0.value.sequence < $1.value.sequence }.prefix(excess)
        for (key, _) in oldest { entries[key] = nil }
    }
}
