import Foundation
import Logging
import PostHogEvents
import RedisClient
import Testing

@testable import PluginServer

/// ingestion.md §18.1, every scenario through the real path: a Celery message into Redis, a server
/// process, rows checked in Postgres. Checklist item → test:
///  1 merge people → mergePeople               20 long htext → longElementText
///  2 capture new person → captureNewPerson     21 capture first team event → firstTeamEvent
///  3 capture bad team → badTeam                22 snapshot → snapshotEvent
///  4 capture no element → noElement            23 identify set → identifySet
///  5 capture sent_at → sentAt                  24 identify set_once → identifySetOnce
///  6 sent_at no timezones → sentAtOffsets      25 distinct with anonymous_id → anonymousId
///  7 capture no sent_at → noSentAt             26 anonymous_id already created → anonymousIdExisting
///  8 ip none → ipNone                          27 multiple anonymous_ids → multipleAnonymousIds
///  9 ip capture → ipCapture                    28 distinct team leakage → teamLeakage
/// 10 ip override → ipOverride                  29 set is_identified → setIsIdentified
/// 11 anonymized ip → anonymizedIp              30 team event_properties → teamEventProperties
/// 12 alias → alias                             31 event name object json → eventNameObject
/// 13 alias reverse → aliasReverse              32 event name array json → eventNameArray
/// 14 alias twice → aliasTwice                  33 long event name substr → longEventName
/// 15 alias before person → aliasBeforePerson   34 throws with bad uuid → badUUID
/// 16 alias both existing → aliasBothExisting   35 $set on props (user exists) → setExistingUser
/// 17 offset timestamp → offsetTimestamp        36 $set on props (new user) → setNewUser
/// 18 offset timestamp no sent_at → offsetNoSentAt  37 $set_once on props → setOnce
/// 19 alias merge properties → aliasMergeProperties 38 distinct_id wrong type → numericDistinctId
@Suite(.serialized) struct IngestionScenarioTests {
    static func uuid() -> JSON { .string(UUIDT().uuidString) }

    func withHarness(
        environment: [String: String] = [:], prepare: (TestDatabase) throws -> Void = { _ in },
        _ body: (IngestionHarness) async throws -> Void
    )
        async throws
    {
        let harness = try await IngestionHarness.start(environment: environment, prepare: prepare)
        do {
            try await body(harness)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    static func time(_ value: JSON?) -> Int64 { EventTimestamp.parseISO8601(value?.stringValue ?? "")?.millisecondsSince1970 ?? -1 }

    @Test("1 merge people")
    func mergePeople() async throws {
        try await withHarness { h in
            let p0 = try h.createPerson(distinctIds: ["person_0"], properties: ["$os": "Microsoft"], createdAt: "2020-01-01T00:00:00Z")
            let p1 = try h.createPerson(distinctIds: ["person_1"], properties: ["$os": "Chrome"], createdAt: "2019-07-01T00:00:00Z")
            try await h.send(["event": "user signed up", "uuid": Self.uuid()], distinctId: "person_1")
            let p2 = try h.createPerson(distinctIds: ["person_2"], properties: ["$os": "Apple", "$browser": "MS Edge"])
            let p3 = try h.createPerson(distinctIds: ["person_3"], properties: ["$os": "PlayStation"])
            #expect(try h.persons().count == 4)

            // The merge routine called directly, as the original test does.
            let logger = Logger(label: "test")
            try await h.database.withStore { store in
                let ingester = EventIngester(
                    store: store, teams: TeamManager(store: store, logger: logger), webhooks: NoWebhooks(), distinctIdCacheSize: 10,
                    logger: logger)
                let persons = PersonStore(store: store)
                let target = try await persons.fetchPerson(teamId: 2, distinctId: "person_0")!
                var others: [Person] = []
                for id in ["person_1", "person_2", "person_3"] { others.append(try await persons.fetchPerson(teamId: 2, distinctId: id)!) }
                try await ingester.merge(target: target, others: others)
            }
            let persons = try h.persons()
            #expect(persons.count == 1)
            #expect(persons[0]["id"]?.intValue == p0)
            #expect(persons[0]["properties"] == ["$os": "Microsoft", "$browser": "MS Edge"])
            #expect(persons[0]["distinct_ids"] == ["person_0", "person_1", "person_2", "person_3"])
            #expect(Self.time(persons[0]["created_at"]) == EventTimestamp.parseISO8601("2019-07-01T00:00:00Z")!.millisecondsSince1970)
            _ = (p1, p2, p3)
        }
    }

    static let scenario2Elements: JSON = [
        ["tag_name": "a", "nth_child": 1, "nth_of_type": 2, "attr__class": "btn btn-sm"],
        ["tag_name": "div", "nth_child": 1, "nth_of_type": 2, "$el_text": "💻"],
    ]

    @Test("2 capture new person")
    func captureNewPerson() async throws {
        try await withHarness { h in
            try h.database.execute("DELETE FROM posthog_eventdefinition; DELETE FROM posthog_propertydefinition")
            func properties(_ medium: String) -> JSON {
                [
                    "distinct_id": 2, "token": "my_token", "$browser": "Chrome", "$current_url": "https://test.com", "$os": "Mac OS X",
                    "$browser_version": 80, "$initial_referring_domain": "https://google.com",
                    "$initial_referrer_url": "https://google.com/?q=posthog", "utm_medium": .string(medium),
                    "$elements": Self.scenario2Elements,
                ]
            }
            try await h.send(["event": "$autocapture", "properties": properties("twitter"), "uuid": Self.uuid()], distinctId: 2)
            var persons = try h.persons()
            #expect(persons.count == 1)
            #expect(
                persons[0]["properties"] == [
                    "$initial_browser": "Chrome", "$initial_browser_version": 80, "$initial_utm_medium": "twitter",
                    "$initial_current_url": "https://test.com", "$initial_os": "Mac OS X", "utm_medium": "twitter",
                ])
            try await h.send(["event": "$autocapture", "properties": properties("instagram"), "uuid": Self.uuid()], distinctId: 2)
            persons = try h.persons()
            #expect(persons.count == 1)
            #expect(persons[0]["properties"]?["utm_medium"] == "instagram")
            #expect(persons[0]["properties"]?["$initial_utm_medium"] == "twitter")
            #expect(persons[0]["distinct_ids"] == ["2"])
            let events = try h.events()
            #expect(events.count == 2)
            #expect(events[0]["distinct_id"] == "2" && events[0]["event"] == "$autocapture")
            #expect(events[0]["elements_hash"] == "0679137c0cd2408a2906839143e7a71f")
            let elements = try h.database.rows("SELECT tag_name, attr_class, \"order\", text FROM posthog_element ORDER BY \"order\"")
            #expect(elements.count == 2)
            #expect(elements[0]["tag_name"] == "a" && elements[0]["attr_class"] == ["btn", "btn-sm"])
            #expect(elements[1]["order"] == 1 && elements[1]["text"] == "💻")
            let eventDefinitions = try h.database.rows(
                "SELECT name, volume_30_day, query_usage_30_day, team_id FROM posthog_eventdefinition")
            #expect(eventDefinitions == [["name": "$autocapture", "volume_30_day": nil, "query_usage_30_day": nil, "team_id": 2]])
            let propertyDefinitions = try h.database.rows("SELECT name, is_numerical FROM posthog_propertydefinition ORDER BY id")
            #expect(
                propertyDefinitions.map { $0["name"]?.stringValue ?? "" } == [
                    "distinct_id", "token", "$browser", "$current_url", "$os", "$browser_version", "$initial_referring_domain",
                    "$initial_referrer_url", "utm_medium", "$ip",
                ])
            #expect(propertyDefinitions.filter { $0["is_numerical"] == true }.map { $0["name"] } == ["distinct_id", "$browser_version"])
        }
    }

