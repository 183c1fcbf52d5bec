import Foundation
import PostHogEvents
import RedisClient
import Testing

/// The 1.x API of plugin-runtime.md §13 that needs the real services: the UI-triggered `plugin_job`
/// Celery task, the historical export, `posthog.api` against SITE_URL, and `pg`.
@Suite(.serialized) struct LaterPluginAPIServerTests {
    static func pluginJob(teamId: Int = 2, configId: Int, type: String, payload: JSON) -> [UInt8] {
        CeleryMessages.envelope(
            task: CeleryEnvelope.pluginJobTask,
            args: [.number(Double(teamId)), .number(Double(configId)), .string(type), "start", payload])
    }

    @Test("a plugin_job Celery task enqueues the named job, which runs with its payload")
    func pluginJobTask() async throws {
        var configId = 0
        let harness = try await IngestionHarness.start { database in
            configId = try PluginPipelineTests.installSourcePlugin(
                database, name: "public-jobs",
                source: """
                    export const jobs = {
                        'Say hello': async (payload, { storage }) => { await storage.set('hello', payload) },
                    }
                    """
            ).1
        }
        defer { Task { await harness.stop() } }
        try await harness.push([Self.pluginJob(configId: configId, type: "Say hello", payload: ["name": "Ada"])])
        let stored = {
            try harness.database.scalar("SELECT value FROM posthog_pluginstorage WHERE plugin_config_id = \(configId) AND key = 'hello'")
        }
        #expect(await eventually { (try? stored()) == "{\"name\":\"Ada\"}" }, "\(harness.server.log)")
        #expect(try await harness.deadLetterReasons().isEmpty)
    }

    @Test("Export historical events pages through the team's stored events into exportEvents")
    func historicalExport() async throws {
        let receiver = try await LoopbackHTTPServer.start()
        defer { receiver.stop() }
        var configId = 0
        let harness = try await IngestionHarness.start { database in
            // PostHog's migration 0166 adds the column; the 0.20 schema the tests start from has none.
            try database.execute("ALTER TABLE posthog_plugin ADD COLUMN public_jobs jsonb")
            for (n, minutes) in [(1, 0), (2, 3), (3, 14), (4, 31)] {
                try database.execute(
                    """
                    INSERT INTO posthog_event (event, properties, elements, "timestamp", team_id, distinct_id, elements_hash, created_at)
                    VALUES ('old', '{"n": \(n)}', '[]', '2021-09-01T10:00:00Z'::timestamptz + interval '\(minutes) minutes', 2, 'u', '', now())
                    """)
            }
            configId = try PluginPipelineTests.installSourcePlugin(
                database, name: "historical", config: ["url": .string("http://127.0.0.1:\(receiver.port)/history")],
                source: """
                    export async function exportEvents(events, { config }) {
                        await fetch(config.url, { method: 'POST', body: JSON.stringify(events.map((e) => [e.properties.n, e.event, e.timestamp])) })
                    }
                    """
            ).1
        }
        defer { Task { await harness.stop() } }
        let publicJobs = { try harness.database.scalar("SELECT public_jobs FROM posthog_plugin") }
        #expect(await eventually { (try? publicJobs()) == ["Export historical events": ["payload": [:]]] }, "\(harness.server.log)")
        try await harness.push([Self.pluginJob(configId: configId, type: "Export historical events", payload: [:])])
        func exported() -> [JSON] {
            receiver.received.filter { $0.path == "/history" }.flatMap { (try? JSON(parsing: $0.body))?.arrayValue ?? [] }
        }
        #expect(await eventually(timeout: .seconds(30)) { exported().count >= 4 }, "\(harness.server.log)")
        #expect(exported().compactMap { $0.arrayValue?.first?.intValue } == [1, 2, 3, 4])
        #expect(exported().first == [1, "old", "2021-09-01T10:00:00.000Z"])
        let running = {
            try harness.database.scalar(
                "SELECT value FROM posthog_pluginstorage WHERE plugin_config_id = \(configId) AND key = 'is_export_running'")
        }
        #expect(await eventually { (try? running()) == "false" })
    }

    @Test("posthog.api reaches SITE_URL with the project token and the personal key as a bearer token")
    func posthogAPI() async throws {
        let receiver = try await LoopbackHTTPServer.start()
        defer { receiver.stop() }
        let harness = try await IngestionHarness.start(environment: ["SITE_URL": "http://127.0.0.1:\(receiver.port)"]) { database in
            try PluginPipelineTests.installSourcePlugin(
                database, name: "api-user",
                source: """
                    export async function processEvent(event) {
                        const keys = { projectApiKey: 'phc_test', personalApiKey: 'phx_secret' }
                        const response = await posthog.api.post('/api/projects/@current/annotations', { ...keys, data: { content: event.event } })
                        event.properties.apiStatus = response.status
                        return event
                    }
                    """)
        }
        defer { Task { await harness.stop() } }
        try await harness.send(PluginPipelineTests.event("annotate me"))
        let request = try #require(receiver.received.first)
        #expect(request.method == "POST")
        #expect(request.path == "/api/projects/@current/annotations")
        #expect(request.query == "token=phc_test")
        #expect(request.headers["authorization"] == "Bearer phx_secret")
        #expect(try JSON(parsing: request.body) == ["content": "annotate me"])
        #expect(try harness.events().first?["properties"]?["apiStatus"] == 200)
    }

