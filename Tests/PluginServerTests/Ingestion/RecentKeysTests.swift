import Testing

@testable import PluginServer

@Suite struct RecentKeysTests {
    let start = ContinuousClock.now

    @Test("past its capacity the least recently seen key goes, one key for one")
    func evictsLeastRecent() {
        var keys = RecentKeys(capacity: 3)
        for key in ["a", "b", "c"] { keys.record(key, now: start) }
        // Seeing "a" again makes "b" the least recent.
        let seenAgain = keys.checkAndRecord("a", now: start)
        #expect(seenAgain)
        keys.record("d", now: start)
        #expect(keys.count == 3)
        #expect(!keys.contains("b", now: start))
        #expect(["a", "c", "d"].allSatisfy { keys.contains($0, now: start) })
        keys.record("e", now: start)
        #expect(!keys.contains("c", now: start))
        #expect(["a", "d", "e"].allSatisfy { keys.contains($0, now: start) })
    }

    @Test("a key checked for the first time is not fresh, and is then")
    func checkAndRecord() {
        var keys = RecentKeys(capacity: 10)
        let first = keys.checkAndRecord("team::user", now: start)
        let second = keys.checkAndRecord("team::user", now: start)
        #expect(!first && second)
    }

    @Test("a key is forgotten once maximumAge passed since it was last seen; seeing it again renews it")
    func maximumAge() {
        var keys = RecentKeys(capacity: 10, maximumAge: .seconds(60))
        keys.record("a", now: start)
        #expect(keys.contains("a", now: start + .seconds(60)))
        #expect(!keys.contains("a", now: start + .seconds(61)))
        let freshAfterAge = keys.checkAndRecord("a", now: start + .seconds(61))
        #expect(!freshAfterAge)
        #expect(keys.contains("a", now: start + .seconds(120)))
    }

    @Test("evicted slots are reused, and the order holds across many turns of the cache")
    func manyTurns() {
        var keys = RecentKeys(capacity: 100)
        for index in 0..<10_000 {
            keys.record("k\(index)", now: start)
            // Every tenth key is seen again, so the most recent 100 by last sight stay.
            if index % 10 == 0 && index >= 10 { keys.record("k\(index - 10)", now: start) }
        }
        #expect(keys.count == 100)
        #expect(keys.contains("k9999", now: start) && keys.contains("k9990", now: start) && keys.contains("k9980", now: start))
        #expect(!keys.contains("k0", now: start) && !keys.contains("k9000", now: start))
    }

    @Test("capacity 0 keeps every key")
    func unbounded() {
        var keys = RecentKeys(capacity: 0)
        for index in 0..<1_000 { keys.record("k\(index)", now: start) }
        #expect(keys.count == 1_000 && keys.contains("k0", now: start))
    }
}
