import Foundation
import Kafka
import PostHogEvents
import Testing

@testable import PluginServer

/// ClickHouse mode through the real binary and the test broker: raw event messages in on the
/// consumption topic, plugins in the path, every ClickHouse topic read back and decoded.
@Suite(.serialized, .enabled(if: TestBroker.hosts != nil, "no TEST_KAFKA_HOSTS: start the broker with scripts/services.sh"))
struct KafkaPipelineTests {
    static let plugin = """
        export function processEvent(event) {
            event.properties.processed_by = 'kafka-plugin'
            return event
        }
        export function onEvent(event) {
            if (event.event === 'trigger') {
                console.info('trigger seen ' + event.properties.marker)
                posthog.capture('captured by plugin', { distinct_id: 'plugin-user', marker: event.properties.marker })
            }
        }
        """

    static func events(_ messages: [KafkaMessage]) -> [ClickHouseEvent] {
        messages.compactMap { try? ClickHouseMessages.decodeEvent($0.value) }
    }

    @Test("events, persons, distinct ids, snapshots, plugin logs, captures and dead letters reach their topics")
    func pipeline() async throws {
        var configId = 0
        let harness = try await KafkaServerHarness.start { database in
            configId = try PluginPipelineTests.installSourcePlugin(database, name: "kafka-plugin", source: Self.plugin).1
        }
        defer { Task { await harness.stop() } }
        let run = UInt32.random(in: 0...UInt32.max)
        let anonymous = "anon-\(run)", user = "user-\(run)", alias = "alias-\(run)", marker = "m\(run)"
        let topic = harness.topic

        // 1. Two persons, a plain event with elements, a trigger for the plugin, a snapshot, and two
        //    messages that can never be ingested.
        let pageview = UUIDT().uuidString, second = UUIDT().uuidString, trigger = UUIDT().uuidString, snapshot = UUIDT().uuidString
        try await TestBroker.produce([
            TestBroker.rawEvent(
                topic: topic, uuid: pageview, distinctId: anonymous,
                data: [
                    "event": "$pageview", "timestamp": "2021-05-11T10:00:00.000Z",
                    "properties": [
                        "$current_url": "https://example.com/a/b",
                        "$elements": [["tag_name": "a", "nth_child": 1, "nth_of_type": 2, "attr__class": "btn"]],
                    ],
                ]),
            TestBroker.rawEvent(topic: topic, uuid: second, distinctId: user, data: ["event": "$pageview", "properties": [:]]),
            TestBroker.rawEvent(
                topic: topic, uuid: trigger, distinctId: user, data: ["event": "trigger", "properties": ["marker": .string(marker)]]),
            TestBroker.rawEvent(
                topic: topic, uuid: snapshot, distinctId: user,
                data: [
                    "event": "$snapshot", "timestamp": "2021-05-11T10:00:05.000Z",
                    "properties": ["$session_id": "abcf-efg", "$snapshot_data": "yes way"],
                ]),
            KafkaOutgoingMessage(topic: topic, key: Array("bad".utf8), value: Array("not json".utf8)),
            TestBroker.rawEvent(topic: topic, uuid: "not-a-uuid", distinctId: user, data: ["event": "e", "uuid": "not-a-uuid"]),
        ])

        let events = try await KafkaTopicReader(topic: ClickHouseMessages.Topic.events)
        defer { Task { await events.close() } }
        try await events.read { messages in
            let uuids = Set(Self.events(messages).map(\.uuid))
            return [pageview, second, trigger].allSatisfy(uuids.contains)
                && Self.events(messages).contains { $0.event == "captured by plugin" && $0.properties.contains(marker) }
        }
        let decoded = Self.events(events.messages)
        let first = try #require(decoded.first { $0.uuid == pageview })
        #expect(first.event == "$pageview")
        #expect(first.teamID == 2)
        #expect(first.distinctID == anonymous)
        #expect(first.timestamp == "2021-05-11 10:00:00.000")
        #expect(first.createdAt == first.timestamp)
        #expect(first.elementsChain.hasPrefix("a.btn:"))
        #expect(!first.hasProtoCreatedAt && !first.hasProtoTimestamp)
        let properties = try JSON(parsing: Array(first.properties.utf8))
        #expect(properties["processed_by"] == "kafka-plugin")
        #expect(properties["$ip"] == "127.0.0.1")
        #expect(properties["$current_url"] == "https://example.com/a/b")
        #expect(properties["$elements"] == nil)
        #expect(first.properties.contains("https://example.com/a/b"))  // `/` not escaped
        #expect(try #require(decoded.first { $0.uuid == second }).elementsChain == "")
        let captured = try #require(decoded.first { $0.event == "captured by plugin" && $0.properties.contains(marker) })
        #expect(captured.distinctID == "plugin-user")
        let capturedProperties = try JSON(parsing: Array(captured.properties.utf8))
        #expect(capturedProperties["$lib"] == "posthog-plugin-server")
        #expect(capturedProperties["processed_by"] == "kafka-plugin")  // it went through processEvent too
        #expect(!decoded.contains { $0.uuid == snapshot })

        // The snapshot skips processEvent and goes to its own topic.
        let sessions = try await KafkaTopicReader(topic: ClickHouseMessages.Topic.sessionRecordingEvents)
        defer { Task { await sessions.close() } }
        try await sessions.read { $0.contains { KafkaTopicReader.json($0)?["uuid"] == .string(snapshot) } }
        let recording = try #require(sessions.messages.first { KafkaTopicReader.json($0)?["uuid"] == .string(snapshot) })
        #expect(recording.key == Array(snapshot.utf8))
        #expect(
            String(decoding: recording.value, as: UTF8.self)
                == #"{"uuid":"\#(snapshot)","team_id":2,"distinct_id":"\#(user)","session_id":"abcf-efg","snapshot_data":"\"yes way\"","timestamp":"2021-05-11 10:00:05.000","created_at":"2021-05-11 10:00:05.000"}"#
        )

