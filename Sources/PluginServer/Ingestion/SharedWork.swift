/// Per team, the one task doing a piece of work, awaited by everyone who needs its result while it
/// runs: events that miss a cache together send one query, not one each. Owned by one actor, and
/// used on its executor.
final class SharedWork<Value: Sendable> {
    private var running: [Int: Task<Value, any Error>] = [:]

    nonisolated(nonsending) func result(forTeam id: Int, of work: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let task = running[id] { return try await task.value }
        let task = Task(operation: work)
        running[id] = task
        defer { running[id] = nil }
        return try await task.value
    }
}
