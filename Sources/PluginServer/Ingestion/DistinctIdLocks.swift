/// Serialises, within this instance, the events that touch the same distinct ids, so identify,
/// alias and merges of one user never race each other here (across instances the database's
/// unique constraints and the alias retry still decide, as in the original).
actor DistinctIdLocks {
    private var held: Set<String> = []
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    func withLocks<Result: Sendable>(_ keys: [String], _ body: @Sendable () async throws -> Result) async throws -> Result {
        // A fixed order prevents deadlock between two events locking the same pair.
        let ordered = Array(Set(keys)).sorted()
        for key in ordered { await acquire(key) }
        defer { for key in ordered { release(key) } }
        return try await body()
    }

    private func acquire(_ key: String) async {
        while held.contains(key) {
            await withCheckedContinuation { waiters[key, default: []].append($0) }
        }
        held.insert(key)
    }

    private func release(_ key: String) {
        held.remove(key)
        if var queue = waiters[key], !queue.isEmpty {
            let next = queue.removeFirst()
            waiters[key] = queue.isEmpty ? nil : queue
            next.resume()
        }
    }
}
