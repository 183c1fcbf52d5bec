import Foundation
import PostHogEvents
import Testing
import ZIPFoundation

@testable import PluginRuntime

@Suite struct MetaAndLoadingTests {
    @Test("meta has exactly the documented keys and cache/storage reach the host")
    func metaMembers() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                async function setupPlugin(meta) {
                  meta.global.keys = Object.keys(meta).join(',')
                  await meta.cache.set('obj', {a: [1, 2]})
                  await meta.cache.set('raw', 'plain', 60, {jsonSerialize: false})
                  meta.global.obj = await meta.cache.get('obj')
                  meta.global.missing = await meta.cache.get('nope', 'default')
                  meta.global.incr = await meta.cache.incr('n')
                  meta.global.len = await meta.cache.lpush('list', ['a', 'b'])
                  meta.global.range = await meta.cache.lrange('list', 0, -1)
                  try { await meta.cache.lpush('list', 5) } catch (e) { meta.global.lpushError = e.message }
                  await meta.storage.set('s', {x: 1})
                  meta.global.stored = await meta.storage.get('s')
                  meta.global.storedDefault = await meta.storage.get('absent', 'dflt')
                  await meta.storage.set('gone', 1); await meta.storage.set('gone', undefined)
                  await meta.jobs.later({p: 1}).runIn(2, 'minutes')
                  try { await meta.jobs.later({}).runIn(1, 'fortnight') } catch (e) { meta.global.unitError = e.message }
                  await posthog.capture('hello', {x: 1})
                  meta.config.greeting = 'changed'
                  meta.global.config = meta.config.greeting
                }
                function processEvent(event, meta) { event.properties.global = meta.global; return event }
                """
            ).with(config: ["greeting": "hi"])
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let global = try #require(result.event?["properties"]?["global"]?.objectValue)
        #expect(global["keys"] == "attachments,cache,config,geoip,global,jobs,metrics,storage,utils")
        #expect(global["obj"] == ["a": [1, 2]])
        #expect(global["missing"] == .null)
        #expect(global["incr"] == 1)
        #expect(global["len"] == 2)
        #expect(global["range"] == ["b", "a"])
        #expect(global["lpushError"] == "cache.lpush expects a string value or an array of strings")
        #expect(global["stored"] == ["x": 1])
        #expect(global["storedDefault"] == "dflt")
        #expect(global["unitError"] == "Unknown time unit: fortnights")
        #expect(global["config"] == "hi")
        #expect(await host.cache["@plugin/101/2/raw"] == "plain")
        #expect(await host.cacheTTLs["@plugin/101/2/raw"] == 60)
        #expect(await host.storage[1] == ["s": #"{"x":1}"#])
        let job = try #require(await host.jobs.first)
        #expect(job.type == "later" && job.payload == ["p": 1] && job.pluginConfigId == 1)
        #expect(await host.captures.first?.event == "hello")
        #expect(await host.captures.first?.distinctId == "plugin1")
    }

    @Test("fetch goes through the host and returns a node-fetch-like Response")
    func fetchThroughHost() async throws {
        let (runtime, host) = makeRuntime()
        await host.setFetchHandler { request in
            FetchResponse(
                status: 201, statusText: "Created", headers: [("Content-Type", "application/json")], body: Array(#"{"ok":true}"#.utf8))
        }
        await runtime.load([
            plugin(
                1,
                """
                import fetch from 'node-fetch'
                export async function processEvent(event) {
                  const r = await fetch('https://example.com/x?y=1', { method: 'post', body: JSON.stringify({a: 1}), headers: {'X-Test': 'v'} })
                  event.properties.status = r.status; event.properties.ok = r.ok
                  event.properties.type = r.headers.get('content-type'); event.properties.body = await r.json()
                  return event
                }
                """)
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let properties = try #require(result.event?["properties"]?.objectValue)
        #expect(properties["status"] == 201 && properties["ok"] == true && properties["type"] == "application/json")
        #expect(properties["body"] == ["ok": true])
        let request = try #require(await host.fetches.first)
        #expect(request.method == "POST" && request.url == "https://example.com/x?y=1")
        #expect(request.body == Array(#"{"a":1}"#.utf8))
    }

    @Test("fetch.Request is node-fetch 2's: fetch takes one, init overrides it, GET has no body, bodies read once")
    func requestLikeNodeFetch() async throws {
        let (runtime, host) = makeRuntime()
        await host.setFetchHandler { request in FetchResponse(status: 200, body: request.body ?? []) }
        await runtime.load([
            plugin(
                1,
                """
                const fetch = require('node-fetch')
                async function outcome(f) { try { return ['ok', await f()] } catch (e) { return [e.name, e.message] } }
                export async function processEvent(event) {
                  const p = event.properties
                  const request = new fetch.Request('https://example.com/in', { method: 'post', body: 'x=1', headers: { 'X-A': 'b' } })
                  p.request = [request.url, request.method, request.headers.get('content-type'), request.redirect, request.bodyUsed,
                    String(request), Object.keys(request).join(',')]
                  p.sent = await (await fetch(request)).text()
                  p.put = await (await fetch(request, { method: 'PUT' })).text()
                  const copy = request.clone()
                  p.read = [await request.text(), request.bodyUsed, await copy.text(), await outcome(() => request.text())]
                  p.plain = [new fetch.Request('http://example.com').url, new fetch.Request(new URL('http://example.com/a b')).url]
                  p.getBody = await outcome(() => new fetch.Request('http://example.com', { body: 'a' }))
                  p.fetchGetBody = await outcome(() => fetch('http://example.com', { body: 'a' }))
                  p.number = await (await fetch('https://example.com/n', { method: 'POST', body: 42 })).text()
                  p.same = require('node-fetch').Request === fetch.Request
                  return event
                }
                """)
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let properties = try #require(result.event?["properties"]?.objectValue)
        #expect(await host.errors[1] == nil)
        #expect(
            properties["request"]
                == [
                    "https://example.com/in", "POST", "text/plain;charset=UTF-8", "follow", false, "[object Request]",
                    "follow,compress,counter,agent,size,timeout",
                ])
        #expect(properties["sent"] == "x=1" && properties["put"] == "x=1")
        #expect(properties["read"] == ["x=1", true, "x=1", ["TypeError", "body used already for: https://example.com/in"]])
        #expect(properties["plain"] == ["http://example.com/", "http://example.com/a%20b"])
        #expect(properties["getBody"] == ["TypeError", "Request with GET/HEAD method cannot have body"])
        #expect(properties["fetchGetBody"] == ["TypeError", "Request with GET/HEAD method cannot have body"])
        #expect(properties["number"] == "42" && properties["same"] == true)
        let requests = await host.fetches
        #expect(requests.map(\.method) == ["POST", "PUT", "POST"])
        #expect(requests.map(\.url) == ["https://example.com/in", "https://example.com/in", "https://example.com/n"])
        let headers = try #require(requests.first?.headers)
        #expect(headers.map { [$0.name, $0.value] } == [["content-type", "text/plain;charset=UTF-8"], ["x-a", "b"]])
    }

    @Test("a Response is node-fetch 2's: read once, invalid JSON is a FetchError, size and timeout its only keys")
    func responseLikeNodeFetch() async throws {
        let (runtime, host) = makeRuntime()
        await host.setFetchHandler { request in
            FetchResponse(status: 500, statusText: "Internal Server Error", headers: [], body: Array("<html>oops</html>".utf8))
        }
        await runtime.load([
            plugin(
                1,
                """
                async function outcome(promise) {
                  try { return ['resolved', await promise] } catch (e) { return [e.name, e.type ?? null, e.message] }
                }
                export async function processEvent(event) {
                  const r = await fetch('http://api.test/x')
                  event.properties.json = await outcome(r.json())
                  event.properties.again = await outcome(r.text())
                  event.properties.shown = [JSON.stringify(r), String(r), Object.keys(r).join(','), r.bodyUsed, r.ok, r.status]
                  const fresh = await fetch('http://api.test/y')
                  const copy = fresh.clone()
                  event.properties.both = [await fresh.text(), await copy.text()]
                  return event
                }
                """)
        ])
        let properties = try #require(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"]?.objectValue)
        #expect(
            properties["json"]
                == [
                    "FetchError", "invalid-json",
                    "invalid json response body at http://api.test/x reason: JSON Parse error: Unrecognized token '<'",
                ])
        #expect(properties["again"] == ["TypeError", nil, "body used already for: http://api.test/x"])
        #expect(properties["shown"] == [#"{"size":0,"timeout":0}"#, "[object Response]", "size,timeout", true, false, 500])
        #expect(properties["both"] == ["<html>oops</html>", "<html>oops</html>"])
    }

    @Test("a failed fetch rejects with node-fetch's FetchError: system errors carry code and errno")
    func fetchErrors() async throws {
        let (runtime, host) = makeRuntime()
        await host.setFetchHandler { request in
            if request.url.contains("down") { throw PluginHostError("connect ECONNREFUSED 127.0.0.1:1") }
            if request.url.contains("slow") { throw PluginHostError("network timeout at: \(request.url)") }
            throw PluginHostError("getaddrinfo ENOTFOUND nowhere.invalid")
        }
        await runtime.load([
            plugin(
                1,
                """
                async function describe(url) {
                  try { await fetch(url); return 'resolved' }
                  catch (e) { return [e.name, e.type, e.code ?? null, e.errno ?? null, e.message] }
                }
                export async function processEvent(event) {
                  event.properties.down = await describe('http://127.0.0.1:1/down')
                  event.properties.slow = await describe('http://example.test/slow')
                  event.properties.unknown = await describe('http://nowhere.invalid/')
                  return event
                }
                """)
        ])
        let properties = try #require(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"])
        #expect(
            properties["down"]
                == [
                    "FetchError", "system", "ECONNREFUSED", "ECONNREFUSED",
                    "request to http://127.0.0.1:1/down failed, reason: connect ECONNREFUSED 127.0.0.1:1",
                ])
        #expect(
            properties["slow"] == ["FetchError", "request-timeout", nil, nil, "network timeout at: http://example.test/slow"])
        #expect(
            properties["unknown"]
                == [
                    "FetchError", "system", "ENOTFOUND", "ENOTFOUND",
                    "request to http://nowhere.invalid/ failed, reason: getaddrinfo ENOTFOUND nowhere.invalid",
                ])
    }

    @Test("libraries: crypto, Buffer, URL, zlib and the refused-module error")
    func libraries() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                const crypto = require('crypto'); const zlib = require('zlib'); const { URL: U } = require('url')
                function processEvent(event) {
                  const p = event.properties
                  p.sha1 = crypto.createHash('sha1').update('abc').digest('hex')
                  p.hmac = crypto.createHmac('sha256', 'key').update('msg').digest('base64')
                  try { crypto.createSign('RSA-SHA256').update('msg').sign('not a key') } catch (e) { p.badKey = e.message }
                  p.b64 = Buffer.from('héllo').toString('base64'); p.back = Buffer.from(p.b64, 'base64').toString()
                  p.hex = Buffer.from('ff00', 'hex').length; p.rnd = crypto.randomBytes(8).toString('hex').length
                  const u = new U('https://Example.com:443/a/../b?x=1#h'); u.searchParams.set('y', 'two words')
                  p.url = u.href; p.host = u.host
                  p.gz = zlib.gunzipSync(zlib.gzipSync(Buffer.from('round trip'))).toString()
                  p.btoa = btoa('hi'); p.isVM = isVM; p.hasTimers = typeof setTimeout
                  return event
                }
                """),
            plugin(2, "import SQS from 'aws-sdk/clients/sqs'\nexport function processEvent(e) { return new SQS() }"),
            plugin(3, "const lib = require('./lib')"),
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let p = try #require(result.event?["properties"]?.objectValue)
        #expect(p["sha1"] == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(p["hmac"] == "LZPLwb4We8sWN6SiPL/wGnh48MUO6DOVTqUiG7G4xig=")
        #expect(p["badKey"]?.stringValue?.contains("not a PEM RSA private key") == true, "\(p["badKey"] ?? nil)")
        #expect(p["b64"] == "aMOpbGxv" && p["back"] == "héllo" && p["hex"] == 2 && p["rnd"] == 16)
        #expect(p["url"] == "https://example.com/b?x=1&y=two+words#h" && p["host"] == "example.com")
        #expect(p["gz"] == "round trip" && p["btoa"] == "aGk=" && p["isVM"] == true && p["hasTimers"] == "undefined")
        #expect(
            await host.errors[2]?.message.hasPrefix(
                "Cannot import 'aws-sdk/clients/sqs'! aws-sdk/clients/sqs is not available in this plugin server: ") == true)
        #expect(await host.errors[3]?.message == "Cannot import './lib'! This package is not provided by PostHog in plugins.")
        let system = await host.logs.filter { $0.source == .system && $0.config.id == 2 }.map(\.message)
        #expect(system == ["Plugin failed to load (instance ID instance-1)."])
    }

    /// Expected values are Node's on the same code.
    @Test("Buffer searches, fills, copies, swaps, reads and writes numbers as Node's, with its range errors")
    func bufferMethods() async throws {
        let (runtime, _) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                function processEvent(event) {
                  const b = Buffer.from('hello world'), out = []
                  out.push(b.includes('wor'), b.indexOf('o'), b.lastIndexOf('o'), b.indexOf(Buffer.from('wor')), b.indexOf(111, 5), b.lastIndexOf('o', 5))
                  out.push(Buffer.alloc(4).fill('ab').toString(), Buffer.alloc(5, 'xy').toString())
                  const c = Buffer.alloc(16)
                  out.push(c.writeUInt32LE(0xdeadbeef, 0), c.writeInt16BE(-2, 4), c.writeDoubleLE(1.5, 8), c.toString('hex'))
                  out.push(c.readUInt32LE(0), c.readInt16BE(4), c.readDoubleLE(8), c.readUint8(0), String(c.readBigUInt64LE(8)), c.readUIntBE(0, 3), c.readIntLE(4, 2))
                  const d = Buffer.alloc(4)
                  out.push(Buffer.from('abcd').copy(d, 1), d.toString('hex'), Buffer.from('abcd').swap16().toString(), Buffer.from(new String('abc')).toString())
                  try { Buffer.alloc(1).readUInt8(5) } catch (e) { out.push(e.code + ': ' + e.message) }
                  try { Buffer.alloc(1).writeUInt8(256) } catch (e) { out.push(e.code + ': ' + e.message) }
                  event.properties.out = out
                  return event
                }
                """)
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        #expect(
            result.event?["properties"]?["out"] == [
                true, 4, 7, 6, 7, 4, "abab", "xyxyx", 4, 6, 16, "efbeaddefffe0000000000000000f83f", 3_735_928_559, -2, 1.5, 239,
                "4609434218613702656", 15_711_917, -257, 3, "00616263", "badc", "abc",
                #"ERR_OUT_OF_RANGE: The value of "offset" is out of range. It must be >= 0 and <= 0. Received 5"#,
                #"ERR_OUT_OF_RANGE: The value of "value" is out of range. It must be >= 0 and <= 255. Received 256"#,
            ])
    }

    /// Expected values are Node 20's WHATWG `URL` on the same inputs.
    @Test("the global URL parses hosts as WHATWG URL: Punycode, IPv4 numbers, forbidden characters, userinfo, tabs")
    func whatwgHosts() async throws {
        let (runtime, _) = makeRuntime()
        let cases =
            #"["http://\u4f8b\u3048.\u30c6\u30b9\u30c8/\u30d1\u30b9/", "http://b\u00fccher.de/", "http://exa mple.com/", "http://ex<ample.com/", "http://0x7f.1/a", "http://127.1/", "http://[::1]:80/x", "https://example.com:443/a/./b/../c", "http://user name:p@ss@host.com/", "http://example.com/a?b=c d#e f", "http://example.com/%7Efoo", "HTTP://EXAMPLE.COM", "mailto:Someone@Example.com", "http://example.com:99999/", "http://", "https://example.com/\u00e9", "javascript:alert(1)", "http://example.com./", "http://EXAMPLE.com/A%2fB", "http://1.2.3.4.5/", "http://256.1.1.1/", "http://example.com/a\tb"]"#
        await runtime.load([
            plugin(
                1,
                """
                function processEvent(event) {
                  const out = {}
                  for (const u of \(cases)) {
                    try { const p = new URL(u); out[u] = [p.href, p.hostname, p.pathname] } catch (e) { out[u] = e.name }
                  }
                  const moved = new URL('http://a.test/'); moved.hostname = 'Bücher.DE'; out.setter = moved.href
                  moved.hostname = 'bad host'; out.refused = moved.href
                  event.properties = out
                  return event
                }
                """)
        ])
        let out = try #require(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"]?.objectValue)
        let expected: [String: JSON] = [
            "http://例え.テスト/パス/": ["http://xn--r8jz45g.xn--zckzah/%E3%83%91%E3%82%B9/", "xn--r8jz45g.xn--zckzah", "/%E3%83%91%E3%82%B9/"],
            "http://bücher.de/": ["http://xn--bcher-kva.de/", "xn--bcher-kva.de", "/"],
            "http://exa mple.com/": "TypeError",
            "http://ex<ample.com/": "TypeError",
            "http://0x7f.1/a": ["http://127.0.0.1/a", "127.0.0.1", "/a"],
            "http://127.1/": ["http://127.0.0.1/", "127.0.0.1", "/"],
            "http://[::1]:80/x": ["http://[::1]/x", "[::1]", "/x"],
            "https://example.com:443/a/./b/../c": ["https://example.com/a/c", "example.com", "/a/c"],
            "http://user name:p@ss@host.com/": ["http://user%20name:p%40ss@host.com/", "host.com", "/"],
            "http://example.com/a?b=c d#e f": ["http://example.com/a?b=c%20d#e%20f", "example.com", "/a"],
            "http://example.com/%7Efoo": ["http://example.com/%7Efoo", "example.com", "/%7Efoo"],
            "HTTP://EXAMPLE.COM": ["http://example.com/", "example.com", "/"],
            "mailto:Someone@Example.com": ["mailto:Someone@Example.com", "", "Someone@Example.com"],
            "http://example.com:99999/": "TypeError",
            "http://": "TypeError",
            "https://example.com/é": ["https://example.com/%C3%A9", "example.com", "/%C3%A9"],
            "javascript:alert(1)": ["javascript:alert(1)", "", "alert(1)"],
            "http://example.com./": ["http://example.com./", "example.com.", "/"],
            "http://EXAMPLE.com/A%2fB": ["http://example.com/A%2fB", "example.com", "/A%2fB"],
            "http://1.2.3.4.5/": "TypeError",
            "http://256.1.1.1/": "TypeError",
            "http://example.com/a\tb": ["http://example.com/ab", "example.com", "/ab"],
        ]
        for (input, answer) in expected { #expect(out[input] == answer, "\(input)") }
        #expect(out["setter"] == "http://xn--bcher-kva.de/" && out["refused"] == "http://xn--bcher-kva.de/")
    }

    /// Expected values are Node 20's WHATWG `URL` on the same inputs.
    @Test("the global URL keeps an empty query or fragment, a base's query, and file URLs' drive letters in the path")
    func whatwgQueriesAndFiles() async throws {
        let (runtime, _) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                function processEvent(event) {
                  const href = (u, b) => [new URL(u, b).href, new URL(u, b).search, new URL(u, b).hash, new URL(u, b).pathname]
                  const set = new URL('http://a.com/x'); set.search = '?'; set.hash = '#'
                  const cleared = new URL('http://a.com/x?#'); cleared.search = ''; cleared.hash = ''
                  const emptied = new URL('http://a.com/x?a=1'); emptied.searchParams.delete('a')
                  event.properties = {
                    query: href('http://a.com/x?'), both: href('http://a.com/x?#'), fragment: href('http://a.com/x#'),
                    hashOnly: href('#', 'http://a.com/x?y#z'), same: href('', 'http://a.com/x?y#z'), other: href('w', 'http://a.com/x?y#z'),
                    drive: href('file:///C:/Dir/'), driveAsHost: href('file://C:/Dir/x'), local: href('file://localhost/etc/x'),
                    share: href('file://server/share/x'),
                    set: set.href, cleared: cleared.href, emptied: emptied.href,
                  }
                  return event
                }
                """)
        ])
        let out = try #require(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"]?.objectValue)
        let expected: [String: JSON] = [
            "query": ["http://a.com/x?", "", "", "/x"],
            "both": ["http://a.com/x?#", "", "", "/x"],
            "fragment": ["http://a.com/x#", "", "", "/x"],
            "hashOnly": ["http://a.com/x?y#", "?y", "", "/x"],
            "same": ["http://a.com/x?y", "?y", "", "/x"],
            "other": ["http://a.com/w", "", "", "/w"],
            "drive": ["file:///C:/Dir/", "", "", "/C:/Dir/"],
            "driveAsHost": ["file:///C:/Dir/x", "", "", "/C:/Dir/x"],
            "local": ["file:///etc/x", "", "", "/etc/x"],
            "share": ["file://server/share/x", "", "", "/share/x"],
            "set": "http://a.com/x?#",
            "cleared": "http://a.com/x",
            "emptied": "http://a.com/x",
        ]
        for (input, answer) in expected { #expect(out[input] == answer, "\(input)") }
    }

    /// Expected values are Node 20's `url` module on the same inputs.
    @Test("url.parse, url.format and url.resolve answer as Node's legacy url API")
    func legacyURL() async throws {
        let (runtime, _) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                #"""
                const url = require('url')
                function processEvent(event) {
                  const p = event.properties
                  const u = url.parse('http://user:pa%20ss@Example.COM:8080/p/a/t/h?query=string&a=1&a=2#hash', true)
                  p.parsed = [u.protocol, u.slashes, u.auth, u.host, u.port, u.hostname, u.hash, u.search, u.pathname, u.path, u.href]
                  p.query = Object.assign({}, u.query); p.queryProto = Object.getPrototypeOf(u.query)
                  const bare = url.parse('https://posthog.com')
                  p.bare = [bare.pathname, bare.path, bare.href, bare.query, bare.search]
                  const relative = url.parse('/relative/path?x=1')
                  p.relative = [relative.protocol, relative.host, relative.pathname, relative.query, relative.href]
                  const spaced = url.parse('HTTP://[::1]:3000/x y?q=a b#c d')
                  p.spaced = [spaced.hostname, spaced.host, spaced.pathname, spaced.search, spaced.hash]
                  p.mailto = [url.parse('mailto:someone@example.com').auth, url.parse('mailto:someone@example.com').host]
                  p.protocolRelative = [url.parse('//cdn.example.com/lib.js').host, url.parse('//cdn.example.com/lib.js', false, true).host]
                  p.emptyPort = url.parse('https://app.posthog.com:/api').href
                  p.format = [
                    url.format({ protocol: 'https', hostname: 'example.com', pathname: '/some/path', query: { page: 1, list: ['a', 'b c'] } }),
                    url.format({ protocol: 'http:', host: 'a.com:81', pathname: 'x#y', search: 'q=1', hash: 'h', auth: 'u:p w' }),
                    url.format(new URL('https://a.test/x?y=1')), url.parse('http://x.com/a?b=c').format(),
                  ]
                  p.resolve = [url.resolve('/one/two/three', 'four'), url.resolve('http://example.com/one', '/two'),
                    url.resolve('http://example.com/a/b', '../c?d=1')]
                  try { url.parse(5) } catch (e) { p.notString = e.name }
                  return event
                }
                """#)
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let p = try #require(result.event?["properties"]?.objectValue)
        #expect(
            p["parsed"]
                == [
                    "http:", true, "user:pa ss", "example.com:8080", "8080", "example.com", "#hash", "?query=string&a=1&a=2", "/p/a/t/h",
                    "/p/a/t/h?query=string&a=1&a=2", "http://user:pa%20ss@example.com:8080/p/a/t/h?query=string&a=1&a=2#hash",
                ])
        #expect(p["query"] == ["query": "string", "a": ["1", "2"]] && p["queryProto"] == .null)
        #expect(p["bare"] == ["/", "/", "https://posthog.com/", .null, .null])
        #expect(p["relative"] == [.null, .null, "/relative/path", "x=1", "/relative/path?x=1"])
        #expect(p["spaced"] == ["::1", "[::1]:3000", "/x%20y", "?q=a%20b", "#c%20d"])
        #expect(p["mailto"] == ["someone", "example.com"])
        #expect(p["protocolRelative"] == [.null, "cdn.example.com"])
        #expect(p["emptyPort"] == "https://app.posthog.com/api")
        #expect(
            p["format"]
                == [
                    "https://example.com/some/path?page=1&list=a&list=b%20c", "http://u:p%20w@a.com:81/x%23y?q=1#h",
                    "https://a.test/x?y=1", "http://x.com/a?b=c",
                ])
        #expect(p["resolve"] == ["/one/two/four", "http://example.com/two", "http://example.com/c?d=1"])
        #expect(p["notString"] == "TypeError")
    }

    @Test("hostile code reaches nothing and leaves other sandboxes unaffected")
    func hostileCode() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1, order: 1,
                """
                var secret = 'mine'
                function processEvent(event) {
                  let process = 'none'
                  try { process = typeof this.constructor.constructor('return process')() } catch (e) { process = 'threw ' + e.name }
                  Object.prototype.polluted = 'yes'; Array.prototype.push = () => 0; JSON.stringify = () => 'hacked'
                  event.properties.process = process
                  event.properties.require = (() => { try { globalThis['req' + 'uire']('fs'); return 'loaded' } catch (e) { return e.message } })()
                  return event
                }
                """),
            plugin(
                2, order: 2,
                """
                function processEvent(event) {
                  event.properties.polluted = ({}).polluted === undefined ? 'clean' : 'polluted'
                  event.properties.secret = typeof secret
                  return event
                }
                """),
        ])
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let p = try #require(result.event?["properties"]?.objectValue)
        #expect(p["process"] == "threw ReferenceError")
        #expect(p["require"] == "Cannot import 'fs'! This package is not provided by PostHog in plugins.")
        #expect(p["polluted"] == "clean" && p["secret"] == "undefined")
        #expect(await host.errors.isEmpty)
    }

    @Test("zlib: brotli with a quality parameter, and the callback forms answering on a later turn with the error first")
    func zlibBrotliAndCallbacks() async throws {
        let (runtime, _) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                const zlib = require('zlib')
                async function processEvent(event) {
                  const p = event.properties, text = 'over the rainbow '.repeat(50)
                  const fast = zlib.brotliCompressSync(text, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } })
                  const best = zlib.brotliCompressSync(Buffer.from(text))
                  p.brotli = [fast.length < text.length, best.length <= fast.length, zlib.brotliDecompressSync(best).toString() === text]
                  const order = []
                  const gzipped = new Promise((resolve) => zlib.gzip(text, (error, out) => { order.push('callback'); resolve([error, zlib.gunzipSync(out).toString() === text]) }))
                  order.push('after call')
                  p.gzip = await gzipped
                  p.order = order
                  p.corrupt = await new Promise((resolve) => zlib.brotliDecompress(Buffer.from('not brotli'), (error) => resolve(error && error.message)))
                  return event
                }
                """)
        ])
        let p = try #require(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"])
        #expect(p["brotli"] == [true, true, true])
        #expect(p["gzip"] == [nil, true])
        #expect(p["order"] == ["after call", "callback"])
        #expect(p["corrupt"] == "Decompression failed")
    }

    @Test("error stacks name the plugin author's lines and files, through TypeScript and bundling")
    func stacksUseSourceLines() async throws {
        let (runtime, host) = makeRuntime()
        let typescript = """
            import { Plugin } from '@posthog/plugin-scaffold'

            interface Shape {
                a: number
            }

            export async function processEvent(event: any) {
                const shape: Shape = { a: 1 }
                if (shape.a === 1) {
                    throw new Error('line ten')
                }
                return event
            }

            export function onEvent(event: any) {
                console.error(new Error('line sixteen').stack)
                console.error('failed:', new Error('seventeen').stack)
                console.log('kept\\nas written foo@prelude.js:1:1\\n' + JSON.stringify({ stack: new Error('x').stack }))
                try { (null as any).x } catch (e) { console.error('engine:', e.stack) }
            }
            """
        let zip = try makeZip([
            "repo/plugin.json": #"{"name": "x", "main": "src/index.ts"}"#,
            "repo/src/index.ts": "import { check } from './lib/check'\n\nexport function processEvent(e) { check(e); return e }",
            "repo/src/lib/check.ts":
                "type Event = { event: string }\n\nexport function check(e: Event): void {\n    throw new Error('in ' + e.event)\n}",
        ])
        var bundled = plugin(2, order: 2, "")
        bundled.code = .archive(zip)
        await runtime.load([plugin(1, order: 1, typescript), bundled])
        _ = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        let single = try #require(await host.errors[1]?.stack)
        #expect(single.hasPrefix("Error: line ten\nprocessEvent@index.ts:10:"), "\(single)")
        let fromBundle = try #require(await host.errors[2]?.stack)
        #expect(fromBundle.contains("check@src/lib/check.ts:4:"), "\(fromBundle)")
        #expect(fromBundle.contains("processEvent@src/index.ts:3:"), "\(fromBundle)")
        // The server's wrappers around the call are not the author's frames.
        #expect(!single.contains("prelude.js") && !fromBundle.contains("prelude.js"), "\(single)\n\(fromBundle)")
        // A stack the plugin logs itself.
        await runtime.onEvent(teamId: 2, event: sampleEvent)
        try await settleHost()
        let logged = await host.logs.filter { $0.config.id == 1 && $0.source == .console }.map(\.message)
        try #require(logged.count == 4, "\(logged)")
        #expect(logged[0].hasPrefix("Error: line sixteen\nonEvent@index.ts:16:") && !logged[0].contains("prelude.js"), "\(logged[0])")
        #expect(logged[1].hasPrefix("failed: Error: seventeen\nonEvent@index.ts:17:") && !logged[1].contains("prelude.js"), "\(logged[1])")
        // Text that only looks like a frame, and a stack inside JSON, are not frames of the message.
        #expect(logged[2].hasPrefix("kept\nas written foo@prelude.js:1:1\n{\"stack\":\"Error: x\\nonEvent@index.ts"), "\(logged[2])")
        #expect(logged[2].contains("@prelude.js:"), "\(logged[2])")
        // An error the engine made has no head line: logged after a label, its stack starts on the
        // label's line, and the label stays.
        #expect(logged[3].hasPrefix("engine: onEvent@index.ts:19:") && !logged[3].contains("prelude.js"), "\(logged[3])")
    }

    /// Expected values are Node 20's on the same code.
    @Test("error.stack starts with the error's Name: message line, as V8's, read when first asked for")
    func errorStacksHaveHeads() async throws {
        let (runtime, _) = makeRuntime()
        await runtime.load([
            plugin(
                1,
                """
                class MyError extends Error { constructor(m) { super(m); this.name = 'MyError' } }
                function processEvent(event) {
                  const head = (e) => e.stack.split('\\n')[0]
                  const renamed = new Error('a'); renamed.message = 'b'
                  const read = new Error('a'); read.stack; read.message = 'c'
                  const assigned = new Error('k'); assigned.stack = 'custom'
                  const mine = new MyError('x')
                  const frozen = Object.freeze(new RangeError('cold'))
                  event.properties = {
                    plain: head(new Error('boom')), called: head(TypeError('no new')), subclass: head(mine),
                    renamed: head(renamed), read: head(read), assigned: assigned.stack, frozen: head(frozen),
                    frames: new Error('f').stack.split('\\n')[1].startsWith('processEvent@'),
                    identity: [mine instanceof MyError, mine instanceof Error, mine.constructor === MyError,
                      new Error().constructor === Error, TypeError('t') instanceof TypeError, Error.name],
                    hidden: [JSON.stringify(new Error('q')), Object.keys(new Error('q')).length],
                  }
                  return event
                }
                """)
        ])
        let out = try #require(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"]?.objectValue)
        #expect(out["plain"] == "Error: boom")
        #expect(out["called"] == "TypeError: no new")
        #expect(out["subclass"] == "MyError: x")
        #expect(out["renamed"] == "Error: b")
        #expect(out["read"] == "Error: a")
        #expect(out["assigned"] == "custom")
        #expect(out["frozen"] == "RangeError: cold")
        #expect(out["frames"] == true)
        #expect(out["identity"] == [true, true, true, true, true, "Error"])
        #expect(out["hidden"] == ["{}", 0])
    }

    /// Expected values are Node 20's on the same code (frames below processEvent aside: Node's module loader).
    @Test("stacks keep Error.stackTraceLimit frames, 10 unless the plugin changes it, as V8's; a stack overflow records 10")
    func stackTraceLimit() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1, order: 1,
                """
                function processEvent(event) {
                  const lines = (e) => e.stack.split('\\n').length
                  const made = (n) => n ? made(n - 1) : new Error('deep')
                  const thrown = (n) => n ? thrown(n - 1) : null.x
                  let engine
                  try { thrown(50) } catch (e) { engine = lines(e) }
                  const limits = [Error.stackTraceLimit, lines(made(50)), engine]
                  Error.stackTraceLimit = 3
                  limits.push(lines(made(50)))
                  Error.stackTraceLimit = 10
                  event.properties = { limits }
                  return event
                }
                """),
            plugin(2, order: 2, "function processEvent(event) { const f = () => f(); f() }"),
        ])
        let out = try #require(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"]?.objectValue)
        // Node: the head line and 10 frames, 10 frames of an engine error (plus its head line in Node), 3.
        #expect(out["limits"] == [10, 11, 10, 4])
        let overflow = try #require(await host.errors[2])
        #expect(overflow.message == "Maximum call stack size exceeded.")
        let frames = (overflow.stack ?? "").split(separator: "\n").filter { $0.hasPrefix("f@") || $0.contains(" f (") }
        #expect(frames.count == 10, "\(overflow.stack ?? "")")
    }

    @Test("zip and tgz archives with a top-level folder load, and a multi-file archive is bundled")
    func archives() async throws {
        let (runtime, host) = makeRuntime()
        let main = "const { mark } = require('./lib/mark')\nexport function processEvent(e) { e.properties.mark = mark; return e }"
        let zip = try makeZip([
            "repo-abc/plugin.json": #"{"name": "x", "main": "src/index.ts"}"#,
            "repo-abc/src/index.ts": main, "repo-abc/src/lib/mark.ts": "export const mark: string = 'zipped'",
        ])
        let tgz = try makeTgz(["package/index.js": "function processEvent(e) { e.properties.tgz = true; return e }"])
        var zipped = plugin(1, order: 1, "")
        zipped.code = .archive(zip)
        var tarred = plugin(2, order: 2, "")
        tarred.code = .archive(tgz)
        var broken = plugin(3, order: 3, "")
        broken.code = .archive([1, 2, 3])
        await runtime.load([zipped, tarred, broken])
        let p = try #require(await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"]?.objectValue)
        #expect(p["mark"] == "zipped" && p["tgz"] == true)
        #expect(await host.errors[3]?.message == "Could not read archive as .zip or .tgz")
    }

    @Test("tasks, jobs (falsy payload quirk), processEventBatch adapter and onEvent")
    func tasksAndJobs() async throws {
        let (runtime, host) = makeRuntime()
        await runtime.load([
            plugin(
                1, order: 1,
                """
                export const runEveryHour = false
                export async function runEveryMinute(meta) { await meta.cache.set('ran', true) }
                export const jobs = { work: async (a, b) => { await (b || a).cache.set('job', b ? a : 'meta-first') } }
                export async function onEvent(event, { cache }) { await cache.set('seen', event.event) }
                """),
            plugin(2, order: 2, "function processEventBatch(events) { return events.map(e => ({...e, batched: true})) }"),
        ])
        #expect(await runtime.schedule()["runEveryMinute"] == [1])
        #expect(await runtime.schedule()["runEveryHour"] == [])
        try await runtime.runTask(configId: 1, name: "runEveryMinute")
        try await runtime.runJob(configId: 1, type: "work", payload: ["n": 1])
        #expect(await host.cache["@plugin/101/2/job"] == #"{"n":1}"#)
        try await runtime.runJob(configId: 1, type: "work", payload: .null)
        #expect(await host.cache["@plugin/101/2/job"] == #""meta-first""#)
        await #expect(throws: PluginError.self) { try await runtime.runJob(configId: 1, type: "nope", payload: .null) }
        await runtime.onEvent(teamId: 2, event: sampleEvent)
        #expect(await host.cache["@plugin/101/2/seen"] == #""$pageview""#)
        #expect(await host.cache["@plugin/101/2/ran"] == "true")
        let result = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        #expect(result.event?["batched"] == true)
    }

    @Test("reload keeps unchanged sandboxes and tears down replaced and removed ones")
    func reload() async throws {
        let (runtime, host) = makeRuntime()
        let keep = plugin(
            1, order: 1,
            "function setupPlugin(m) { m.global.n = 0 } function processEvent(e, m) { e.properties.n = ++m.global.n; return e }")
        let replace = plugin(2, order: 2, "function teardownPlugin() { console.log('bye 2') }")
        await runtime.load([keep, replace])
        _ = await runtime.processEventChain(teamId: 2, event: sampleEvent)
        var replaced = replace
        replaced.updatedMarker = "v2"
        await runtime.reload([keep, replaced])
        let n = await runtime.processEventChain(teamId: 2, event: sampleEvent).event?["properties"]?["n"]
        #expect(n == 2)
        await runtime.reload([keep])
        await runtime.teardownAll()
        try await settleHost()
        let messages = await host.logs.filter { $0.config.id == 2 }.map(\.message)
        // The replacement is built before the replaced one is torn down, so events never wait on a reload.
        // Console lines and system lines are written by separate writers: only each one's order is fixed.
        #expect(Array(messages.prefix(2)) == ["Plugin loaded (instance ID instance-1).", "Plugin loaded (instance ID instance-1)."])
        #expect(messages.filter { $0 == "bye 2" }.count == 2)
        #expect(messages.filter { $0.hasPrefix("Plugin unloaded") }.count == 2)
        #expect(messages.count == 6)
        #expect(await runtime.sandboxCounts() == [0])
    }
}

func makeZip(_ files: [String: String]) throws -> [UInt8] {
    let archive = try Archive(data: Data(), accessMode: .create, pathEncoding: nil)
    for (path, text) in files.sorted(by: { $0.key < $1.key }) {
        let data = Data(text.utf8)
        try archive.addEntry(
            with: path, type: .file, uncompressedSize: Int64(data.count),
            provider: { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            })
    }
    return Array(archive.data!)
}

func makeTgz(_ files: [String: String]) throws -> [UInt8] {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tgz-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    for (path, text) in files {
        let url = directory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
    let output = directory.appendingPathComponent("out.tgz")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
    process.arguments = ["czf", output.path, "-C", directory.path] + Set(files.keys.map { String($0.split(separator: "/")[0]) }).sorted()
    try process.run()
    process.waitUntilExit()
    return Array(try Data(contentsOf: output))
}