    /// posthog_personalapikey as PostHog's migrations of 2021 left it (the 0.20 schema the tests start
    /// from leaves it out).
    static let personalAPIKeyTable = """
        CREATE TABLE posthog_personalapikey (
            id varchar(50) PRIMARY KEY, label varchar(40) NOT NULL, value varchar(50) UNIQUE, created_at timestamptz NOT NULL,
            last_used_at timestamptz, team_id integer REFERENCES posthog_team (id), user_id integer NOT NULL REFERENCES posthog_user (id))
        """

    static let apiWithoutKeys = """
        export async function processEvent(event) {
            event.properties.apiStatus = (await posthog.api.get('/api/projects/@current/event_definitions')).status
            return event
        }
        """

    /// A server whose SITE_URL is `receiver`, on a database with PostHog's personal API key table, running
    /// one plugin; `prepare` adds rows first.
    static func startWithKeyTable(
        _ receiver: LoopbackHTTPServer, source: String = apiWithoutKeys, prepare: (TestDatabase) throws -> Void = { _ in }
    ) async throws -> IngestionHarness {
        try await IngestionHarness.start(environment: ["SITE_URL": "http://127.0.0.1:\(receiver.port)"]) { database in
            try database.execute(Self.personalAPIKeyTable)
            try prepare(database)
            try PluginPipelineTests.installSourcePlugin(database, name: "api-user", source: source)
        }
    }

