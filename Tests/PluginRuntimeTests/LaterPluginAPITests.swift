import Foundation
import PostHogEvents
import Testing

@testable import PluginRuntime

/// The 1.x plugin API of reference §13 through the real runtime and an in-memory host: exportEvents
/// retries and crash safety, meta.metrics, posthog.api, generic-pool and the refused cloud SDKs.
@Suite struct LaterPluginAPITests {
    static func event(_ n: Int) -> JSON {
        ["event": "$pageview", "distinct_id": "u", "team_id": 2, "properties": ["n": .number(Double(n))]]
    }

    static let retryingExporter = """
        import { RetryError } from '@posthog/plugin-scaffold'
        export async function exportEvents(events, { cache }) {
            if ((await cache.incr('attempts')) <= 2) throw new RetryError('receiver not ready')
            await cache.lpush('exported', events.map((e) => String(e.properties.n)))
        }
        """

    @Test("a RetryError re-enqueues the batch with back-off and its key; a retry of a batch already exported is skipped")
    func retriesExactlyOnce() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([plugin(1, config: ["exportEventsBufferSeconds": "1"], Self.retryingExporter)])
        for n in 1...2 { await runtime.onEvent(teamId: 2, event: Self.event(n)) }
        #expect(await host.bufferedExports.count == 2, "buffered events are persisted as they arrive")
        try await Task.sleep(nanoseconds: 1_100_000_000)
        let before = Date().timeIntervalSince1970 * 1000
        await runtime.flushDueExports()
        #expect(await host.bufferedExports.isEmpty)
        let first = try #require(await host.jobs.first)
        #expect(first.type == "exportEventsWithRetry")
        #expect(first.payload["retriesPerformedSoFar"] == 1)
        #expect(first.payload["batch"]?.arrayValue?.count == 2)
        let batchKey = try #require(first.payload["batchKey"]?.stringValue)
        #expect(abs(first.timestamp - before - 6000) < 1000, "first retry after 2^1 × 3 s")
        #expect(await host.pendingExports.isEmpty, "handed to the job queue, no longer pending in the buffer")

        try await runtime.runJob(configId: 1, type: first.type, payload: first.payload)
        let second = try #require(await host.jobs.last)
        #expect(second.payload["retriesPerformedSoFar"] == 2)
        #expect(second.payload["batchKey"]?.stringValue == batchKey)
        #expect(abs(second.timestamp - Date().timeIntervalSince1970 * 1000 - 12_000) < 1000, "second retry after 2^2 × 3 s")

        try await runtime.runJob(configId: 1, type: second.type, payload: second.payload)
        #expect(await host.lists["@plugin/101/2/exported"] == ["2", "1"])
        #expect(await host.doneExports == [batchKey])
        // The same job again (a redelivery): skipped, nothing exported twice.
        try await runtime.runJob(configId: 1, type: second.type, payload: second.payload)
        #expect(await host.lists["@plugin/101/2/exported"] == ["2", "1"])
        #expect(await host.cache["@plugin/101/2/attempts"] == "3")
        try await settleHost()
        #expect(await host.logs.contains { $0.message == "Skipped exporting batch \(batchKey): it was exported already" })

