import Foundation
import Logging
import RedisClient

/// A leader lock in Redis with the original's scheme (wire-formats.md §4): a random token set with
/// NX and PX = TTL, extended every TTL/2 while the token still matches, acquisition retried every
/// TTL/10, deleted on release only if the token matches.
struct RedisLock: Sendable {
    static let scheduleResource = "plugin-server:locks:schedule"
    static let jobConsumerResource = "plugin-server:locks:job-queue-consumer"

    let redis: RedisClient
    let resource: String
    let ttl: Duration
    let token: String = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()

    private var ttlMilliseconds: Int { Int(ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000) }

    func tryAcquire() async throws -> Bool {
        try await redis.set(resource, token, expireMilliseconds: ttlMilliseconds, onlyIfAbsent: true)
    }

    /// Extends the lock if this instance still holds it; false when it was lost.
    func extend() async throws -> Bool {
        let script = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end"
        return try await redis.eval(script, keys: [resource], arguments: [RedisArgument(token), RedisArgument(ttlMilliseconds)]).int == 1
    }

    func release() async {
        let script = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"
        _ = try? await redis.eval(script, keys: [resource], arguments: [RedisArgument(token)])
    }

    /// Runs `whileLeader` whenever this instance holds the lock, until cancelled or shut down; the
    /// body is cancelled when the lock is lost. Releases the lock at the end.
    func runAsLeader(logger: Logger, _ whileLeader: @escaping @Sendable () async -> Void) async {
        defer { Task { await release() } }
        while !Task.isCancelled {
            let acquired = (try? await tryAcquire()) ?? false
            if !acquired {
                try? await Task.sleep(for: ttl / 10)
                continue
            }
            logger.info("Became leader", metadata: ["lock": "\(resource)"])
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await whileLeader() }
                while !Task.isCancelled {
                    try? await Task.sleep(for: ttl / 2)
                    if Task.isCancelled { break }
                    if (try? await extend()) != true {
                        logger.warning("Lost leadership", metadata: ["lock": "\(resource)"])
                        break
                    }
                }
                group.cancelAll()
            }
        }
        await release()
    }
}