    @Test("posthog.api without keys makes PostHog's plugins bot user and its personal key once, and sends them with the team's token")
    func posthogAPIMakesBotKey() async throws {
        let receiver = try await LoopbackHTTPServer.start()
        defer { receiver.stop() }
        let harness = try await Self.startWithKeyTable(receiver) { database in
            // A column PostHog added to posthog_user in 2021, NOT NULL with its default in Django only.
            try database.execute("ALTER TABLE posthog_user ADD COLUMN events_column_config jsonb")
            try database.execute("UPDATE posthog_user SET events_column_config = '{}'")
            try database.execute("ALTER TABLE posthog_user ALTER COLUMN events_column_config SET NOT NULL")
        }
        defer { Task { await harness.stop() } }
        try await harness.send(PluginPipelineTests.event("first"))
        try await harness.send(PluginPipelineTests.event("second"))
        #expect(await eventually { receiver.received.count == 2 }, "\(harness.server.log)")
        let bot = try #require(
            try harness.database.rows(
                "SELECT id, first_name, password LIKE '!%' AS unusable, events_column_config FROM posthog_user WHERE email = '$plugins_personal_api_key'"
            ).first)
        #expect(bot["first_name"] == "Plugins API User [Bot]")
        #expect(bot["unusable"] == true)
        #expect(bot["events_column_config"] == ["active": "DEFAULT"])
        let botId = try #require(bot["id"]?.numberValue)
        #expect(
            try harness.database.rows(
                "SELECT level FROM posthog_organizationmembership WHERE user_id = \(Int(botId)) AND organization_id = 'ca30f2ec-e9a4-4001-bf27-3ef194086068'"
            ) == [["level": 1]])
        let keys = try harness.database.rows("SELECT label, value FROM posthog_personalapikey WHERE user_id = \(Int(botId))")
        #expect(keys.count == 1)
        let key = try #require(keys.first?["value"]?.stringValue)
        #expect(keys.first?["label"] == "autogen")
        #expect(key.hasPrefix("phx_") && key.count == 36)
        for request in receiver.received {
            #expect(request.method == "GET")
            #expect(request.path == "/api/projects/@current/event_definitions")
            #expect(request.query == "token=THIS+IS+NOT+A+TOKEN+FOR+TEAM+2")
            #expect(request.headers["authorization"] == "Bearer \(key)")
        }
        #expect(try harness.events().map { $0["properties"]?["apiStatus"] } == [200, 200])
    }

    @Test("calls made together at first use make one bot user and one key")
    func posthogAPIConcurrentFirstUse() async throws {
        let receiver = try await LoopbackHTTPServer.start()
        defer { receiver.stop() }
        let harness = try await Self.startWithKeyTable(
            receiver,
            source: """
                export async function processEvent(event) {
                    const responses = await Promise.all([1, 2, 3, 4, 5].map((n) => posthog.api.get('/api/projects/@current/persons/' + n)))
                    event.properties.statuses = responses.map((r) => r.status)
                    return event
                }
                """)
        defer { Task { await harness.stop() } }
        try await harness.send(PluginPipelineTests.event("together"))
        #expect(try harness.events().first?["properties"]?["statuses"] == [200, 200, 200, 200, 200], "\(harness.server.log)")
        #expect(try harness.database.count("posthog_user", where: "email = '$plugins_personal_api_key'") == 1)
        #expect(try harness.database.count("posthog_personalapikey") == 1)
        let key = try #require(try harness.database.scalar("SELECT value FROM posthog_personalapikey")?.stringValue)
        #expect(receiver.received.count == 5)
        #expect(receiver.received.allSatisfy { $0.headers["authorization"] == "Bearer \(key)" })
    }

    @Test("the plugins' personal key never passes through plugin code, and goes to SITE_URL only")
    func posthogAPIKeyStaysInHost() async throws {
        let receiver = try await LoopbackHTTPServer.start()
        defer { receiver.stop() }
        let harness = try await Self.startWithKeyTable(
            receiver,
            source: """
                const seen = []
                // Setters on Object.prototype see every plain assignment of these names, in any code of this context.
                for (const name of ['personalApiKey', 'Authorization', 'authorization', 'headers']) {
                    Object.defineProperty(Object.prototype, name, { configurable: true, set(value) {
                        seen.push(typeof value === 'string' ? value : JSON.stringify(value))
                        Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true })
                    } })
                }
                // And builtins the context's code shares can be replaced.
                const set = Map.prototype.set
                Map.prototype.set = function (key, value) { seen.push(String(value)); return set.call(this, key, value) }
                const concat = String.prototype.concat
                String.prototype.concat = function (...parts) { seen.push(parts.join('')); return concat.apply(this, parts) }
                export async function processEvent(event) {
                    event.properties.apiStatus = (await posthog.api.get('/api/projects/@current/event_definitions', { data: { limit: 5 } })).status
                    try { await posthog.api.get('/api/projects/@current', { host: 'http://127.0.0.1:9' }) } catch (e) { event.properties.otherHost = e.message }
                    event.properties.seen = seen
                    return event
                }
                """)
        defer { Task { await harness.stop() } }
        try await harness.send(PluginPipelineTests.event("watch"))
        let key = try #require(try harness.database.scalar("SELECT value FROM posthog_personalapikey")?.stringValue)
        let request = try #require(receiver.received.first, "\(harness.server.log)")
        #expect(request.headers["authorization"] == "Bearer \(key)")
        #expect(request.query == "limit=5&token=THIS+IS+NOT+A+TOKEN+FOR+TEAM+2")
        #expect(receiver.received.count == 1)
        let properties = try #require(try harness.events().first?["properties"])
        #expect(properties["apiStatus"] == 200)
        #expect(
            properties["otherHost"]?.stringValue?.hasPrefix("posthog.api sends this server's own keys only to its SITE_URL") == true,
            "\(properties)")
        let seen = properties["seen"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(!seen.contains { $0.contains(key) }, "\(seen)")
    }

    @Test("posthog.api without keys uses the bot user and key the original left, and makes the bot a member of the team's organization")
    func posthogAPIReusesOriginalBotKey() async throws {
        let receiver = try await LoopbackHTTPServer.start()
        defer { receiver.stop() }
        let harness = try await Self.startWithKeyTable(receiver) { database in
            try database.execute(
                """
                INSERT INTO posthog_user (id, uuid, password, first_name, last_name, email, distinct_id, is_staff, is_active, date_joined)
                VALUES (2001, '0177364a-fc7b-0000-511c-137090b9e4e2', 'x', 'Plugins API User [Bot]', '', '$plugins_personal_api_key',
                    'bot-distinct-id', false, true, now())
                """)
            try database.execute(
                "INSERT INTO posthog_personalapikey (id, label, value, created_at, user_id) VALUES ('k1', 'autogen', 'phx_from_the_original', now(), 2001)"
            )
        }
        defer { Task { await harness.stop() } }
        try await harness.send(PluginPipelineTests.event("look up"))
        let request = try #require(receiver.received.first, "\(harness.server.log)")
        #expect(request.headers["authorization"] == "Bearer phx_from_the_original")
        #expect(try harness.database.count("posthog_personalapikey") == 1)
        #expect(try harness.database.count("posthog_user", where: "email = '$plugins_personal_api_key'") == 1)
        #expect(try harness.database.count("posthog_organizationmembership", where: "user_id = 2001 AND level = 1") == 1)
    }

    @Test("posthog.api without keys, where the database has no posthog_personalapikey table, fails with a message asking for keys")
    func posthogAPIWithoutKeyTable() async throws {
        let harness = try await IngestionHarness.start { database in
            try PluginPipelineTests.installSourcePlugin(
                database, name: "api-without-keys",
                source: """
                    export async function processEvent(event) {
                        try { await posthog.api.get('/api/projects/@current/event_definitions') } catch (e) { event.properties.apiError = e.message }
                        return event
                    }
                    """)
        }
        defer { Task { await harness.stop() } }
        try await harness.send(PluginPipelineTests.event("look up"))
        let message = try harness.events().first?["properties"]?["apiError"]?.stringValue ?? ""
        #expect(message.contains("posthog_personalapikey") && message.hasSuffix("pass projectApiKey and personalApiKey"), "\(message)")
    }

    @Test("a plugin importing a cloud SDK fails to load: the error names the library on the config and in its log")
    func cloudSDKRefused() async throws {
        var configId = 0
        let harness = try await IngestionHarness.start { database in
            configId = try PluginPipelineTests.installSourcePlugin(
                database, name: "snowflake-export",
                source: """
                    import { createConnection } from 'snowflake-sdk'
                    export async function exportEvents(events) { createConnection({}).connect() }
                    """
            ).1
        }
        defer { Task { await harness.stop() } }
        let error = { try harness.database.scalar("SELECT error FROM posthog_pluginconfig WHERE id = \(configId)") }
        #expect(await eventually { (try? error())?["message"] != nil }, "\(harness.server.log)")
        let message = try error()?["message"]?.stringValue ?? ""
        #expect(
            message.hasPrefix("Cannot import 'snowflake-sdk'! snowflake-sdk is not available in this plugin server: "),
            "\(message)")
        #expect(
            await eventually {
                (try? harness.database.count(
                    "posthog_pluginlogentry",
                    where: "plugin_config_id = \(configId) AND source = 'SYSTEM' AND message LIKE 'Plugin failed to load%'"))
                    ?? 0 >= 1
            })
    }

    @Test("aws-sdk S3: upload and putObject reach the endpoint signed as botocore signs them; an error reaches the callback")
    func s3Uploads() async throws {
        let s3 = try await LoopbackHTTPServer.start()
        defer { s3.stop() }
        s3.failNext(1, path: "/exports/denied.txt")
        let harness = try await IngestionHarness.start { database in
            try PluginPipelineTests.installSourcePlugin(
                database, name: "s3-export", config: ["endpoint": .string("http://127.0.0.1:\(s3.port)")],
                source: """
                    import { S3 } from 'aws-sdk'
                    import { gzipSync } from 'zlib'
                    import { PassThrough } from 'stream'
                    export function setupPlugin({ global, config }) {
                        global.s3 = new S3({ \(Self.awsOptions), endpoint: config.endpoint, signatureVersion: 'v4' })
                    }
                    export async function processEvent(event, { global }) {
                        const body = gzipSync(Buffer.from(JSON.stringify(event)))
                        const uploaded = await global.s3.upload({ Bucket: 'exports', Key: 'day 1/events+$.jsonl.gz', Body: body,
                            ContentType: 'application/gzip', Metadata: { Batch: '7' } }).promise()
                        event.properties.location = uploaded.Location
                        const stream = new PassThrough()
                        stream.end('streamed body')
                        await global.s3.upload({ Bucket: 'exports', Key: 'streamed.txt', Body: stream }).promise()
                        event.properties.failure = await new Promise((resolve) => global.s3.putObject(
                            { Bucket: 'exports', Key: 'denied.txt', Body: 'x' }, (error) => resolve(error && [error.statusCode, error.retryable])))
                        return event
                    }
                    """)
        }
        defer { Task { await harness.stop() } }
        try await harness.send(PluginPipelineTests.event("exported", properties: ["n": 1]))
        let properties = try harness.events().first?["properties"]
        #expect(
            properties?["location"] == .string("http://127.0.0.1:\(s3.port)/exports/day%201/events%2B%24.jsonl.gz"), "\(harness.server.log)"
        )
        #expect(properties?["failure"] == [500, true])

        let puts = s3.received.filter { $0.method == "PUT" }
        #expect(puts.map(\.path) == ["/exports/day%201/events%2B%24.jsonl.gz", "/exports/streamed.txt", "/exports/denied.txt"])
        #expect(puts.map { String(decoding: $0.body, as: UTF8.self) }[1] == "streamed body")
        let upload = try #require(puts.first)
        #expect(upload.headers["content-type"] == "application/gzip" && upload.headers["x-amz-meta-batch"] == "7")
        let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02x", $0) }.joined() }
        let unzipped = try runCommand(
            "python3",
            ["-c", "import gzip, json, sys; print(json.loads(gzip.decompress(bytes.fromhex(sys.argv[1])))['event'])", hex(upload.body)])
        #expect(unzipped.trimmingCharacters(in: .whitespacesAndNewlines) == "exported")
        // botocore (the AWS SDK for Python) signs each request as received; its Authorization must be ours.
        #expect(try Self.botocoreVerdicts(puts, port: s3.port) == ["match", "match", "match"])
    }

    @Test("aws-sdk Kinesis and Firehose over AWS's JSON protocol: records out and in, errors by type, signed as botocore signs them")
    func kinesisCalls() async throws {
        let kinesis = try await LoopbackHTTPServer.start()
        defer { kinesis.stop() }
        kinesis.answer("Kinesis_20131202.PutRecord", body: #"{"ShardId":"shardId-0","SequenceNumber":"7"}"#)
        kinesis.answer(
            "Kinesis_20131202.GetRecords",
            body:
                #"{"Records":[{"Data":"eyJldmVudCI6Imtpbm9kZSJ9","ApproximateArrivalTimestamp":1700000000.5,"SequenceNumber":"8"}],"NextShardIterator":"next"}"#
        )
        kinesis.answer(
            "Firehose_20150804.PutRecordBatch", body: #"{"FailedPutCount":0,"RequestResponses":[{"RecordId":"r1"},{"RecordId":"r2"}]}"#)
        kinesis.answer(
            "Kinesis_20131202.GetShardIterator", status: 400,
            body: #"{"__type":"com.amazonaws.kinesis#ExpiredIteratorException","message":"Iterator expired"}"#)
        let harness = try await IngestionHarness.start { database in
            try PluginPipelineTests.installSourcePlugin(
                database, name: "kinesis", config: ["endpoint": .string("http://127.0.0.1:\(kinesis.port)")],
                source: """
                    import { Kinesis, Firehose } from 'aws-sdk'
                    export function setupPlugin({ global, config }) {
                        const options = { \(Self.awsOptions), endpoint: config.endpoint }
                        global.kinesis = new Kinesis(options)
                        global.firehose = new Firehose(options)
                    }
                    export async function processEvent(event, { global }) {
                        const put = await global.kinesis.putRecord({ StreamName: 'events', PartitionKey: event.distinct_id,
                            Data: JSON.stringify({ n: event.properties.n }) }).promise()
                        event.properties.sequence = put.SequenceNumber
                        const records = await new Promise((resolve, reject) => global.kinesis.getRecords({ ShardIterator: 'it' },
                            (error, data) => (error ? reject(error) : resolve(data))))
                        event.properties.record = Buffer.from(records.Records[0].Data).toString()
                        event.properties.arrived = records.Records[0].ApproximateArrivalTimestamp.toISOString()
                        event.properties.expired = await global.kinesis.getShardIterator({ StreamName: 'events', ShardId: 'shardId-0',
                            ShardIteratorType: 'LATEST' }).promise().catch((error) => [error.name, error.message, error.statusCode])
                        const delivered = await global.firehose.putRecordBatch({ DeliveryStreamName: 'to-s3',
                            Records: [{ Data: Buffer.from('one') }, { Data: 'two' }] }).promise()
                        event.properties.delivered = delivered.RequestResponses.map((r) => r.RecordId)
                        return event
                    }
                    """)
        }
        defer { Task { await harness.stop() } }
        try await harness.send(PluginPipelineTests.event("streamed", properties: ["n": 1]))
        let properties = try harness.events().first?["properties"]
        #expect(properties?["sequence"] == "7", "\(harness.server.log)")
        #expect(properties?["record"] == #"{"event":"kinode"}"#)
        #expect(properties?["arrived"] == "2023-11-14T22:13:20.500Z")
        #expect(properties?["expired"] == ["ExpiredIteratorException", "Iterator expired", 400])
        #expect(properties?["delivered"] == ["r1", "r2"])

        let posts = kinesis.received.filter { $0.method == "POST" }
        #expect(
            posts.map { $0.headers["x-amz-target"] ?? "" }
                == ["PutRecord", "GetRecords", "GetShardIterator"].map { "Kinesis_20131202." + $0 } + ["Firehose_20150804.PutRecordBatch"])
        let batch = try JSON(parsing: String(decoding: try #require(posts.last).body, as: UTF8.self))
        #expect(batch == ["DeliveryStreamName": "to-s3", "Records": [["Data": "b25l"], ["Data": "dHdv"]]])
        let put = try JSON(parsing: String(decoding: try #require(posts.first).body, as: UTF8.self))
        #expect(
            put == ["StreamName": "events", "PartitionKey": "distinct_id", "Data": .string(Data(#"{"n":1}"#.utf8).base64EncodedString())])
        #expect(try Self.botocoreVerdicts(posts, port: kinesis.port) == ["match", "match", "match", "match"])
    }

    @Test(
        "@google-cloud/bigquery: a service account's RS256 JWT buys one token; a missing table is created; rows are inserted; refused rows fail"
    )
    func bigQueryExport() async throws {
        let google = try await LoopbackHTTPServer.start()
        defer { google.stop() }
        let api = "/bigquery/v2/projects/analytics-1/datasets/posthog"
        google.answer("/token", body: #"{"access_token":"ya29.test-token","expires_in":3599,"token_type":"Bearer"}"#)
        google.answer(
            "\(api)/tables/events", status: 404,
            body: #"{"error":{"code":404,"message":"Not found: Table analytics-1:posthog.events","errors":[{"reason":"notFound"}]}}"#)
        google.answer("\(api)/tables", body: #"{"kind":"bigquery#table","id":"analytics-1:posthog.events"}"#)
        google.answer("\(api)/tables/events/insertAll", body: #"{"kind":"bigquery#tableDataInsertAllResponse"}"#)
        google.answer(
            "\(api)/tables/strict/insertAll",
            body: #"{"insertErrors":[{"index":0,"errors":[{"reason":"invalid","message":"no such field: extra."}]}]}"#)
        let (serviceAccount, publicKey) = try Self.serviceAccount(tokenURI: "http://127.0.0.1:\(google.port)/token")
        // One worker: each worker sets the plugin up in its own sandbox, with its own token.
        let harness = try await IngestionHarness.start(environment: ["WORKER_CONCURRENCY": "1"]) { database in
            try PluginPipelineTests.installSourcePlugin(
                database, name: "bigquery",
                config: ["key": .string(serviceAccount.jsonString), "endpoint": .string("http://127.0.0.1:\(google.port)")],
                source: """
                    import { BigQuery } from '@google-cloud/bigquery'
                    export async function setupPlugin({ global, config }) {
                        const credentials = JSON.parse(config.key)
                        global.bigquery = new BigQuery({ projectId: credentials.project_id, credentials, apiEndpoint: config.endpoint })
                        global.table = global.bigquery.dataset('posthog').table('events')
                        try {
                            await global.table.get()
                        } catch (error) {
                            if (!error.message.includes('Not found')) throw error
                            await global.bigquery.dataset('posthog').createTable('events', {
                                schema: [{ name: 'uuid', type: 'STRING' }, { name: 'event', type: 'STRING' }, { name: 'timestamp', type: 'TIMESTAMP' }] })
                        }
                    }
                    export async function processEvent(event, { global }) {
                        await global.table.insert([{ uuid: event.uuid, event: event.event, timestamp: global.bigquery.timestamp('2021-05-11T10:00:00Z') }])
                        event.properties.refused = await global.bigquery.dataset('posthog').table('strict').insert({ extra: 1 })
                            .then(() => null, (error) => [error.name, error.errors[0].errors[0].message, error.errors[0].row.extra])
                        return event
                    }
                    """)
        }
        defer { Task { await harness.stop() } }
        try await harness.send(PluginPipelineTests.event("exported"))
        let properties = try harness.events().first?["properties"]
        #expect(properties?["refused"] == ["PartialFailureError", "no such field: extra.", 1], "\(harness.server.log)")

        let received = google.received
        let tokenRequests = received.filter { $0.path == "/token" }
        #expect(tokenRequests.count == 1, "the token is reused")
        let form = String(decoding: try #require(tokenRequests.first).body, as: UTF8.self)
        #expect(form.hasPrefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="))
        let jwt = String(form.split(separator: "=").last ?? "")
        let verdict = try runCommand(
            "python3",
            [
                "-c",
                """
                import base64, json, sys
                from cryptography.hazmat.primitives import hashes, serialization
                from cryptography.hazmat.primitives.asymmetric import padding
                header, claims, signature = sys.argv[1].split('.')
                decode = lambda part: base64.urlsafe_b64decode(part + '=' * (-len(part) % 4))
                key = serialization.load_pem_public_key(sys.argv[2].encode())
                key.verify(decode(signature), (header + '.' + claims).encode(), padding.PKCS1v15(), hashes.SHA256())
                c = json.loads(decode(claims))
                print(json.loads(decode(header))['alg'], c['iss'], c['aud'], c['scope'], c['exp'] - c['iat'])
                """,
                jwt, publicKey,
            ])
        #expect(
            verdict.trimmingCharacters(in: .whitespacesAndNewlines)
                == "RS256 exporter@analytics-1.iam.gserviceaccount.com http://127.0.0.1:\(google.port)/token "
                + "https://www.googleapis.com/auth/bigquery 3600")

        let calls = received.filter { $0.path != "/token" }
        #expect(
            calls.map { "\($0.method) \($0.path)" } == [
                "GET \(api)/tables/events", "POST \(api)/tables", "POST \(api)/tables/events/insertAll",
                "POST \(api)/tables/strict/insertAll",
            ])
        #expect(calls.allSatisfy { $0.headers["authorization"] == "Bearer ya29.test-token" })
        let created = try JSON(parsing: String(decoding: calls[1].body, as: UTF8.self))
        #expect(created["tableReference"] == ["projectId": "analytics-1", "datasetId": "posthog", "tableId": "events"])
        #expect(created["schema"]?["fields"]?.arrayValue?.map { $0["name"] } == ["uuid", "event", "timestamp"])
        let inserted = try JSON(parsing: String(decoding: calls[2].body, as: UTF8.self))
        let row = try #require(inserted["rows"]?.arrayValue?.first)
        #expect(row["json"]?["event"] == "exported" && row["json"]?["timestamp"] == "2021-05-11T10:00:00.000Z")
        #expect(row["insertId"]?.stringValue?.count == 36)
    }

    /// A service account key made for the test (the private part for the plugin, the public part to
    /// check its JWTs), in the JSON shape Google's key files have.
    static func serviceAccount(tokenURI: String) throws -> (key: JSON, publicKey: String) {
        let keys = try runCommand(
            "python3",
            [
                "-c",
                """
                from cryptography.hazmat.primitives.asymmetric import rsa
                from cryptography.hazmat.primitives import serialization as s
                k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                print(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode(), end='')
                print(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode(), end='')
                """,
            ])
        guard let split = keys.range(of: "-----BEGIN PUBLIC KEY-----")?.lowerBound else {
            throw HarnessError(message: "no key pair from Python's cryptography: \(keys)")
        }
        let key: JSON = [
            "type": "service_account", "project_id": "analytics-1", "private_key_id": "key-1",
            "private_key": .string(String(keys[..<split])),
            "client_email": "exporter@analytics-1.iam.gserviceaccount.com", "token_uri": .string(tokenURI),
        ]
        return (key, String(keys[split...]))
    }

    @Test(
        "@google-cloud/storage and pubsub: a stream piped into a file and a gzipped save are uploaded; messages of one turn go in one publish"
    )
    func googleStorageAndPubSub() async throws {
        let google = try await LoopbackHTTPServer.start()
        defer { google.stop() }
        google.answer("/token", body: #"{"access_token":"ya29.storage","expires_in":3599}"#)
        google.answer("/upload/storage/v1/b/exports/o", body: #"{"kind":"storage#object","name":"x"}"#)
        google.answer(
            "/v1/projects/analytics-1/topics/events", status: 404, body: #"{"error":{"code":404,"message":"Resource not found"}}"#)
        google.answer("/v1/projects/analytics-1/topics/events:publish", body: #"{"messageIds":["11","12","13"]}"#)
        let (serviceAccount, _) = try Self.serviceAccount(tokenURI: "http://127.0.0.1:\(google.port)/token")
        let harness = try await IngestionHarness.start(environment: ["WORKER_CONCURRENCY": "1"]) { database in
            try PluginPipelineTests.installSourcePlugin(
                database, name: "google",
                config: ["key": .string(serviceAccount.jsonString), "endpoint": .string("http://127.0.0.1:\(google.port)")],
                source: """
                    import { Storage } from '@google-cloud/storage'
                    import { PubSub } from '@google-cloud/pubsub'
                    import { PassThrough } from 'stream'
                    export async function processEvent(event, { config }) {
                        const credentials = JSON.parse(config.key)
                        const bucket = new Storage({ projectId: credentials.project_id, credentials, apiEndpoint: config.endpoint }).bucket('exports')
                        const data = new PassThrough()
                        data.end('uuid,event\\n' + event.uuid + ',' + event.event + '\\n')
                        await new Promise((resolve, reject) =>
                            data.pipe(bucket.file('day 1/batch.csv').createWriteStream()).on('error', reject).on('finish', resolve))
                        await bucket.file('day 1/batch.json.gz').save(JSON.stringify(event), { gzip: true, contentType: 'application/json' })
                        const topic = new PubSub({ projectId: credentials.project_id, credentials, apiEndpoint: config.endpoint }).topic('events')
                        event.properties.exists = (await topic.exists())[0]
                        event.properties.ids = await Promise.all([1, 2, 3].map((n) => topic.publishMessage({ data: Buffer.from('m' + n), attributes: { n: String(n) } })))
                        return event
                    }
                    """)
        }
        defer { Task { await harness.stop() } }
        let sent = PluginPipelineTests.event("exported")
        try await harness.send(sent)
        let properties = try harness.events().first?["properties"]
        #expect(properties?["exists"] == false, "\(harness.server.log)")
        #expect(properties?["ids"] == ["11", "12", "13"])

        let calls = google.received.filter { $0.path != "/token" }
        #expect(google.received.filter { $0.path == "/token" }.count == 2, "one token per client")
        #expect(calls.allSatisfy { $0.headers["authorization"]?.hasPrefix("Bearer ya29.storage") == true })
        let uploads = calls.filter { $0.path == "/upload/storage/v1/b/exports/o" }
        #expect(
            uploads.map(\.query) == [
                "uploadType=media&name=day%201%2Fbatch.csv", "uploadType=media&name=day%201%2Fbatch.json.gz&contentEncoding=gzip",
            ])
        let uuid = sent["uuid"]?.stringValue ?? ""
        #expect(uploads.first.map { String(decoding: $0.body, as: UTF8.self) } == "uuid,event\n\(uuid),exported\n")
        #expect(uploads.last?.body.prefix(2) == [0x1F, 0x8B] && uploads.last?.headers["content-type"] == "application/json")
        let publishes = calls.filter { $0.path.hasSuffix(":publish") }
        #expect(publishes.count == 1)
        let messages = try JSON(parsing: String(decoding: try #require(publishes.first).body, as: UTF8.self))["messages"]
        #expect(
            messages == [
                ["data": "bTE=", "attributes": ["n": "1"]], ["data": "bTI=", "attributes": ["n": "2"]],
                ["data": "bTM=", "attributes": ["n": "3"]],
            ])
    }

    /// botocore's verdict on each request's signature: "match" or what differs.
    static func botocoreVerdicts(_ requests: [LoopbackHTTPServer.Received], port: Int) throws -> [String] {
        let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02x", $0) }.joined() }
        let list = JSON.array(
            requests.map { request in
                var headers = JSONObject()
                for (name, value) in request.headers { headers[name] = .string(value) }
                return [
                    "method": .string(request.method), "path": .string(request.path), "headers": .object(headers),
                    "body": .string(hex(request.body)),
                ]
            })
        // The recorded headers lack `Host` (the server keeps it as the authority): it was the endpoint's.
        let output = try runCommand("python3", ["-c", botocoreCheck, list.jsonString, "127.0.0.1:\(port)"])
        return output.split(separator: "\n").map(String.init)
    }

    /// The AWS credentials of the tests' clients (AWS's documentation example key), and the client options
    /// that give them.
    static let awsKeyId = "AKIDEXAMPLE"
    static let awsSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let awsRegion = "eu-west-2"
    static let awsOptions = "accessKeyId: '\(awsKeyId)', secretAccessKey: '\(awsSecret)', region: '\(awsRegion)'"

    /// Recomputes each request's SigV4 Authorization with botocore at the request's own x-amz-date, for
    /// the service its credential scope names (arguments: the requests as JSON, the host they went to).
    static let botocoreCheck = """
        import datetime, json, sys
        import botocore.auth as auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        for r in json.loads(sys.argv[1]):
            h = {k.lower(): v for k, v in r['headers'].items()}
            given = h['authorization']
            signed = given.split('SignedHeaders=')[1].split(',')[0].split(';')
            stamp = datetime.datetime.strptime(h['x-amz-date'], '%Y%m%dT%H%M%SZ')
            auth.get_current_datetime = lambda: stamp
            request = AWSRequest(method=r['method'], url='http://' + h.get('host', sys.argv[2]) + r['path'],
                headers={k: h[k] for k in signed if k != 'host'}, data=bytes.fromhex(r['body']))
            service = given.split('Credential=')[1].split('/')[3]
            signer = auth.S3SigV4Auth if service == 's3' else auth.SigV4Auth
            signer(Credentials('\(awsKeyId)', '\(awsSecret)'), service, '\(awsRegion)').add_auth(request)
            print('match' if request.headers['Authorization'] == given else 'mismatch: ' + given + ' != ' + request.headers['Authorization'])
        """

    @Test("meta.metrics: declarations land in posthog_plugin.metrics, values come back as a $$plugin_metrics event")
    func metrics() async throws {
        var ids = (plugin: 0, config: 0)
        let harness = try await IngestionHarness.start(environment: ["PLUGIN_METRICS_INTERVAL": "1"]) { database in
            // PostHog's migration 0157 adds the column; the 0.20 schema the tests start from has none.
            try database.execute("ALTER TABLE posthog_plugin ADD COLUMN metrics jsonb")
            ids = try PluginPipelineTests.installSourcePlugin(
                database, name: "counter",
                source: """
                    export const metrics = { counted: 'sum', largest: 'max' }
                    export function processEvent(event, { metrics }) {
                        if (event.event === 'count me') { metrics.counted.increment(1); metrics.largest.max(event.properties.size) }
                        return event
                    }
                    """)
        }
        defer { Task { await harness.stop() } }
        let declared = { try harness.database.scalar("SELECT metrics FROM posthog_plugin WHERE id = \(ids.plugin)") }
        #expect(await eventually { (try? declared()) == ["counted": "sum", "largest": "max"] }, "\(harness.server.log)")
        try await harness.send(PluginPipelineTests.event("count me", properties: ["size": 3]))
        try await harness.send(PluginPipelineTests.event("count me", properties: ["size": 7]))
        let sent = { try harness.events().filter { $0["event"] == "$$plugin_metrics" } }
        // The two events may fall into one interval or two: sums add up, maxima take the larger.
        let counted = { ((try? sent()) ?? []).compactMap { $0["properties"]?["counted"]?.intValue }.reduce(0, +) }
        #expect(await eventually { counted() == 2 }, "\(harness.server.log)")
        #expect(try sent().compactMap { $0["properties"]?["largest"]?.intValue }.max() == 7)
        let properties = try #require(try sent().first?["properties"])
        #expect(properties["plugin_name"] == "counter")
        #expect(properties["plugin_id"] == .number(Double(ids.plugin)))
    }

    @Test("pg connects where the plugin's config says and returns rows; other hosts are refused")
    func pgClient() async throws {
        var target: JSON = [:]
        let harness = try await IngestionHarness.start { database in
            let url = try #require(URLComponents(string: database.url))
            target = [
                "host": .string(url.host ?? "127.0.0.1"), "port": .string(String(url.port ?? 5432)),
                "user": .string(url.user ?? "postgres"),
                "password": .string(url.password ?? ""), "database": .string(String(url.path.dropFirst())),
            ]
            try PluginPipelineTests.installSourcePlugin(
                database, name: "pg-user", config: target,
                source: """
                    import { Client, Pool } from 'pg'
                    export async function processEvent(event, { config }) {
                        const client = new Client({ host: config.host, port: parseInt(config.port), user: config.user,
                            password: config.password || undefined, database: config.database })
                        await client.connect()
                        await client.query('CREATE TABLE IF NOT EXISTS exported (n int, label text, at timestamptz)')
                        const inserted = await client.query('INSERT INTO exported VALUES ($1, $2, $3), ($4, $5, $6)',
                            [1, 'one', new Date('2021-10-01T00:00:00Z'), 2, null, null])
                        const selected = await client.query({ text: 'SELECT n, label, at, n::bigint + 1 AS big FROM exported WHERE n >= $1 ORDER BY n', values: [1] })
                        await client.end()
                        event.properties.inserted = inserted.rowCount
                        event.properties.rows = selected.rows
                        const pool = new Pool({ host: config.host, port: parseInt(config.port), user: config.user,
                            password: config.password || undefined, database: config.database })
                        event.properties.viaPool = (await pool.query('SELECT count(*)::int AS c FROM exported')).rows[0].c
                        await pool.end()
                        try { await new Client({ host: 'internal.example', database: 'x' }).connect() } catch (e) { event.properties.refused = e.message }
                        try { await new Client({ host: config.host, port: parseInt(config.port), user: config.user,
                            password: config.password || undefined, database: config.database }).query('SELEC 1') } catch (e) { event.properties.syntax = e.message }
                        return event
                    }
                    """)
        }
        defer { Task { await harness.stop() } }
        try await harness.send(PluginPipelineTests.event("pg"))
        let p = try #require(try harness.events().first?["properties"], "\(harness.server.log)")
        let error = try harness.database.scalar("SELECT error FROM posthog_pluginconfig")
        #expect(error == .null, "\(String(describing: error))")
        #expect(p["inserted"] == 2)
        #expect(
            p["rows"] == [
                ["n": 1, "label": "one", "at": "2021-10-01T00:00:00.000Z", "big": "2"],
                ["n": 2, "label": .null, "at": .null, "big": "3"],
            ])
        #expect(p["viaPool"] == 2)
        #expect(p["refused"]?.stringValue?.hasPrefix("pg: host internal.example is not named in the plugin's config") == true)
        #expect(p["syntax"]?.stringValue?.contains("syntax error") == true)
    }
}