    @Test("3 capture bad team")
    func badTeam() async throws {
        try await withHarness { h in
            try await h.send(["event": "$pageview", "properties": [:], "uuid": Self.uuid()], teamId: 1337)
            #expect(try await h.deadLetterReasons() == ["No team found with ID 1337. Can't ingest event. (team 1337)"])
            #expect(try h.events().isEmpty)
        }
    }

    @Test("4 capture no element")
    func noElement() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["asdfasdfasdf"])
            try await h.send(
                ["event": "$pageview", "properties": ["distinct_id": "asdfasdfasdf"], "uuid": Self.uuid()], distinctId: "asdfasdfasdf")
            #expect(try h.persons()[0]["distinct_ids"] == ["asdfasdfasdf"])
            let events = try h.events()
            #expect(events.count == 1 && events[0]["event"] == "$pageview")
        }
    }

    @Test("5 capture sent_at")
    func sentAt() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["asdfasdfasdf"])
            let now = EventTimestamp.now()
            let tomorrow = EventTimestamp(millisecondsSince1970: now.millisecondsSince1970 + 26 * 3_600_000)
            let sentAt = EventTimestamp(millisecondsSince1970: tomorrow.millisecondsSince1970 + 600_000)
            try await h.send(
                ["event": "$autocapture", "timestamp": .string(tomorrow.isoString), "uuid": Self.uuid()], distinctId: "asdfasdfasdf",
                now: now.isoString, sentAt: .string(sentAt.isoString))
            let difference = now.millisecondsSince1970 - Self.time(try h.events()[0]["timestamp"])
            #expect(difference >= 590_000 && difference <= 610_000)
        }
    }

    @Test("6 capture sent_at no timezones")
    func sentAtOffsets() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["asdfasdfasdf"])
            let now = EventTimestamp.now()
            func plus4(_ milliseconds: Int64) -> String {
                // The same instant written in UTC+4.
                let shifted = EventTimestamp(millisecondsSince1970: milliseconds + 4 * 3_600_000).isoString
                return String(shifted.dropLast()) + "+04:00"
            }
            let tomorrow = now.millisecondsSince1970 + 26 * 3_600_000
            try await h.send(
                ["event": "$autocapture", "timestamp": .string(plus4(tomorrow)), "uuid": Self.uuid()], distinctId: "asdfasdfasdf",
                now: now.isoString, sentAt: .string(plus4(tomorrow + 600_000)))
            let difference = now.millisecondsSince1970 - Self.time(try h.events()[0]["timestamp"])
            #expect(difference >= 590_000 && difference <= 610_000)
        }
    }

    @Test("7 capture no sent_at")
    func noSentAt() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["asdfasdfasdf"])
            let tomorrow = EventTimestamp(millisecondsSince1970: EventTimestamp.now().millisecondsSince1970 + 26 * 3_600_000)
            try await h.send(
                ["event": "$autocapture", "timestamp": .string(tomorrow.isoString), "uuid": Self.uuid()], distinctId: "asdfasdfasdf",
                sentAt: .null)
            #expect(abs(Self.time(try h.events()[0]["timestamp"]) - tomorrow.millisecondsSince1970) < 1000)
        }
    }

    @Test("8 ip none")
    func ipNone() async throws {
        try await withHarness { h in
            try await h.send(["event": "$autocapture", "properties": [:], "uuid": Self.uuid()], ip: nil)
            #expect(try h.events()[0]["properties"]?["$ip"] == nil)
        }
    }

    @Test("9 ip capture")
    func ipCapture() async throws {
        try await withHarness { h in
            try await h.send(["event": "$autocapture", "properties": [:], "uuid": Self.uuid()], ip: "11.12.13.14")
            #expect(try h.events()[0]["properties"]?["$ip"] == "11.12.13.14")
        }
    }

    @Test("10 ip override")
    func ipOverride() async throws {
        try await withHarness { h in
            try await h.send(["event": "$autocapture", "properties": ["$ip": "1.0.0.1"], "uuid": Self.uuid()], ip: "11.12.13.14")
            #expect(try h.events()[0]["properties"]?["$ip"] == "1.0.0.1")
        }
    }

    @Test("11 anonymized ip capture")
    func anonymizedIp() async throws {
        try await withHarness(prepare: { try $0.execute("UPDATE posthog_team SET anonymize_ips = true WHERE id = 2") }) { h in
            try await h.send(["event": "$autocapture", "properties": [:], "uuid": Self.uuid()], ip: "11.12.13.14")
            #expect(try h.events()[0]["properties"]?["$ip"] == nil)
        }
    }

    @Test("12 alias")
    func alias() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["old_distinct_id"])
            try await h.send(
                ["event": "$create_alias", "properties": ["alias": "old_distinct_id"], "uuid": Self.uuid()], distinctId: "new_distinct_id")
            #expect(try h.events().count == 1)
            #expect(try h.persons().map { $0["distinct_ids"] } == [["old_distinct_id", "new_distinct_id"]])
        }
    }

    @Test("13 alias reverse")
    func aliasReverse() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["old_distinct_id"])
            try await h.send(
                ["event": "$create_alias", "properties": ["alias": "new_distinct_id"], "uuid": Self.uuid()], distinctId: "old_distinct_id")
            #expect(try h.events().count == 1)
            #expect(try h.persons().map { $0["distinct_ids"] } == [["old_distinct_id", "new_distinct_id"]])
        }
    }

    @Test("14 alias twice")
    func aliasTwice() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["old_distinct_id"])
            try await h.send(
                ["event": "$create_alias", "properties": ["alias": "old_distinct_id"], "uuid": Self.uuid()], distinctId: "new_distinct_id")
            try h.createPerson(distinctIds: ["old_distinct_id_2"])
            #expect(try h.persons().count == 2)
            try await h.send(
                ["event": "$create_alias", "properties": ["alias": "old_distinct_id_2"], "uuid": Self.uuid()], distinctId: "new_distinct_id"
            )
            #expect(try h.events().count == 2)
            #expect(try h.persons().map { $0["distinct_ids"] } == [["old_distinct_id", "new_distinct_id", "old_distinct_id_2"]])
        }
    }

    @Test("15 alias before person")
    func aliasBeforePerson() async throws {
        try await withHarness { h in
            try await h.send(
                ["event": "$create_alias", "properties": ["alias": "old_distinct_id"], "uuid": Self.uuid()], distinctId: "new_distinct_id")
            #expect(try h.events().count == 1)
            #expect(try h.persons().map { $0["distinct_ids"] } == [["new_distinct_id", "old_distinct_id"]])
        }
    }

    @Test("16 alias both existing")
    func aliasBothExisting() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["old_distinct_id"])
            try h.createPerson(distinctIds: ["new_distinct_id"])
            try await h.send(
                ["event": "$create_alias", "properties": ["alias": "old_distinct_id"], "uuid": Self.uuid()], distinctId: "new_distinct_id")
            #expect(try h.events().count == 1)
            #expect(try h.persons().map { $0["distinct_ids"] } == [["old_distinct_id", "new_distinct_id"]])
        }
    }

    @Test("17 offset timestamp")
    func offsetTimestamp() async throws {
        try await withHarness { h in
            try await h.send(
                ["offset": 150, "event": "$autocapture", "distinct_id": "distinct_id", "uuid": Self.uuid()],
                now: "2020-01-01T12:00:05.200Z",
                sentAt: "2020-01-01T12:00:05.200Z")
            let events = try h.events()
            #expect(events.count == 1)
            #expect(Self.time(events[0]["timestamp"]) == EventTimestamp.parseISO8601("2020-01-01T12:00:05.050Z")!.millisecondsSince1970)
        }
    }

    @Test("18 offset timestamp no sent_at")
    func offsetNoSentAt() async throws {
        try await withHarness { h in
            try await h.send(
                ["offset": 150, "event": "$autocapture", "distinct_id": "distinct_id", "uuid": Self.uuid()],
                now: "2020-01-01T12:00:05.200Z",
                sentAt: .null)
            #expect(
                Self.time(try h.events()[0]["timestamp"]) == EventTimestamp.parseISO8601("2020-01-01T12:00:05.050Z")!.millisecondsSince1970)
        }
    }

    @Test("19 alias merge properties")
    func aliasMergeProperties() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["old_distinct_id"], properties: ["key_on_both": "old value both", "key_on_old": "old value"])
            try h.createPerson(distinctIds: ["new_distinct_id"], properties: ["key_on_both": "new value both", "key_on_new": "new value"])
            try await h.send(
                ["event": "$create_alias", "properties": ["alias": "old_distinct_id"], "uuid": Self.uuid()], distinctId: "new_distinct_id")
            let persons = try h.persons()
            #expect(try h.events().count == 1)
            #expect(persons.count == 1)
            #expect(persons[0]["distinct_ids"] == ["old_distinct_id", "new_distinct_id"])
            #expect(persons[0]["properties"] == ["key_on_both": "new value both", "key_on_new": "new value", "key_on_old": "old value"])
        }
    }

    @Test("20 long htext")
    func longElementText() async throws {
        try await withHarness { h in
            let long = String(repeating: "a", count: 2050)
            let element: JSON = [
                "tag_name": "a", "$el_text": .string(long), "attr__href": .string(long), "nth_child": 1, "nth_of_type": 2,
                "attr__class": "btn btn-sm",
            ]
            try await h.send(["event": "$autocapture", "properties": ["$elements": [element]], "uuid": Self.uuid()])
            let row = try h.database.rows("SELECT length(href) AS href, length(text) AS text FROM posthog_element")[0]
            #expect(row["href"] == 2048 && row["text"] == 400)
            #expect(try h.events()[0]["elements_hash"] == "c2659b28e72835706835764cf7f63c2a")
        }
    }

    @Test("an element whose tag, id or class is longer than its column is stored cut to the column, the event kept")
    func oversizedElementFields() async throws {
        try await withHarness { h in
            let element: JSON = [
                "tag_name": .string(String(repeating: "t", count: 1_200)), "attr__id": .string(String(repeating: "i", count: 10_050)),
                "attr__class": .string(String(repeating: "é", count: 300) + " btn"), "nth_child": 1, "nth_of_type": 1,
            ]
            try await h.send(["event": "$autocapture", "properties": ["$elements": [element]], "uuid": Self.uuid()])
            #expect(try h.events().count == 1)
            let row = try h.database.rows(
                "SELECT length(tag_name) AS tag, length(attr_id) AS id, attr_class[2] AS first, length(attr_class[2]) AS class FROM posthog_element"
            )
            #expect(row == [["tag": 1_000, "id": 10_000, "first": .string(String(repeating: "é", count: 200)), "class": 200]])
        }
    }

    @Test("a chain of 2,500 elements is one group with its rows in order; 40 events sharing a new chain at once make one group")
    func elementGroupsOncePerChain() async throws {
        try await withHarness { h in
            let long: JSON = .array((0..<2_500).map { ["tag_name": .string("li"), "nth_child": .number(Double($0)), "nth_of_type": 1] })
            try await h.send(["event": "$autocapture", "properties": ["$elements": long], "uuid": Self.uuid()])
            let stored = try h.database.rows(
                "SELECT count(*) AS rows, min(\"order\") AS first, max(\"order\") AS last, bool_and(nth_child = \"order\") AS aligned FROM posthog_element"
            )
            #expect(stored == [["rows": 2_500, "first": 0, "last": 2_499, "aligned": true]])

            let shared: JSON = [["tag_name": "button", "$el_text": "Buy", "attr__class": "btn primary", "nth_child": 2, "nth_of_type": 1]]
            let messages = (0..<40).map { index in
                CeleryMessages.processEvent(
                    distinctId: .string("buyer-\(index)"), ip: "127.0.0.1",
                    data: ["event": "$autocapture", "properties": ["$elements": shared], "uuid": Self.uuid()], teamId: 2,
                    now: EventTimestamp.now().isoString, sentAt: nil)
            }
            try await h.push(messages)
            #expect(try h.events().count == 41)
            #expect(try h.database.scalar("SELECT count(*) FROM posthog_elementgroup") == 2)
            #expect(try h.database.scalar("SELECT count(*) FROM posthog_element WHERE tag_name = 'button'") == 1)
            #expect(try h.database.scalar("SELECT count(DISTINCT elements_hash) FROM posthog_event WHERE event = '$autocapture'") == 2)
        }
    }

    @Test("definition names cached per team stay within their bound, and every name still gets its definition")
    func definitionCacheIsBounded() async throws {
        try await withHarness { h in
            try h.database.execute("DELETE FROM posthog_eventdefinition; DELETE FROM posthog_propertydefinition")
            let logger = Logger(label: "test")
            try await h.database.withStore { store in
                let teams = TeamManager(store: store, logger: logger, definitionNamesPerTeam: 5)
                let team = try #require(try await teams.fetchTeam(2))
                for round in 0..<4 {
                    var properties = JSONObject()
                    for index in 0..<4 { properties["p\(round)-\(index)"] = .number(Double(index)) }
                    try await teams.updateEventNamesAndProperties(team: team, event: "event \(round)", properties: properties)
                    let counts = await teams.cachedDefinitionCounts(teamId: 2)
                    #expect(counts.events <= 5 && counts.properties <= 5)
                }
                // Twelve names in one event: more than the bound at once.
                var wide = JSONObject()
                for index in 0..<12 { wide["wide-\(index)"] = "x" }
                try await teams.updateEventNamesAndProperties(team: team, event: "event 0", properties: wide)
                #expect(await teams.cachedDefinitionCounts(teamId: 2).properties <= 5)
                // Names that fell out of the cache are inserted again without a second row.
                try await teams.updateEventNamesAndProperties(team: team, event: "event 1", properties: ["p0-0": 1])
            }
            #expect(try h.database.scalar("SELECT count(*) FROM posthog_eventdefinition") == 4)
            #expect(try h.database.scalar("SELECT count(*) FROM posthog_propertydefinition") == 28)
            #expect(try h.database.scalar("SELECT count(DISTINCT name) FROM posthog_propertydefinition") == 28)
        }
    }

    @Test(
        "events arriving together on cold caches share one team query, one definitions load, one hook check, one insert per kind and one flag update"
    )
    func coldCachesAreFilledOnce() async throws {
        try await withHarness { h in
            try h.database.execute(
                "DELETE FROM posthog_eventdefinition; DELETE FROM posthog_propertydefinition; UPDATE posthog_team SET ingested_event = false WHERE id = 2"
            )
            try await h.database.withStore { store in
                let teams = TeamManager(store: store, logger: Logger(label: "test"))
                try await withThrowingTaskGroup(of: Void.self) { events in
                    for index in 0..<50 {
                        events.addTask {
                            let team = try #require(try await teams.fetchTeam(2))
                            try await teams.updateEventNamesAndProperties(
                                team: team, event: "signed up", properties: ["plan": "free", "seats": .number(Double(index))])
                            #expect(try await teams.shouldSendWebhooks(teamId: 2) == false)
                        }
                    }
                    try await events.waitForAll()
                }
                #expect(await teams.teamQueries == 1)
                #expect(await teams.hookQueries == 1)
                #expect(await teams.definitionQueries == 2)
                #expect(await teams.definitionInserts == 2)
                #expect(await teams.ingestedEventUpdates == 1)
                #expect(try await teams.fetchTeam(2)?.ingestedEvent == true)
            }
            #expect(try h.database.scalar("SELECT count(*) FROM posthog_eventdefinition WHERE name = 'signed up'") == 1)
            #expect(
                try h.database.scalar("SELECT string_agg(name || ':' || is_numerical, ',' ORDER BY name) FROM posthog_propertydefinition")?
                    .stringValue == "plan:false,seats:true")
            #expect(try h.database.scalar("SELECT ingested_event FROM posthog_team WHERE id = 2") == true)
        }
    }

    @Test("21 capture first team event")
    func firstTeamEvent() async throws {
        try await withHarness(prepare: { try $0.execute("UPDATE posthog_team SET ingested_event = false WHERE id = 2") }) { h in
            let element: JSON = ["tag_name": "a", "nth_child": 1, "nth_of_type": 2, "attr__class": "btn btn-sm"]
            try await h.send(
                [
                    "event": "$autocapture", "properties": ["distinct_id": 1, "token": "my_token", "$elements": [element]],
                    "uuid": Self.uuid(),
                ], distinctId: 2)
            #expect(try h.database.scalar("SELECT ingested_event FROM posthog_team WHERE id = 2") == true)
            #expect(try h.events()[0]["elements_hash"] == "a89021a60b3497d24e93ae181fba01aa")
        }
    }

    @Test("22 snapshot event stored as session_recording_event")
    func snapshotEvent() async throws {
        try await withHarness { h in
            try await h.send(
                [
                    "event": "$snapshot", "properties": ["$session_id": "abcf-efg", "$snapshot_data": ["timestamp": 123]],
                    "uuid": Self.uuid(),
                ],
                distinctId: "some-id")
            #expect(try h.events().isEmpty)
            let recordings = try h.database.rows("SELECT session_id, distinct_id, snapshot_data FROM posthog_sessionrecordingevent")
            #expect(recordings == [["session_id": "abcf-efg", "distinct_id": "some-id", "snapshot_data": ["timestamp": 123]]])
            // A session id longer than its column is refused with its own name.
            try await h.send(
                [
                    "event": "$snapshot",
                    "properties": ["$session_id": .string(String(repeating: "s", count: 201)), "$snapshot_data": [:]],
                    "uuid": Self.uuid(),
                ],
                distinctId: "some-id")
            #expect(
                try await h.deadLetterReasons() == [
                    "$snapshot event's $session_id is longer than the 200 characters it is stored in (team 2)"
                ])
        }
    }

    @Test("23 identify set")
    func identifySet() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["distinct_id"])
            try await h.send(["event": "$identify", "properties": ["$set": ["a_prop": "test-1", "c_prop": "test-1"]], "uuid": Self.uuid()])
            #expect(try h.events()[0]["properties"]?["$set"] == ["a_prop": "test-1", "c_prop": "test-1"])
            var person = try h.persons()[0]
            #expect(person["distinct_ids"] == ["distinct_id"])
            #expect(person["properties"] == ["a_prop": "test-1", "c_prop": "test-1"])
            #expect(person["is_identified"] == true)
            try await h.send([
                "event": "$identify", "properties": ["$set": ["a_prop": "test-2", "b_prop": "test-2b"]], "uuid": Self.uuid(),
            ])
            #expect(try h.events().count == 2)
            person = try h.persons()[0]
            #expect(person["properties"] == ["a_prop": "test-2", "b_prop": "test-2b", "c_prop": "test-1"])
        }
    }

    @Test("24 identify set_once")
    func identifySetOnce() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["distinct_id"])
            try await h.send([
                "event": "$identify", "properties": ["$set_once": ["a_prop": "test-1", "c_prop": "test-1"]], "uuid": Self.uuid(),
            ])
            #expect(try h.events()[0]["properties"]?["$set_once"] == ["a_prop": "test-1", "c_prop": "test-1"])
            var person = try h.persons()[0]
            #expect(person["properties"] == ["a_prop": "test-1", "c_prop": "test-1"])
            #expect(person["is_identified"] == true)
            try await h.send([
                "event": "$identify", "properties": ["$set_once": ["a_prop": "test-2", "b_prop": "test-2b"]], "uuid": Self.uuid(),
            ])
            person = try h.persons()[0]
            #expect(person["properties"] == ["a_prop": "test-1", "b_prop": "test-2b", "c_prop": "test-1"])
        }
    }

    @Test("25 distinct with anonymous_id")
    func anonymousId() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["anonymous_id"])
            let event: JSON = [
                "event": "$identify",
                "properties": ["$anon_distinct_id": "anonymous_id", "distinct_id": "new_distinct_id", "$set": ["a_prop": "test"]],
            ]
            var first = event
            first["uuid"] = Self.uuid()
            try await h.send(first, distinctId: "new_distinct_id")
            #expect(try h.events().count == 1)
            #expect(try h.events()[0]["properties"]?["$set"] == ["a_prop": "test"])
            var persons = try h.persons()
            #expect(persons.map { $0["distinct_ids"] } == [["anonymous_id", "new_distinct_id"]])
            #expect(persons[0]["properties"] == ["a_prop": "test"])
            var again = event
            again["uuid"] = Self.uuid()
            try await h.send(again, distinctId: "new_distinct_id")
            #expect(try await h.deadLetterReasons().isEmpty)
            persons = try h.persons()
            #expect(persons.count == 1)
        }
    }

    @Test("26 distinct with anonymous_id which was already created")
    func anonymousIdExisting() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["anonymous_id"])
            try h.createPerson(distinctIds: ["new_distinct_id"], properties: ["email": "someone@gmail.com"])
            try await h.send(
                [
                    "event": "$identify", "properties": ["$anon_distinct_id": "anonymous_id", "distinct_id": "new_distinct_id"],
                    "uuid": Self.uuid(),
                ],
                distinctId: "new_distinct_id")
            let persons = try h.persons()
            #expect(persons.count == 1)
            #expect(persons[0]["distinct_ids"] == ["anonymous_id", "new_distinct_id"])
            #expect(persons[0]["properties"]?["email"] == "someone@gmail.com")
        }
    }

    @Test("27 distinct with multiple anonymous_ids which were already created")
    func multipleAnonymousIds() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["anonymous_id"])
            try h.createPerson(distinctIds: ["new_distinct_id"], properties: ["email": "someone@gmail.com"])
            try await h.send(
                [
                    "event": "$identify", "properties": ["$anon_distinct_id": "anonymous_id", "distinct_id": "new_distinct_id"],
                    "uuid": Self.uuid(),
                ],
                distinctId: "new_distinct_id")
            #expect(try h.persons().count == 1)
            try h.createPerson(distinctIds: ["anonymous_id_2"])
            try await h.send(
                [
                    "event": "$identify", "properties": ["$anon_distinct_id": "anonymous_id_2", "distinct_id": "new_distinct_id"],
                    "uuid": Self.uuid(),
                ],
                distinctId: "new_distinct_id")
            let persons = try h.persons()
            #expect(persons.count == 1)
            #expect(persons[0]["distinct_ids"] == ["anonymous_id", "new_distinct_id", "anonymous_id_2"])
            #expect(persons[0]["properties"]?["email"] == "someone@gmail.com")
        }
    }

    @Test("28 distinct team leakage")
    func teamLeakage() async throws {
        try await withHarness { h in
            try h.database.execute(
                """
                INSERT INTO posthog_organization (id, name, plugins_access_level, created_at, updated_at, personalization, setup_section_2_completed)
                VALUES ('0179a6a4-0000-0000-0000-000000000003', 'OTHER ORG', 9, now(), now(), '{}', true)
                """)
            try h.database.insertTeam(3, organization: "0179a6a4-0000-0000-0000-000000000003")
            try h.createPerson(distinctIds: ["2"], properties: ["email": "team2@gmail.com"], teamId: 3)
            try h.createPerson(distinctIds: ["1", "2"])
            try await h.send(["event": "$identify", "properties": ["$anon_distinct_id": "1"], "uuid": Self.uuid()], distinctId: "2")
            let team2 = try h.persons(teamId: 2)
            let team3 = try h.persons(teamId: 3)
            #expect(team2.count == 1 && team3.count == 1)
            #expect(team2[0]["properties"] == [:] && team2[0]["distinct_ids"] == ["1", "2"])
            #expect(team3[0]["distinct_ids"] == ["2"])
        }
    }

    @Test("29 set is_identified")
    func setIsIdentified() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["777"])
            try await h.send(["event": "$identify", "properties": [:], "uuid": Self.uuid()], distinctId: "777")
            #expect(try h.persons()[0]["is_identified"] == true)
        }
    }

    @Test("30 team event_properties")
    func teamEventProperties() async throws {
        try await withHarness { h in
            try h.database.execute("DELETE FROM posthog_eventdefinition; DELETE FROM posthog_propertydefinition")
            try await h.send(["event": "purchase", "properties": ["price": 299.99, "name": "AirPods Pro"], "uuid": Self.uuid()])
            #expect(try h.database.rows("SELECT name FROM posthog_eventdefinition") == [["name": "purchase"]])
            let definitions = try h.database.rows("SELECT name, is_numerical FROM posthog_propertydefinition ORDER BY id")
            #expect(
                definitions == [
                    ["name": "price", "is_numerical": true], ["name": "name", "is_numerical": false],
                    ["name": "$ip", "is_numerical": false],
                ])
        }
    }

    @Test("an event with 12,000 properties and a name too long for a definition is stored; the others get definitions")
    func manyProperties() async throws {
        try await withHarness { h in
            try h.database.execute("DELETE FROM posthog_eventdefinition; DELETE FROM posthog_propertydefinition")
            var properties = JSONObject()
            for index in 0..<12_000 { properties["p\(index)"] = index % 2 == 0 ? .number(Double(index)) : "v" }
            properties[String(repeating: "k", count: 401)] = 1
            try await h.send(["event": "wide", "properties": .object(properties), "uuid": Self.uuid()])
            let events = try h.events()
            #expect(events.count == 1 && events.first?["properties"]?["p11999"] == "v")
            let counts = try h.database.rows(
                "SELECT count(*) AS total, count(*) FILTER (WHERE is_numerical) AS numerical, max(length(name)) AS longest FROM posthog_propertydefinition"
            )
            // 12,000 names and `$ip`; half of the values are numbers.
            #expect(counts == [["total": 12_001, "numerical": 6_000, "longest": 6]])
        }
    }

    @Test("31 event name object json")
    func eventNameObject() async throws {
        try await withHarness { h in
            try await h.send(["event": ["event name": "as object"], "properties": [:], "uuid": Self.uuid()])
            #expect(try h.events()[0]["event"] == #"{"event name":"as object"}"#)
        }
    }

    @Test("32 event name array json")
    func eventNameArray() async throws {
        try await withHarness { h in
            try await h.send(["event": ["event name", "a list"], "properties": [:], "uuid": Self.uuid()])
            #expect(try h.events()[0]["event"] == #"["event name","a list"]"#)
        }
    }

    @Test("33 long event name substr")
    func longEventName() async throws {
        try await withHarness { h in
            try await h.send(["event": .string(String(repeating: "E", count: 300)), "properties": [:], "uuid": Self.uuid()])
            #expect(try h.events()[0]["event"]?.stringValue?.count == 200)
        }
    }

    @Test("a timestamp the database cannot store (year 0, or past 9999) is refused before any person is made")
    func unstorableTimestamp() async throws {
        try await withHarness { h in
            try await h.send(["event": "E", "timestamp": "+010000-01-01T00:00:00Z", "uuid": Self.uuid()], distinctId: "future")
            try await h.send(["event": "E", "timestamp": "0000-06-01T00:00:00Z", "uuid": Self.uuid()], distinctId: "past")
            #expect(
                try await h.deadLetterReasons().map { $0.components(separatedBy: " (team").first ?? $0 } == [
                    "Event timestamp +010000-01-01T00:00:00.000Z is outside the years 1 to 9999 that can be stored",
                    "Event timestamp 0000-06-01T00:00:00.000Z is outside the years 1 to 9999 that can be stored",
                ])
            #expect(try h.events().isEmpty)
            #expect(try h.persons().isEmpty)
        }
    }

    @Test("34 throws with bad uuid")
    func badUUID() async throws {
        try await withHarness { h in
            try await h.send(["event": "E", "properties": [:], "uuid": "this is not an uuid"])
            try await h.send(["event": "E", "properties": [:], "uuid": nil])
            #expect(try await h.deadLetterReasons() == ["Not a valid UUID: \"this is not an uuid\"", "Not a valid UUID: \"null\""])
            #expect(try h.events().isEmpty)
        }
    }

    @Test("35 any event can do $set on props (user exists)")
    func setExistingUser() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["distinct_id"])
            try await h.send([
                "event": "some_event", "properties": ["$set": ["a_prop": "test-1", "c_prop": "test-1"]], "uuid": Self.uuid(),
            ])
            #expect(try h.events()[0]["properties"]?["$set"] == ["a_prop": "test-1", "c_prop": "test-1"])
            let person = try h.persons()[0]
            #expect(person["distinct_ids"] == ["distinct_id"])
            #expect(person["properties"] == ["a_prop": "test-1", "c_prop": "test-1"])
        }
    }

    @Test("36 any event can do $set on props (new user)")
    func setNewUser() async throws {
        try await withHarness { h in
            try await h.send([
                "event": "some_event", "properties": ["$set": ["a_prop": "test-1", "c_prop": "test-1"]], "uuid": Self.uuid(),
            ])
            let persons = try h.persons()
            #expect(persons.count == 1)
            #expect(persons[0]["distinct_ids"] == ["distinct_id"])
            #expect(persons[0]["properties"] == ["a_prop": "test-1", "c_prop": "test-1"])
        }
    }

    @Test("37 any event can do $set_once on props")
    func setOnce() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["distinct_id"])
            try await h.send([
                "event": "some_event", "properties": ["$set_once": ["a_prop": "test-1", "c_prop": "test-1"]], "uuid": Self.uuid(),
            ])
            #expect(try h.persons()[0]["properties"] == ["a_prop": "test-1", "c_prop": "test-1"])
            try await h.send([
                "event": "some_other_event", "properties": ["$set_once": ["a_prop": "test-2", "b_prop": "test-2b"]], "uuid": Self.uuid(),
            ])
            #expect(try h.persons()[0]["properties"] == ["a_prop": "test-1", "b_prop": "test-2b", "c_prop": "test-1"])
            #expect(try h.events().count == 2)
        }
    }

    /// Beyond the 38: Postgres refuses U+0000 in text and jsonb, which a client or a plugin can send.
    @Test("a NUL character in the event name, distinct id, properties or $set is stored as U+FFFD, not dead-lettered")
    func nulCharacters() async throws {
        try await withHarness { h in
            try await h.send(
                [
                    "event": "nul\u{0}event", "uuid": Self.uuid(),
                    "properties": ["text": "a\u{0}b", "nested": ["key\u{0}": ["x\u{0}"]], "$set": ["name": "Ada\u{0}"]],
                ], distinctId: "user\u{0}1")
            #expect(try await h.deadLetterReasons() == [])
            let events = try h.events()
            #expect(events.count == 1)
            #expect(events.first?["event"] == "nul\u{FFFD}event")
            #expect(events.first?["distinct_id"] == "user\u{FFFD}1")
            #expect(events.first?["properties"]?["text"] == "a\u{FFFD}b")
            #expect(events.first?["properties"]?["nested"] == ["key\u{FFFD}": ["x\u{FFFD}"]])
            #expect(try h.persons().first?["properties"] == ["name": "Ada\u{FFFD}"])
            #expect(try h.persons().first?["distinct_ids"] == ["user\u{FFFD}1"])
        }
    }

    @Test("38 distinct_id wrong type (number)")
    func numericDistinctId() async throws {
        try await withHarness { h in
            try h.createPerson(distinctIds: ["asdfasdfasdf"])
            try await h.send(["event": "$pageview", "properties": [:], "uuid": Self.uuid()], distinctId: 12345)
            #expect(try h.events()[0]["distinct_id"] == "12345")
        }
    }
}

struct NoWebhooks: WebhookSink {
    func publishEventWebhook(eventId: Int, siteURL: JSON) async {}
}