        // The plugin's console line.
        let logs = try await KafkaTopicReader(topic: ClickHouseMessages.Topic.pluginLogEntries)
        defer { Task { await logs.close() } }
        try await logs.read { $0.contains { KafkaTopicReader.json($0)?["message"] == .string("trigger seen \(marker)") } }
        let entry = try #require(
            logs.messages.compactMap(KafkaTopicReader.json).first { $0["message"] == .string("trigger seen \(marker)") })
        #expect(entry["team_id"] == 2)
        #expect(entry["plugin_config_id"]?.intValue == configId)
        #expect(entry["source"] == "CONSOLE" && entry["type"] == "INFO")
        #expect(
            entry.objectValue?.keys == [
                "id", "team_id", "plugin_id", "plugin_config_id", "timestamp", "source", "type", "message", "instance_id",
            ])
        #expect(entry["timestamp"]?.stringValue?.wholeMatch(of: /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}/) != nil)

        // Dead letters, with their reasons.
        let deadLetters = try await KafkaTopicReader(topic: harness.deadLetterTopic)
        defer { Task { await deadLetters.close() } }
        try await deadLetters.read { $0.count >= 2 }
        let reasons = deadLetters.messages.map { String(decoding: $0.header("dead_letter_reason") ?? [], as: UTF8.self) }
        #expect(reasons.contains { $0.contains("not valid JSON") })
        #expect(reasons.contains { $0.contains(#"Not a valid UUID: "not-a-uuid""#) })
        #expect(deadLetters.messages.contains { $0.value == Array("not json".utf8) && $0.key == Array("bad".utf8) })
        #expect(deadLetters.messages.allSatisfy { $0.header("source_topic") == Array(topic.utf8) })

        // 2. Identify merges the anonymous person into the user's; an alias adds a distinct id.
        let uuidOf = """
            SELECT p.uuid::text AS uuid FROM posthog_person p JOIN posthog_persondistinctid d ON d.person_id = p.id
            WHERE d.distinct_id = '%@'
            """
        let anonymousUUID = try #require(
            try harness.database.rows(uuidOf.replacingOccurrences(of: "%@", with: anonymous)).first?["uuid"]?.stringValue)
        try await TestBroker.produce([
            TestBroker.rawEvent(
                topic: topic, distinctId: user, data: ["event": "$identify", "properties": ["$anon_distinct_id": .string(anonymous)]])
        ])
        let sharedPerson = """
            SELECT count(DISTINCT person_id) FROM posthog_persondistinctid WHERE distinct_id IN ('\(anonymous)', '\(user)')
            """
        let identifyDone = await eventually(timeout: .seconds(60)) { (try? harness.database.scalar(sharedPerson))??.intValue == 1 }
        #expect(identifyDone, "the merge did not happen: \(harness.logs)")
        try await TestBroker.produce([
            TestBroker.rawEvent(topic: topic, distinctId: user, data: ["event": "$create_alias", "properties": ["alias": .string(alias)]])
        ])
        let userUUID = try #require(
            try harness.database.rows(uuidOf.replacingOccurrences(of: "%@", with: user)).first?["uuid"]?.stringValue)
        #expect(anonymousUUID != userUUID)

        // Keyless messages are spread over the partitions: read until every expected row is in, and
        // compare without relying on an order across partitions.
        let uniqueIds = try await KafkaTopicReader(topic: ClickHouseMessages.Topic.personUniqueId)
        defer { Task { await uniqueIds.close() } }
        try await uniqueIds.read { messages in
            let rows = messages.compactMap(KafkaTopicReader.json)
            return rows.contains { $0["distinct_id"] == .string(alias) }
                && rows.contains { $0["distinct_id"] == .string(user) }
                && rows.filter { $0["distinct_id"] == .string(anonymous) }.count >= 2
        }
        let ours = uniqueIds.messages.compactMap(KafkaTopicReader.json).filter {
            [anonymous, user, alias].contains($0["distinct_id"]?.stringValue ?? "")
        }
        #expect(ours.allSatisfy { $0.objectValue?.keys == ["id", "distinct_id", "person_id", "team_id"] && $0["team_id"] == 2 })
        let anonymousRows = ours.filter { $0["distinct_id"] == .string(anonymous) }
        // Created with its own person, then moved to the user's; the row id is kept.
        #expect(Set(anonymousRows.compactMap { $0["person_id"]?.stringValue }) == [anonymousUUID, userUUID])
        #expect(Set(anonymousRows.compactMap { $0["id"]?.intValue }).count == 1)
        #expect(ours.first { $0["distinct_id"] == .string(user) }?["person_id"] == .string(userUUID))
        #expect(ours.first { $0["distinct_id"] == .string(alias) }?["person_id"] == .string(userUUID))

        let personTopic = try await KafkaTopicReader(topic: ClickHouseMessages.Topic.person)
        defer { Task { await personTopic.close() } }
        let creation = /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}/
        try await personTopic.read { messages in
            let rows = messages.compactMap(KafkaTopicReader.json)
            return rows.contains { $0["id"] == .string(userUUID) && $0["is_identified"] == true }
                && rows.contains { $0["id"] == .string(anonymousUUID) && $0["created_at"]?.stringValue?.wholeMatch(of: creation) != nil }
        }
        let personMessages = personTopic.messages.compactMap(KafkaTopicReader.json)
        let created = try #require(
            personMessages.first { $0["id"] == .string(anonymousUUID) && $0["created_at"]?.stringValue?.wholeMatch(of: creation) != nil })
        #expect(created.objectValue?.keys == ["created_at", "properties", "team_id", "is_identified", "id"])
        #expect(created["is_identified"] == false && created["properties"] == "{}")
        let updated = try #require(personMessages.last { $0["id"] == .string(userUUID) && $0["is_identified"] == true })
        #expect(updated["created_at"]?.stringValue?.wholeMatch(of: /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/) != nil)

        // The merged-away person is deleted in ClickHouse too, after the start-up `SELECT 1`.
        let deletionQueries = ClickHouseClient.deletePersonQueries(uuid: anonymousUUID)
        let deletions = await eventually(timeout: .seconds(30)) {
            let bodies = harness.clickHouse.received.map { String(decoding: $0.body, as: UTF8.self) }
            return deletionQueries.allSatisfy(bodies.contains)
        }
        #expect(deletions)
        let bodies = harness.clickHouse.received.map { String(decoding: $0.body, as: UTF8.self) }
        #expect(bodies.first == "SELECT 1")
        #expect(bodies.contains("ALTER TABLE person DELETE WHERE id = '\(anonymousUUID)'"))
        #expect(bodies.contains("ALTER TABLE person_distinct_id DELETE WHERE person_id = '\(anonymousUUID)'"))
        #expect(
            harness.clickHouse.received.allSatisfy {
                $0.method == "POST" && $0.path == "/" && $0.query == "database=posthog_test" && $0.headers["x-clickhouse-user"] == "default"
            })
    }

    @Test("an event a plugin makes too large for Kafka is dead-lettered with its reason; the events after it flow")
    func oversizedEvent() async throws {
        let harness = try await KafkaServerHarness.start { database in
            try PluginPipelineTests.installSourcePlugin(
                database, name: "inflating",
                source: "export function processEvent(e) { if (e.event === 'huge') e.properties.blob = 'x'.repeat(1100000); return e }")
        }
        defer { Task { await harness.stop() } }
        let user = "user-\(UInt32.random(in: 0...UInt32.max))"
        let huge = UUIDT().uuidString, after = UUIDT().uuidString
        try await TestBroker.produce([
            TestBroker.rawEvent(topic: harness.topic, uuid: huge, distinctId: user, data: ["event": "huge", "properties": [:]]),
            TestBroker.rawEvent(topic: harness.topic, uuid: after, distinctId: user, data: ["event": "after", "properties": [:]]),
        ])
        let events = try await KafkaTopicReader(topic: ClickHouseMessages.Topic.events)
        defer { Task { await events.close() } }
        try await events.read { Set(Self.events($0).map(\.uuid)).contains(after) }
        #expect(!Self.events(events.messages).contains { $0.uuid == huge })

        let deadLetters = try await KafkaTopicReader(topic: harness.deadLetterTopic)
        defer { Task { await deadLetters.close() } }
        try await deadLetters.read { $0.count >= 1 }
        let letter = try #require(deadLetters.messages.first)
        let reason = String(decoding: letter.header("dead_letter_reason") ?? [], as: UTF8.self)
        #expect(reason.contains("event too large for Kafka"), "\(reason)")
        #expect(reason.contains("the limit is 1000000"), "\(reason)")
        // The message as it was consumed, before the plugin inflated it.
        #expect(KafkaTopicReader.json(letter)?["uuid"] == .string(huge))
    }

    @Test("a consumed message too large to produce again is dead-lettered without its value, which stays at its offset")
    func oversizedDeadLetter() async throws {
        let harness = try await KafkaServerHarness.start()
        defer { Task { await harness.stop() } }
        let after = UUIDT().uuidString
        // Not JSON, and over the server producer's limit: sent by a producer allowing more, as a
        // broker configured for larger messages takes them.
        let huge = KafkaOutgoingMessage(
            topic: harness.topic, key: Array("huge".utf8), value: Array(repeating: UInt8(ascii: "x"), count: 1_200_000))
        try await TestBroker.produce([huge], properties: ["message.max.bytes": "2000000"])
        try await TestBroker.produce([
            TestBroker.rawEvent(topic: harness.topic, uuid: after, distinctId: "user-after", data: ["event": "after", "properties": [:]])
        ])
        let events = try await KafkaTopicReader(topic: ClickHouseMessages.Topic.events)
        defer { Task { await events.close() } }
        try await events.read { Set(Self.events($0).map(\.uuid)).contains(after) }

        let deadLetters = try await KafkaTopicReader(topic: harness.deadLetterTopic)
        defer { Task { await deadLetters.close() } }
        try await deadLetters.read { $0.count >= 1 }
        let letter = try #require(deadLetters.messages.first)
        #expect(letter.key == Array("huge".utf8))
        #expect(letter.value.isEmpty)
        #expect(String(decoding: letter.header("dead_letter_reason") ?? [], as: UTF8.self).contains("not valid JSON"))
        let omitted = String(decoding: letter.header("value_omitted") ?? [], as: UTF8.self)
        #expect(omitted.hasPrefix("1200000 bytes, over the 1000000-byte message limit"), "\(omitted)")
        #expect(letter.header("source_offset") != nil && letter.header("source_topic") == Array(harness.topic.utf8))
    }

    /// About 10 ms of plugin work per event: on one worker, a few hundred events take seconds.
    static let slowPlugin = """
        export function processEvent(event) {
            const until = Date.now() + 10
            while (Date.now() < until) {}
            event.properties.processed_by = 'kafka-plugin'
            return event
        }
        """

    @Test("kill -9 mid-stream and a restart lose no event (duplicates allowed, counted)")
    func crashAndRestart() async throws {
        // The 400 events take seconds, so the kill lands mid-stream however fast the machine is.
        let harness = try await KafkaServerHarness.start(environment: ["WORKER_CONCURRENCY": "1", "TASKS_PER_WORKER": "10"]) { database in
            try PluginPipelineTests.installSourcePlugin(database, name: "kafka-plugin", source: Self.slowPlugin)
        }
        defer { Task { await harness.stop() } }
        let count = 400
        let uuids = (0..<count).map { _ in UUIDT().uuidString }
        try await TestBroker.produce(
            uuids.enumerated().map { index, uuid in
                TestBroker.rawEvent(
                    topic: harness.topic, uuid: uuid, distinctId: "crash-\(index % 20)", data: ["event": "crash test", "properties": [:]])
            })
        let wanted = Set(uuids)
        let reader = try await KafkaTopicReader(topic: ClickHouseMessages.Topic.events)
        defer { Task { await reader.close() } }
        try await reader.read(timeout: .seconds(120)) { messages in Self.events(messages).filter { wanted.contains($0.uuid) }.count >= 40 }
        let beforeCrash = Set(Self.events(reader.messages).map(\.uuid)).intersection(wanted).count
        await harness.servers[0].kill9()
        #expect(beforeCrash < count, "the first server finished before it could be killed")

        try harness.startServer()
        try await reader.read(timeout: .seconds(180)) { messages in
            Set(Self.events(messages).map(\.uuid)).intersection(wanted).count == count
        }
        let ours = Self.events(reader.messages).filter { wanted.contains($0.uuid) }
        let duplicates = ours.count - Set(ours.map(\.uuid)).count
        print("kill -9 after \(beforeCrash) of \(count) events: all \(count) delivered, \(duplicates) duplicates")
        #expect(Set(ours.map(\.uuid)) == wanted)
        #expect(ours.allSatisfy { $0.properties.contains("kafka-plugin") })
    }

    @Test("SIGTERM mid-stream commits every batch processed, waiting or not: the restart delivers the rest, none twice")
    func gracefulStopCommitsTheWindow() async throws {
        // Batches of 10, so the stop lands mid-stream with batches waiting for their commit.
        let harness = try await KafkaServerHarness.start(
            partitions: 1, environment: ["WORKER_CONCURRENCY": "1", "TASKS_PER_WORKER": "10"]
        ) { database in
            try PluginPipelineTests.installSourcePlugin(database, name: "kafka-plugin", source: Self.slowPlugin)
        }
        defer { Task { await harness.stop() } }
        let count = 300
        let uuids = (0..<count).map { _ in UUIDT().uuidString }
        try await TestBroker.produce(
            uuids.map { uuid in
                TestBroker.rawEvent(topic: harness.topic, uuid: uuid, distinctId: "stop-\(uuid.suffix(1))", data: ["event": "stop test"])
            })
        let wanted = Set(uuids)
        let reader = try await KafkaTopicReader(topic: ClickHouseMessages.Topic.events)
        defer { Task { await reader.close() } }
        try await reader.read(timeout: .seconds(120)) { messages in Self.events(messages).filter { wanted.contains($0.uuid) }.count >= 30 }
        #expect(await harness.servers[0].terminate() == 0, "\(harness.logs)")
        let beforeStop = Self.events(reader.messages).filter { wanted.contains($0.uuid) }.count
        #expect(beforeStop < count, "the first server finished before it was stopped")

        try harness.startServer()
        try await reader.read(timeout: .seconds(180)) { messages in
            Set(Self.events(messages).map(\.uuid)).intersection(wanted).count == count
        }
        let ours = Self.events(reader.messages).filter { wanted.contains($0.uuid) }
        #expect(Set(ours.map(\.uuid)) == wanted)
        #expect(ours.count == count, "\(ours.count - Set(ours.map(\.uuid)).count) events processed twice after a graceful stop")
    }

    @Test("A stop while Postgres is down: the batch in process is left uncommitted after the grace, exit 0, the restart delivers it")
    func stopWhilePostgresDown() async throws {
        let postgres = try PrivatePostgres()
        defer { postgres.destroy() }
        // The stop's grace is TASK_TIMEOUT and 5 s: 10 s here.
        let harness = try await KafkaServerHarness.start(
            partitions: 1, environment: ["TASK_TIMEOUT": "5", "LOG_LEVEL": "info"], postgresAdminURL: postgres.adminURL)
        defer { Task { await harness.stop() } }
        // New distinct ids each: every event needs Postgres for its person.
        let uuids = (0..<100).map { _ in UUIDT().uuidString }
        let messages = uuids.map { uuid in
            TestBroker.rawEvent(topic: harness.topic, uuid: uuid, distinctId: "down-\(uuid)", data: ["event": "stop while down"])
        }
        try await TestBroker.produce(Array(messages[..<50]))
        let reader = try await KafkaTopicReader(topic: ClickHouseMessages.Topic.events)
        defer { Task { await reader.close() } }
        let first = Set(uuids[..<50])
        try await reader.read(timeout: .seconds(120)) { messages in Set(Self.events(messages).map(\.uuid)).isSuperset(of: first) }

        try postgres.stop()
        try await TestBroker.produce(Array(messages[50...]))
        try await Task.sleep(for: .seconds(3))
        // Each event now waits for a Postgres connection, a minute a try: the stop cuts that short.
        let server = harness.servers[0]
        let stopping = ContinuousClock.now
        let status = await server.terminate()
        print("stop with Postgres down: exit after \(ContinuousClock.now - stopping)")
        #expect(status == 0, "exit status \(status.map(String.init) ?? "none: still running after 30 s"); log:\n\(server.log)")
        #expect(server.log.contains("left for redelivery"), "\(server.log)")

        try postgres.start()
        try harness.startServer()
        try await reader.read(timeout: .seconds(120)) { messages in Set(Self.events(messages).map(\.uuid)).isSuperset(of: Set(uuids)) }
        #expect(Set(Self.events(reader.messages).map(\.uuid)).isSuperset(of: Set(uuids)), "\(harness.logs)")
    }

    @Test("ClickHouse over HTTPS (CLICKHOUSE_SECURE): the certificate checked against NODE_EXTRA_CA_CERTS, or CLICKHOUSE_CA alone")
    func clickHouseOverHTTPS() async throws {
        let endpoint = try HTTPSEndpoint()
        defer { endpoint.stop() }
        let harness = try await KafkaServerHarness.start(
            environment: [
                "CLICKHOUSE_SECURE": "true", "CLICKHOUSE_HOST": "localhost:\(endpoint.port)", "NODE_EXTRA_CA_CERTS": "",
                "LOG_LEVEL": "info",
            ],
            startServer: false)
        defer { Task { await harness.stop() } }
        let authority = PrivateRedis.testAuthority
        let unreachable = "ClickHouse is not reachable"

        // The start-up `SELECT 1` runs before consumption starts.
        func started(_ environment: [String: String]) async throws -> String {
            let server = try harness.startServer(environment: environment)
            #expect(await eventually { server.log.contains("Consuming Kafka topic") }, "\(server.log)")
            #expect(await server.terminate() == 0, "\(server.log)")
            return server.log
        }
        let untrusting = try await started([:])
        #expect(untrusting.contains(unreachable) && untrusting.uppercased().contains("CERTIFICATE"), "\(untrusting)")
        let trusting = try await started(["NODE_EXTRA_CA_CERTS": authority])
        #expect(!trusting.contains(unreachable), "\(trusting)")
        let givenCA = try await started(["CLICKHOUSE_CA": authority])
        #expect(!givenCA.contains(unreachable), "\(givenCA)")
    }

    /// A `wait` event holds its slot until the `signal` event of the same run was processed (about 20 s
    /// at most); every other event passes at once.
    static let waitingPlugin = """
        export async function processEvent(event, { cache }) {
            const key = 'signal-' + event.properties.run
            if (event.event === 'signal') await cache.set(key, 'yes')
            if (event.event === 'wait') {
                const until = Date.now() + 20000
                event.properties.signalled = false
                while (Date.now() < until) {
                    if (await cache.get(key)) {
                        event.properties.signalled = true
                        break
                    }
                }
            }
            return event
        }
        """

    @Test("an event still in process does not hold up the next batch: the slots the rest of its batch left take the next one")
    func nextBatchOverlapsItsStraggler() async throws {
        // Batches of 2 on 2 slots: `wait` and `signal` are never in one batch (`filler` is between them),
        // and `wait` finishes only once `signal`, of a later batch, was processed.
        let harness = try await KafkaServerHarness.start(
            partitions: 1, environment: ["WORKER_CONCURRENCY": "1", "TASKS_PER_WORKER": "2"], startServer: false
        ) { database in
            try PluginPipelineTests.installSourcePlugin(database, name: "waiting-plugin", source: Self.waitingPlugin)
        }
        defer { Task { await harness.stop() } }
        let run = "\(UInt32.random(in: 0...UInt32.max))"
        let uuids = ["wait", "filler", "signal"].map { (name: $0, uuid: UUIDT().uuidString) }
        // Queued before the server starts, so its first fetch holds all three.
        try await TestBroker.produce(
            uuids.map { event in
                TestBroker.rawEvent(
                    topic: harness.topic, uuid: event.uuid, distinctId: "overlap-\(run)",
                    data: ["event": .string(event.name), "properties": ["run": .string(run)]])
            })
        let reader = try await KafkaTopicReader(topic: ClickHouseMessages.Topic.events)
        defer { Task { await reader.close() } }
        try harness.startServer()
        let wanted = Set(uuids.map(\.uuid))
        try await reader.read(timeout: .seconds(120)) { Set(Self.events($0).map(\.uuid)).intersection(wanted).count == wanted.count }
        let waited = try #require(Self.events(reader.messages).first { $0.uuid == uuids[0].uuid })
        let properties = try JSON(parsing: Array(waited.properties.utf8))
        #expect(properties["signalled"] == true, "the batch after the waiting event's was not processed while it waited: \(properties)")
        #expect(properties["$plugins_succeeded"]?.arrayValue?.count == 1, "\(properties)")
    }

    @Test("two instances in one group share the partitions of a two-partition topic")
    func twoInstances() async throws {
        let harness = try await KafkaServerHarness.start(partitions: 2, environment: ["LOG_LEVEL": "info"], startServer: false)
        defer { Task { await harness.stop() } }
        // One after the other: two servers preparing one fresh database at once race on its tables.
        let first = try harness.startServer()
        let firstConsuming = await eventually(timeout: .seconds(60)) { first.log.contains("Consuming Kafka topic") }
        #expect(firstConsuming, "\(first.log)")
        let second = try harness.startServer()
        func lastAssignment(_ server: ServerProcess) -> String? {
            server.log.split(separator: "\n").last { $0.contains("Kafka partitions assigned") }.map(String.init)
        }
        /// How many partitions of the topic an assignment line lists.
        func partitions(_ line: String?) -> Int { (line?.components(separatedBy: harness.topic + "[").count ?? 1) - 1 }
        let shared = await eventually(timeout: .seconds(120), every: .milliseconds(250)) {
            partitions(lastAssignment(first)) == 1 && partitions(lastAssignment(second)) == 1
        }
        #expect(shared, "assignments: \(lastAssignment(first) ?? "none") / \(lastAssignment(second) ?? "none")")

        let uuids = (0..<100).map { _ in UUIDT().uuidString }
        try await TestBroker.produce(
            uuids.map { uuid in
                var message = TestBroker.rawEvent(
                    topic: harness.topic, uuid: uuid, distinctId: uuid, data: ["event": "shared", "properties": [:]])
                message.key = Array(uuid.utf8)
                return message
            })
        let wanted = Set(uuids)
        let reader = try await KafkaTopicReader(topic: ClickHouseMessages.Topic.events)
        defer { Task { await reader.close() } }
        try await reader.read(timeout: .seconds(120)) { Set(Self.events($0).map(\.uuid)).intersection(wanted).count == wanted.count }
        let firstPartition = lastAssignment(first) ?? ""
        let secondPartition = lastAssignment(second) ?? ""
        #expect(firstPartition != secondPartition)
    }
}
