/// The Redis keys of the Celery consumer. Beyond the original, a message is moved (not popped) into
/// a processing list owned by this instance, and leaves it only once its event is stored.
struct CeleryQueueKeys: Sendable {
    let queue: String
    let instanceId: String
    let deadLetter: String

    /// Kombu's priority lists, served in this order (wire-formats.md §1.1).
    var sourceLists: [String] { [queue] + ["3", "6", "9"].map { queue + "\u{06}\u{16}" + $0 } }
    var processing: String { Self.processingPrefix + queue + "/" + instanceId }
    var lease: String { Self.lease(of: processing) }

    static let processingPrefix = "@posthog-plugin-server/processing/"
    /// Every processing list in use, so any instance can find those of a dead one.
    static let registry = "@posthog-plugin-server/processing-lists"
    static func lease(of processing: String) -> String { processing + "/lease" }
}

/// The Lua scripts that make each queue step atomic in Redis.
enum CeleryQueueScripts {
    /// KEYS: processing list, then the source lists in priority order; ARGV: how many at most, how
    /// many whatever their size, how many bytes past those. Moves the oldest messages into the
    /// processing list and returns them.
    static let claim = """
        local out = {}
        local limit = tonumber(ARGV[1])
        local assured = tonumber(ARGV[2])
        local budget = tonumber(ARGV[3])
        local taken = 0
        for i = 2, #KEYS do
          while #out < limit and (#out < assured or taken < budget) do
            local value = redis.call('LMOVE', KEYS[i], KEYS[1], 'RIGHT', 'LEFT')
            if not value then break end
            out[#out + 1] = value
            taken = taken + #value
          end
        end
        return out
        """

    /// KEYS: processing list; ARGV: raw messages. Removes one copy of each, searching from the oldest
    /// end (claims push at the head, so a handled message is usually near the tail).
    static let acknowledge = """
        local removed = 0
        for i = 1, #ARGV do removed = removed + redis.call('LREM', KEYS[1], -1, ARGV[i]) end
        return removed
        """

    /// KEYS: processing list, dead-letter list; ARGV: raw message, dead-letter entry.
    static let deadLetter = """
        redis.call('LPUSH', KEYS[2], ARGV[2])
        return redis.call('LREM', KEYS[1], 1, ARGV[1])
        """

    /// KEYS: lease, processing list, queue, registry; ARGV: processing list name.
    /// Gives a dead instance's messages back to the queue (oldest served first), unless its lease lives.
    static let recover = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
        local moved = 0
        while true do
          local value = redis.call('LMOVE', KEYS[2], KEYS[3], 'LEFT', 'RIGHT')
          if not value then break end
          moved = moved + 1
        end
        redis.call('SREM', KEYS[4], ARGV[1])
        return moved
        """
}
