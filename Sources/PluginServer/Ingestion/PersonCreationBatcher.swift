import Foundation
import Synchronization

/// Capture's person creations, grouped: events that need a person at about the same time share one
/// `createPersonsIfAbsent` statement instead of one each. At most `maximumStatements` statements run
/// at once; requests arriving meanwhile wait and go together in the next one (no timer: a lone
/// request goes at once). Each caller still gets its own answer: whether its person was created.
///
/// A statement that fails for a reason other than the connection (a concurrent insert of one of
/// its distinct ids: the unique violation) is retried one request at a time, so that the other
/// requests of the group are not taken down with it; each single request then fails or succeeds on
/// its own, as it would have alone.
final class PersonCreationBatcher: Sendable {
    private struct Waiting: Sendable {
        var request: PersonStore.NewPerson
        var continuation: CheckedContinuation<Result<Bool, any Error>, Never>
    }

    let persons: PersonStore
    let maximumStatements: Int
    let maximumGroup: Int
    private let state = Mutex<(waiting: [Waiting], running: Int)>(([], 0))

    init(persons: PersonStore, maximumStatements: Int = 2, maximumGroup: Int = 500) {
        self.persons = persons
        self.maximumStatements = max(1, maximumStatements)
        self.maximumGroup = max(1, maximumGroup)
    }

    /// True when the person was created, false when the team already had the distinct id; throws
    /// the statement's error otherwise.
    func createIfAbsent(_ request: PersonStore.NewPerson) async throws -> Bool {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Bool, any Error>, Never>) in
            let startStatement = state.withLock { state in
                state.waiting.append(Waiting(request: request, continuation: continuation))
                guard state.running < maximumStatements else { return false }
                state.running += 1
                return true
            }
            if startStatement { Task { await self.drain() } }
        }
        return try result.get()
    }

    /// Runs statements while requests wait, then gives its slot back.
    private func drain() async {
        while true {
            let group: [Waiting]? = state.withLock { state in
                guard !state.waiting.isEmpty else {
                    state.running -= 1
                    return nil
                }
                let group = Array(state.waiting.prefix(maximumGroup))
                state.waiting.removeFirst(group.count)
                return group
            }
            guard let group else { return }
            await run(group)
        }
    }

    private func run(_ group: [Waiting]) async {
        do {
            let created = try await persons.createPersonsIfAbsent(group.map(\.request))
            for waiting in group { waiting.continuation.resume(returning: .success(created[waiting.request.uuid] != nil)) }
        } catch  where group.count > 1 && !PostgresFailure.isTransient(error) {
            for waiting in group {
                do {
                    let created = try await persons.createPersonsIfAbsent([waiting.request])
                    waiting.continuation.resume(returning: .success(!created.isEmpty))
                } catch {
                    waiting.continuation.resume(returning: .failure(error))
                }
            }
        } catch {
            for waiting in group { waiting.continuation.resume(returning: .failure(error)) }
        }
    }
}