        await runtime.flushPluginMetrics()
        let metrics = try #require(await host.captures.first { $0.event == "$$plugin_metrics" })
        #expect(metrics.properties["events_seen"] == 2)
        #expect(metrics.properties["retry_errors"] == 2)
        #expect(metrics.properties["events_delivered_successfully"] == 2)
        #expect(metrics.properties["plugin_name"] == "plugin1")
        #expect(metrics.properties["plugin_id"] == 101)
        #expect(await host.metricTypes[1]?["events_seen"] == "sum")
        await runtime.teardownAll()
    }

    @Test("an exportEvents error other than RetryError drops the batch: recorded on the config, counted, not retried")
    func otherErrorsDropTheBatch() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([plugin(1, "export async function exportEvents(events) { throw new TypeError('bad payload') }")])
        for n in 1...3 { await runtime.onEvent(teamId: 2, event: Self.event(n)) }
        await runtime.teardownAll()
        #expect(await host.errors[1]?.name == "TypeError")
        #expect(await host.errors[1]?.message == "bad payload")
        #expect(await host.jobs.isEmpty)
        #expect(await host.bufferedExports.isEmpty)
        #expect(await host.pendingExports.isEmpty)
        #expect(await host.doneExports.isEmpty)
    }

    @Test("events buffered by an instance that stopped are exported once by another; the stopped one's buffer exports nothing")
    func recoversAbandonedBuffer() async throws {
        let host = InMemoryPluginHost()
        let exporter = """
            export async function exportEvents(events, { cache }) {
                await cache.lpush('exported', events.map((e) => String(e.properties.n)))
            }
            """
        let config: JSONObject = ["exportEventsBufferSeconds": "600"]
        let crashed = PluginRuntime(host: host, settings: PluginRuntimeSettings(instanceId: "crashed"))
        await crashed.load([plugin(1, config: config, exporter)])
        for n in 1...3 { await crashed.onEvent(teamId: 2, event: Self.event(n)) }
        #expect(await host.bufferedExports.count == 3)
        #expect(await host.lists["@plugin/101/2/exported"] == nil)

        let restarted = PluginRuntime(host: host, settings: PluginRuntimeSettings(instanceId: "restarted"))
        await restarted.load([plugin(1, config: config, exporter)])
        await restarted.maintainExports(recover: true)
        #expect(await host.lists["@plugin/101/2/exported"]?.sorted() == ["1", "2", "3"])
        #expect(await host.bufferedExports.isEmpty)
        #expect(await host.pendingExports.isEmpty)
        await restarted.maintainExports(recover: true)
        // The old sandboxes still hold the events in memory: their flush finds the entries taken.
        await crashed.teardownAll()
        await restarted.teardownAll()
        #expect(await host.lists["@plugin/101/2/exported"]?.count == 3)
    }

    @Test("meta.metrics: sum, max and min per declared name, merged across workers and sent as $$plugin_metrics")
    func metrics() async throws {
        let (runtime, host) = makeRuntime(workers: 2)
        await runtime.load([
            plugin(
                1,
                """
                export const metrics = { seen: 'sum', biggest: 'MAX', smallest: 'min' }
                export async function processEvent(event, { metrics }) {
                    metrics.seen.increment(1)
                    metrics.biggest.max(event.properties.n)
                    metrics.smallest.min(event.properties.n)
                    try { metrics.nope.increment(1) } catch (e) { event.properties.unknown = e.message }
                    try { metrics.seen.increment('1') } catch (e) { event.properties.notNumber = e.message }
                    event.properties.noMax = typeof metrics.seen.max
                    return event
                }
                """)
        ])
        var last: JSON?
        for n in [5, 2, 9, 4] { last = await runtime.processEventChain(teamId: 2, event: Self.event(n)).event }
        #expect(last?["properties"]?["unknown"] == "Invalid metric name")
        #expect(last?["properties"]?["notNumber"] == "Only numbers are allowed for operations on metrics")
        #expect(last?["properties"]?["noMax"] == "undefined")
        #expect(await host.metricTypes[1] == ["seen": "sum", "biggest": "max", "smallest": "min"])
        await runtime.flushPluginMetrics()
        let captures = await host.captures.filter { $0.event == "$$plugin_metrics" }
        #expect(captures.count == 1)
        #expect(captures.first?.properties["seen"] == 4)
        #expect(captures.first?.properties["biggest"] == 9)
        #expect(captures.first?.properties["smallest"] == 2)
        // Values reset once sent.
        await runtime.flushPluginMetrics()
        #expect(await host.captures.filter { $0.event == "$$plugin_metrics" }.count == 1)
    }

    @Test("a metric type other than sum, max or min fails the load with the original message")
    func invalidMetricType() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(1, "export const metrics = { a: 'sum', b: 'avg', c: 'median' }\nexport function processEvent(e) { return e }")
        ])
        #expect(await runtime.capabilities(configId: 1) == nil)
        #expect(
            await host.errors[1]?.message
                == "Only 'sum', 'max', and 'min' are supported as metric types. Invalid types received: avg, median")
    }

    @Test("posthog.api sends the path with the project token and the personal key to the given host")
    func posthogAPI() async throws {
        let (runtime, host) = makeRuntime()
        await host.setFetchHandler { request in
            if request.url.hasPrefix("http://down.test/") { throw PluginHostError("connect ECONNREFUSED 10.0.0.1:80") }
            return FetchResponse(status: 200, body: Array(#"{"results": []}"#.utf8))
        }
        await runtime.load([
            plugin(
                1,
                """
                export async function processEvent(event) {
                    const down = { host: 'http://down.test', projectApiKey: 'phc_project', personalApiKey: 'phx_personal' }
                    try { await posthog.api.get('/api/x', down) } catch (e) { event.properties.down = [e.name, e.type, e.code, e.message] }
                    const keys = { host: 'http://posthog.test:8000', projectApiKey: 'phc_project', personalApiKey: 'phx_personal' }
                    const got = await posthog.api.get('/api/projects/@current/event_definitions', { ...keys, data: { limit: 5 } })
                    event.properties.status = got.status
                    event.properties.body = await got.json()
                    await posthog.api.post('api/projects/@current/annotations', { ...keys, data: { content: 'hi' } })
                    await posthog.api.put('/api/x/1', { ...keys, data: { a: 1 } })
                    await posthog.api.delete('/api/x/1', { ...keys, data: { ignored: true } })
                    try { await posthog.api.get('/api/x', { projectApiKey: 'only-one' }) } catch (e) { event.properties.error = e.message }
                    try { await posthog.api.get('/api/x') } catch (e) { event.properties.noKeys = e.message }
                    return event
                }
                """)
        ])
        let p = try #require(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"])
        #expect(p["status"] == 200)
        #expect(p["body"] == ["results": []])
        #expect(p["error"] == "You must specify a personalApiKey if you specify a projectApiKey and vice-versa!")
        #expect(p["noKeys"]?.stringValue?.contains("pass projectApiKey and personalApiKey") == true)
        // A network failure is node-fetch's, as for fetch; the host's refusals above are plain errors.
        #expect(
            p["down"] == ["FetchError", "system", "ECONNREFUSED", "request to /api/x failed, reason: connect ECONNREFUSED 10.0.0.1:80"])
        let requests = await host.fetches.filter { !$0.url.hasPrefix("http://down.test/") }
        #expect(requests.map(\.method) == ["GET", "POST", "PUT", "DELETE"])
        #expect(
            requests.map(\.url) == [
                "http://posthog.test:8000/api/projects/@current/event_definitions?limit=5&token=phc_project",
                "http://posthog.test:8000/api/projects/@current/annotations?token=phc_project",
                "http://posthog.test:8000/api/x/1?token=phc_project",
                "http://posthog.test:8000/api/x/1?token=phc_project",
            ])
        #expect(requests.allSatisfy { $0.headers.contains { $0.name == "authorization" && $0.value == "Bearer phx_personal" } })
        #expect(requests[1].body == Array(#"{"content":"hi"}"#.utf8))
        #expect(requests[3].body == nil, "delete ignores data (reference §13.3)")
    }

    @Test("generic-pool lends at most max resources, queues the rest and hands released ones on")
    func genericPool() async throws {
        let (runtime, _) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                import { createPool } from 'generic-pool'
                export async function processEvent(event) {
                    let created = 0, destroyed = 0
                    const pool = createPool({ create: async () => ({ id: ++created }), destroy: async () => { destroyed++ } }, { max: 2 })
                    const a = await pool.acquire(), b = await pool.acquire()
                    let third = null
                    const waiting = pool.acquire().then((r) => { third = r })
                    event.properties.pendingBefore = pool.pending
                    await pool.release(a)
                    await waiting
                    event.properties.third = third.id
                    await pool.release(b)
                    await pool.release(third)
                    event.properties.used = await pool.use(async (r) => 'used ' + r.id)
                    await pool.drain()
                    await pool.clear()
                    event.properties.created = created
                    event.properties.destroyed = destroyed
                    return event
                }
                """)
        ])
        let p = try #require(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"])
        #expect(p["pendingBefore"] == 1)
        #expect(p["third"] == 1)
        #expect(p["created"] == 2)
        #expect(p["destroyed"] == 2)
        #expect(p["used"]?.stringValue?.hasPrefix("used ") == true)
    }

    @Test("aws-sdk provides S3, Kinesis and Firehose; its other clients throw when made, naming what is provided; S3 checks its parameters")
    func awsSDKClients() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                import AWS from 'aws-sdk'
                import S3Client from 'aws-sdk/clients/s3'
                export async function processEvent(event) {
                    event.properties.same = AWS.S3 === S3Client
                    const s3 = new AWS.S3({ region: 'eu-west-1' })
                    event.properties.noCredentials = await s3.putObject({ Bucket: 'b', Key: 'k', Body: 'x' }).promise().catch((e) => e.code)
                    AWS.config.update({ accessKeyId: 'id', secretAccessKey: 'secret' })
                    event.properties.noKey = await new AWS.S3().putObject({ Bucket: 'b' }).promise().catch((e) => e.code + ': ' + e.message)
                    return event
                }
                """),
            plugin(2, "const { SQS } = require('aws-sdk')\nexport function setupPlugin() { new SQS({ region: 'x' }) }"),
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let p = try #require(result.event?["properties"]?.objectValue)
        #expect(p["same"] == true && p["noCredentials"] == "CredentialsError")
        #expect(p["noKey"] == "MissingRequiredParameter: Missing required key 'Key' in params")
        let message = await host.errors[2]?.message ?? ""
        #expect(message.hasPrefix("aws-sdk SQS is not available in this plugin server: only S3 "), "\(message)")
    }

    /// A key pair made for this test only (PKCS#1 private key, SubjectPublicKeyInfo public key).
    static let testPrivateKey = """
        -----BEGIN RSA PRIVATE KEY-----
        MIIEowIBAAKCAQEA1KK8geWDx4KiW51PuU+IOYyX9VAdYWitr7ExxVxCDeUfhndh
        KXBmnJtHC7CFtAF0cu6KyEghxC8VERA4fzCEu6CvGrJwV2iqvsZx7TppsQC4owcq
        nDQFWk00NG+0m9zXzgyYd4k84/zQv3vyIGpBUeRczdslqVGwp+5ZR4JGyrvGajCp
        sH4W/DuguGHuJkJYb3H16tR80XSWQAdYqWJ1CVKhjF2l5k90i/eKXckBIFbQPakj
        OxvHPi0VvHuO0zC4bLTaTjeM1CE6LGXvWjY5D7M0FqfX+Df62l5lma1pm5/828Fh
        kzhjjoH1q2bMDURLbzMyUizJct9B8H8VTCDA/wIDAQABAoIBAFDpY+Xh2hVPBkzq
        PW38b4/GigRU6fkpBf525MN+6buz1h0qzBQiq0koZQ5zq0zlyNP7JWA04nRunguS
        Ko1rfvaOnFMCV3FLaL2TccKdmZ468gdHMNWjje3gtt7FKuqsTIohjNrfpAX1K9HR
        bj8bb6OjzBShMWGOrjQYpGxrjFiUDbmh4vdjHNz/2NfMdukBD44CBGdd/c9mX5tk
        kNGRaQ14qPX7La+8EugGoBOpquGPCy6bjsQeZt1qbP62ZXwpD+KY+9pvBMBX9vvc
        zoRZTiTGDH8Fsh+3tTbvd3mFW5dd3W2rmclLMhtQSNBK3x6iBEVLQ/PPWuRt/R9f
        +ZqJ1LECgYEA78FDdjO6iG83iYILg8dlLUpziYM+POHZuk/XRbWSThwTdZI8oz+s
        GV/uQ/B2lM2RvpsEUSazjb2NgMx6bVjUtRM5YQ/VM//3TNO0qGe2lt/Y/n6DCN/H
        gsut3cah6LX7LqcpPqTTS7Y6jpuwQ4LEoxwBXmie2lXvpkksRRTmtO0CgYEA4wsR
        fl7+Rc8D/VjQ6ozvhHark7UGhXB5wMH4jmdG0HuHameuNHMWYmCZpb/G2S+ppwrZ
        5kPSUXwC3XYo4GjnDEizG5ZurITyufWXhwhtauV3hlTXaoqCxeIr6ss2z/REchvI
        SXqm6+IG7yenwdPNiuQGRNeDzhn9smNLFWuQ3BsCgYA4ExuUKcUW4+w5XREUYS5o
        yWD8aJXF54zk5oeS5kSxwB9NAEbuZ5X42VcAzNzvMKVFzzvTPxn/rLXLygdYS850
        C2sAKJPU9akBbwJx4M/zuacm3rAHA0/GZ5ziofJ8WxPEdZRP8nz42EYZ1JAFOjCD
        dalcS1vb9P14BuUzww+ygQKBgAsLWsp+7HeQ3mzQiTkfqfcTnr0MrUiIdCPAS8sB
        kxxJJgkzCfJbNteKQ28gqRefje0mRftBiVWVZr5HJS3lbHfYgX3yD2gs/3G0VK6o
        5kmw5+OM9P2lxz7BBcniIMR06W9zkoaghMYstJGlqC9xkioTdYqbwTmhYgnvcpOU
        K/PJAoGBAMmsWYAJG7w/Kw8E736XLoDTS+Srqq91eEN6pEHBuulAC+Wi+9Y3wSWV
        Mz4cUQaNl/P+EC1WDcWcxCkQvnmT6vtudp2K0wgXfLzy3xUbrLtdlyB22+Qqjau9
        WiVqfZKq1Kov1JE7D/zIccLxk7dEUsNBWM1UlaUrd+rTFLIhU5v6
        -----END RSA PRIVATE KEY-----
        """
    static let testPublicKey = """
        -----BEGIN PUBLIC KEY-----
        MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1KK8geWDx4KiW51PuU+I
        OYyX9VAdYWitr7ExxVxCDeUfhndhKXBmnJtHC7CFtAF0cu6KyEghxC8VERA4fzCE
        u6CvGrJwV2iqvsZx7TppsQC4owcqnDQFWk00NG+0m9zXzgyYd4k84/zQv3vyIGpB
        UeRczdslqVGwp+5ZR4JGyrvGajCpsH4W/DuguGHuJkJYb3H16tR80XSWQAdYqWJ1
        CVKhjF2l5k90i/eKXckBIFbQPakjOxvHPi0VvHuO0zC4bLTaTjeM1CE6LGXvWjY5
        D7M0FqfX+Df62l5lma1pm5/828FhkzhjjoH1q2bMDURLbzMyUizJct9B8H8VTCDA
        /wIDAQAB
        -----END PUBLIC KEY-----
        """

    @Test("jsonwebtoken signs and verifies HS256 and RS256 tokens, with expiry, audience and issuer checks, as jsonwebtoken 8 does")
    func jsonWebTokens() async throws {
        let (runtime, _) = makeRuntime()
        let source = """
            import jwt from 'jsonwebtoken'
            import { createSign, createVerify } from 'crypto'
            const failure = (f) => { try { f(); return 'no error' } catch (e) { return e.name + ': ' + e.message } }
            export function processEvent(event, { config }) {
                const p = event.properties
                p.known = jwt.sign({ sub: '1234567890', name: 'John Doe', iat: 1516239022 }, 'your-256-bit-secret')
                const token = jwt.sign({ sub: 'u1' }, 'secret', { expiresIn: '1h', issuer: 'posthog' })
                const claims = jwt.verify(token, 'secret', { issuer: 'posthog' })
                p.claims = [claims.sub, claims.iss, claims.exp - claims.iat]
                p.wrongSecret = failure(() => jwt.verify(token, 'other'))
                p.wrongIssuer = failure(() => jwt.verify(token, 'secret', { issuer: 'someone' }))
                p.audience = failure(() => jwt.verify(token, 'secret', { audience: 'app' }))
                p.expired = failure(() => jwt.verify(jwt.sign({ exp: Math.floor(Date.now() / 1000) - 5 }, 'secret'), 'secret'))
                p.malformed = failure(() => jwt.verify('abc', 'secret'))
                const signed = jwt.sign({ team: 2 }, config.privateKey, { algorithm: 'RS256', keyid: 'k1' })
                p.rs = [jwt.decode(signed, { complete: true }).header.kid, jwt.verify(signed, config.publicKey).team]
                const [h, b, sig] = signed.split('.')
                p.tampered = failure(() => jwt.verify(h + '.' + Buffer.from('{"team":3}').toString('base64').replace(/=+$/, '') + '.' + sig, config.publicKey))
                p.hsWithPublicKey = failure(() => jwt.verify(jwt.sign({ a: 1 }, config.publicKey), config.publicKey))
                const signature = createSign('RSA-SHA256').update('payload').sign(config.privateKey, 'base64')
                p.verify = [createVerify('RSA-SHA256').update('payload').verify(config.publicKey, signature, 'base64'),
                    createVerify('RSA-SHA256').update('other').verify(config.publicKey, signature, 'base64')]
                return event
            }
            """
        var descriptor = plugin(1, source)
        descriptor.config = ["privateKey": .string(Self.testPrivateKey), "publicKey": .string(Self.testPublicKey)]
        await runtime.load([descriptor])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let p = try #require(result.event?["properties"]?.objectValue)
        // jwt.io's example token.
        #expect(
            p["known"]
                == "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
        )
        #expect(p["claims"] == ["u1", "posthog", 3600])
        #expect(p["wrongSecret"] == "JsonWebTokenError: invalid signature")
        #expect(p["wrongIssuer"] == "JsonWebTokenError: jwt issuer invalid. expected: someone")
        #expect(p["audience"] == "JsonWebTokenError: jwt audience invalid. expected: app")
        #expect(p["expired"] == "TokenExpiredError: jwt expired")
        #expect(p["malformed"] == "JsonWebTokenError: jwt malformed")
        #expect(p["rs"] == ["k1", 2])
        #expect(p["tampered"] == "JsonWebTokenError: invalid signature")
        #expect(p["hsWithPublicKey"] == "JsonWebTokenError: invalid algorithm")
        #expect(p["verify"] == [true, false])
    }

    @Test("createSign takes 1,024-bit keys, as Node does, and names a shorter key as the reason it refuses it")
    func shortRSAKeys() async throws {
        let (runtime, _) = makeRuntime()
        let source = """
            import { createSign, createVerify } from 'crypto'
            export function processEvent(event, { config }) {
                const signature = createSign('RSA-SHA256').update('x').sign(config.k1024, 'base64')
                event.properties.verified = createVerify('RSA-SHA256').update('x').verify(config.p1024, signature, 'base64')
                try { createSign('RSA-SHA256').update('x').sign(config.k512) } catch (e) { event.properties.short = e.message }
                return event
            }
            """
        var descriptor = plugin(1, source)
        // Keys made for this test only.
        descriptor.config = [
            "k1024": """
            -----BEGIN PRIVATE KEY-----
            MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAMTz/mDeg5U9ItFB
            1cRI4X5Cm6phA+wt9UTRa7GXs9saJhONUtmtHek6M4w2SFmRS4ByfogrIJLV1lQZ
            ZpZZxXYi2M4g0AJSPCFO15iHblWBEeH3IJyGv5jKcXPOpB3ZnPi3mpyyOwahwaTT
            jxlmeZUSuplTgiEtDo8Z2lwkOENdAgMBAAECgYAP93va3I8sTR2Ce2TaGdJ2Cu5V
            vLG1tvAYWSXy6sqA67jEgwOBdCBlpPtC1a+92yKU0jNh1KU6Yi2S+dAwRizUx2bj
            Ir4sJRKN/zS/+QjMLhUBBs/ipcIHhsM3eVkXKbIWKEHVPjf2qvAP/TJMQlmWygfI
            9yCsfDCzt0rG2RKpfQJBAPWGuK0ujlQ/t7aXS4EpXeLMpmxDHF7AEg8lb9TQQ4DC
            9CxMCEwGPL4bnrZ8+leo8WSvIYKVbwn0LlUypPRnX5MCQQDNWtPLjROpPs5oFGWb
            y2OzOLMYVjoQ7wilGLyWr70cIM6DgGz7hH1tLYUdAj82nz6PhFAd8IVhikPbth2h
            8EdPAkEAyjQCYbXmx6GWFgzxxNShmof6Q0zdz3aVKN4nBHfkL+Xem6CecKXuXo52
            nkm9DnZ3HvlQOrAAu4zan5XO3e1IewJBAMEMw9K1m2gd3RjHJAZkHCQeB2+3j/rf
            W/co3BGkwFkzFjFViB6jHO6IPn1Y4WhOKBfvQQoEVL+vpb9k41Kbec0CQBjRn54f
            0AMR63QBgi/n++A3pEWxtsK+zjTU+7eem3GR76+O0EpSwTy7oKEj2YliwkwdXlf3
            dqSgdfQwvr/+V4I=
            -----END PRIVATE KEY-----
            """,
            "p1024": """
            -----BEGIN PUBLIC KEY-----
            MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDE8/5g3oOVPSLRQdXESOF+Qpuq
            YQPsLfVE0Wuxl7PbGiYTjVLZrR3pOjOMNkhZkUuAcn6IKyCS1dZUGWaWWcV2ItjO
            INACUjwhTteYh25VgRHh9yCchr+YynFzzqQd2Zz4t5qcsjsGocGk048ZZnmVErqZ
            U4IhLQ6PGdpcJDhDXQIDAQAB
            -----END PUBLIC KEY-----
            """,
            "k512": """
            -----BEGIN PRIVATE KEY-----
            MIIBUwIBADANBgkqhkiG9w0BAQEFAASCAT0wggE5AgEAAkEAtQpuWcwPukyQJhlV
            zplR5uU+9Qe2PGC2incNW4qV9/PTI5R5+0GnclRvCflgUwyCn8XxDCyaPZP0BS8o
            Nh7taQIDAQABAkBhcyz1PyeUI5RQPcD3hYYVoH6kDLOminSX0f+pr86L+ZZ6dGZG
            HFn9LJFRi9uyDo23VM9e9lddQkdxw/zWpte1AiEA2lr8kmFqewheFovnpYAk37XG
            cR/wQ9V41xYhWB+wZbsCIQDUQJQ98HQq4tt/vnNl4+fkW3DLvJ5JxKQATiFOwFiV
            KwIgB1mUsuCwkt+fOycObxW3KAiYW2p1zfK7lJHcIXk/mM0CIBDJNrAbVySZImDc
            8AVr28gMj0Qdm6sb2RiJFUtEHP1XAiBPaPOUUq6K1CmFSNbZmfXJutHDGSo9EMKc
            8HG21fHYhA==
            -----END PRIVATE KEY-----
            """,
        ]
        await runtime.load([descriptor])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let p = try #require(result.event?["properties"]?.objectValue)
        #expect(p["verified"] == true)
        #expect(p["short"] == "RSA keys shorter than 1024 bits are not accepted")
    }

    @Test("cloud SDKs are refused at load with an error naming the library, recorded on the config")
    func cloudSDKsRefused() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(1, "import DynamoDB from 'aws-sdk/clients/dynamodb'\nexport function processEvent(e) { new DynamoDB(); return e }"),
            plugin(2, "const { Firestore } = require('@google-cloud/firestore')\nexport function processEvent(e) { return e }"),
            plugin(
                3, "import snowflake from 'snowflake-sdk'\nexport function processEvent(e) { snowflake.createConnection({}); return e }"),
        ])
        for (id, library) in [(1, "aws-sdk/clients/dynamodb"), (2, "@google-cloud/firestore"), (3, "snowflake-sdk")] {
            #expect(await runtime.capabilities(configId: id) == nil)
            let message = await host.errors[id]?.message ?? ""
            #expect(message.hasPrefix("Cannot import '\(library)'! \(library) is not available in this plugin server: "), "\(message)")
        }
        try await settleHost()
        #expect(await host.logs.filter { $0.source == .system && $0.message.hasPrefix("Plugin failed to load") }.count == 3)
    }
}
