import Foundation
import Testing

@testable import PostHogEvents

@Suite struct UUIDTTests {
    @Test("time prefix, per-millisecond series from 0000, random tail")
    func layout() {
        // A millisecond no other test uses, so the series starts at 0.
        let millisecond: UInt64 = 1_620_727_200_000  // 2021-05-11T10:00:00.000Z = 0x01795ade7900
        let first = UUIDT(unixTimeMilliseconds: millisecond)
        let second = UUIDT(unixTimeMilliseconds: millisecond)
        #expect(first.bytes.count == 16)
        #expect(first.uuidString.hasPrefix("01795ade-7900-0000-"))
        #expect(second.uuidString.hasPrefix("01795ade-7900-0001-"))
        #expect(first.bytes[8...] != second.bytes[8...])
        #expect(first != second)
        #expect(first.description == first.uuidString)
        #expect(first.uuidString == first.uuidString.lowercased())
        #expect(UUIDT.isValidUUIDString(first.uuidString))
        #expect(first.uuid.uuidString.lowercased() == first.uuidString)
    }

    @Test("a fresh id starts with the current millisecond and series 0000")
    func current() {
        let before = EventTimestamp.now().millisecondsSince1970
        let id = UUIDT()
        let after = EventTimestamp.now().millisecondsSince1970
        let prefix = UInt64(id.uuidString.prefix(8) + id.uuidString.dropFirst(9).prefix(4), radix: 16)!
        #expect((UInt64(before)...UInt64(after)).contains(prefix))
    }

    @Test("the series wraps modulo 65,536 and the counter map is bounded")
    func seriesBounds() {
        let series = UUIDTSeries()
        for expected in 0..<65_536 { #expect(series.next(forMillisecond: 7) == UInt16(expected)) }
        #expect(series.next(forMillisecond: 7) == 0)
        for millisecond in 100..<10_200 { _ = series.next(forMillisecond: UInt64(millisecond)) }
        // Cleared after passing 10,000 entries, so millisecond 7 starts again at 0.
        #expect(series.next(forMillisecond: 7) == 0)
    }

    @Test("ids made concurrently in one millisecond all differ in series")
    func concurrent() async {
        let millisecond: UInt64 = 1_000_000_000_123
        let ids = await withTaskGroup(of: UUIDT.self) { group in
            for _ in 0..<200 { group.addTask { UUIDT(unixTimeMilliseconds: millisecond) } }
            var all: [UUIDT] = []
            for await id in group { all.append(id) }
            return all
        }
        #expect(Set(ids.map { $0.bytes[6...7] }).count == 200)
    }

    @Test("uuid validation: 8-4-4-4-12 hex, either case, hyphens required, nothing else")
    func validation() {
        #expect(UUIDT.isValidUUIDString("01795ade-7900-0000-a1b2-c3d4e5f6a7b8"))
        #expect(UUIDT.isValidUUIDString("01795ADE-7900-0000-A1B2-C3D4E5F6A7B8"))
        #expect(UUIDT.isValidUUIDString("00000000-0000-0000-0000-000000000000"))
        for invalid in [
            "this is not an uuid", "", "01795ade79000000a1b2c3d4e5f6a7b8", "{01795ade-7900-0000-a1b2-c3d4e5f6a7b8}",
            " 01795ade-7900-0000-a1b2-c3d4e5f6a7b8", "01795ade-7900-0000-a1b2-c3d4e5f6a7b8 ",
            "01795ade-7900-0000-a1b2-c3d4e5f6a7bg", "01795ade-7900-0000-a1b2c-3d4e5f6a7b8",
            "01795ade-7900-0000-a1b2-c3d4e5f6a7b", "01795ade-7900-0000-a1b2-c3d4e5f6a7b8a",
            "０1795ade-7900-0000-a1b2-c3d4e5f6a7b",
        ] {
            #expect(!UUIDT.isValidUUIDString(invalid), "\(invalid)")
        }
    }
}
