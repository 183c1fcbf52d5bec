import Foundation
import PostHogEvents
import Testing

/// `plugin-server run-plugin` as a plugin author meets it: the examples and fixtures through the real
/// binary, with cache and storage in memory.
@Suite struct RunPluginTests {
    struct Run {
        var status: Int32
        var output: String
        var errors: String
        var lines: [String] { output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty } }
    }

    static let examples = TestEnvironment.packageRoot.appendingPathComponent("examples").path
    static let fixtures = TestEnvironment.packageRoot.appendingPathComponent("Tests/IntegrationTests/Fixtures/run-plugin").path

    func runPlugin(_ arguments: [String], input: String = "", environment extra: [String: String] = [:]) throws -> Run {
        let process = Process()
        process.executableURL = TestEnvironment.serverBinary
        process.arguments = ["run-plugin"] + arguments
        var environment = ProcessInfo.processInfo.environment
        for name in ["DATABASE_URL", "REDIS_URL", "POSTHOG_DB_NAME", "POSTHOG_REDIS_HOST", "SITE_URL"] { environment[name] = nil }
        environment.merge(extra) { $1 }
        process.environment = environment
        let directory = FileManager.default.temporaryDirectory
        let outputURL = directory.appendingPathComponent(TestEnvironment.uniqueName("run-plugin") + ".out")
        let errorURL = directory.appendingPathComponent(TestEnvironment.uniqueName("run-plugin") + ".err")
        let inputURL = directory.appendingPathComponent(TestEnvironment.uniqueName("run-plugin") + ".in")
        defer { for url in [outputURL, errorURL, inputURL] { try? FileManager.default.removeItem(at: url) } }
        try Data(input.utf8).write(to: inputURL)
        for url in [outputURL, errorURL] { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        process.standardInput = try FileHandle(forReadingFrom: inputURL)
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        killHelper(process)
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, output: (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "",
            errors: (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "")
    }

    /// `runPlugin` off the cooperative pool, for tests whose loopback servers answer on it meanwhile.
    func runPluginInBackground(_ arguments: [String], input: String = "", environment: [String: String] = [:]) async throws -> Run {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try self.runPlugin(arguments, input: input, environment: environment) })
            }
        }
    }

    @Test("the JavaScript example: setup log, events in input order, a drop, onEvent logs, the task's capture, the export at teardown")
    func helloWorldReadable() throws {
        let run = try runPlugin(
            ["\(Self.examples)/hello-world", "--events", "\(Self.examples)/events.jsonl", "--run", "runEveryMinute"])
        #expect(run.status == 0, "\(run.errors)")
        let plugins = #""$plugins_succeeded":["Hello World (1)"],"$plugins_failed":[]"#
        #expect(
            run.lines == [
                #"log: [LOG] greeting events with "hello""#,
                #"event: {"event":"$pageview","distinct_id":"user-1","timestamp":"2024-05-01T12:00:00.000Z","properties":{"$current_url":"https://example.com/","greeting":"hello",\#(plugins)},"team_id":2}"#,
                "log: [LOG] saw $pageview (1 so far)",
                "dropped: event #2 (ignore me)",
                #"event: {"event":"signed up","distinct_id":"user-1","timestamp":"2024-05-01T12:01:00.000Z","properties":{"plan":"free","greeting":"hello",\#(plugins)},"team_id":2}"#,
                "log: [LOG] saw signed up (2 so far)",
                #"capture: hello world report (distinct_id Hello World) {"seen":2}"#,
                "export: 2 events ($pageview, signed up)",
                "log: [INFO] exported $pageview, signed up",
            ])
    }

    @Test("the JavaScript example with --json and --config from standard input: one object per line, whole events")
    func helloWorldJSON() throws {
        let events = try String(contentsOfFile: "\(Self.examples)/events.jsonl", encoding: .utf8)
        let run = try runPlugin(["\(Self.examples)/hello-world", "--json", "--config", "greeting=hi"], input: events)
        #expect(run.status == 0, "\(run.errors)")
        let plugins = #""$plugins_succeeded":["Hello World (1)"],"$plugins_failed":[]"#
        let first =
            #"{"event":"$pageview","distinct_id":"user-1","timestamp":"2024-05-01T12:00:00.000Z","properties":{"$current_url":"https://example.com/","greeting":"hi",\#(plugins)},"team_id":2}"#
        let second =
            #"{"event":"signed up","distinct_id":"user-1","timestamp":"2024-05-01T12:01:00.000Z","properties":{"plan":"free","greeting":"hi",\#(plugins)},"team_id":2}"#
        #expect(
            run.lines == [
                #"{"kind":"log","type":"LOG","message":"greeting events with \"hi\""}"#,
                #"{"kind":"event","# + first.dropFirst(),
                #"{"kind":"log","type":"LOG","message":"saw $pageview (1 so far)"}"#,
                #"{"kind":"dropped","index":1,"event":"ignore me","distinct_id":"user-2"}"#,
                #"{"kind":"event","# + second.dropFirst(),
                #"{"kind":"log","type":"LOG","message":"saw signed up (2 so far)"}"#,
                #"{"kind":"export","count":2,"events":[\#(first),\#(second)]}"#,
                #"{"kind":"log","type":"INFO","message":"exported $pageview, signed up"}"#,
            ])
    }

    @Test("the single-file TypeScript example runs processEventBatch on a JSON array")
    func typeScriptFile() throws {
        let input = #"[{"event":"purchase","distinct_id":"a","properties":{"amount_cents":1999}}, {"event":"view","distinct_id":"b"}]"#
        let plugins = #""$plugins_succeeded":["currency-normalizer (1)"],"$plugins_failed":[]"#
        let readable = try runPlugin(["\(Self.examples)/currency-normalizer.ts", "--config", "currency=EUR"], input: input)
        #expect(readable.status == 0, "\(readable.errors)")
        #expect(
            readable.lines == [
                #"event: {"event":"purchase","distinct_id":"a","properties":{"amount_cents":1999,"revenue":19.99,"currency":"EUR",\#(plugins)},"team_id":2}"#,
                #"event: {"event":"view","distinct_id":"b","team_id":2,"properties":{\#(plugins)}}"#,
            ])
        let json = try runPlugin(["\(Self.examples)/currency-normalizer.ts", "--json"], input: input)
        #expect(json.status == 0, "\(json.errors)")
        #expect(
            json.lines == [
                #"{"kind":"event","event":"purchase","distinct_id":"a","properties":{"amount_cents":1999,"revenue":19.99,"currency":"USD",\#(plugins)},"team_id":2}"#,
                #"{"kind":"event","event":"view","distinct_id":"b","team_id":2,"properties":{\#(plugins)}}"#,
            ])
    }

    @Test("the multi-file example is bundled with its lib/ imports and uses plugin.json's name")
    func multiFile() throws {
        let input =
            #"{"event":"$pageview","distinct_id":"a","properties":{"$current_url":"https://x.io/p?utm_source=a&id=3","$referrer":"https://r.io/?q=1"}}"#
        let plugins = #""$plugins_succeeded":["URL Cleaner (1)"],"$plugins_failed":[]"#
        let expected =
            #"{"event":"$pageview","distinct_id":"a","properties":{"$current_url":"https://x.io/p?id=3","$referrer":"https://r.io/",\#(plugins)},"team_id":2}"#
        let readable = try runPlugin(["\(Self.examples)/multi-file", "--config", "keepParams=id"], input: input)
        #expect(readable.status == 0, "\(readable.errors)")
        #expect(readable.lines == ["event: " + expected])
        let json = try runPlugin(["\(Self.examples)/multi-file", "--config", "keepParams=id", "--json"], input: input)
        #expect(json.lines == [#"{"kind":"event","# + expected.dropFirst()])
    }

    @Test("a throwing processEvent and task exit non-zero with the errors shown; the chain goes on as in the server")
    func throwingPlugin() throws {
        let input = [
            #"{"event":"ok","distinct_id":"a"}"#, #"{"event":"boom","distinct_id":"b"}"#, #"{"event":"string","distinct_id":"c"}"#,
        ]
        .joined(separator: "\n")
        let run = try runPlugin(["\(Self.fixtures)/throwing.js", "--run", "runEveryMinute", "--run", "runEveryHour"], input: input)
        #expect(run.status == 1)
        #expect(run.errors.contains("run-plugin: 4 plugin function calls threw"))
        let lines = run.lines.filter { !$0.hasPrefix("    ") }  // stack lines
        #expect(
            lines == [
                #"event: {"event":"ok","distinct_id":"a","team_id":2,"properties":{"checked":true,"$plugins_succeeded":["throwing (1)"],"$plugins_failed":[]}}"#,
                "error: processEvent threw TypeError: cannot handle b",
                #"event: {"event":"boom","distinct_id":"b","team_id":2,"properties":{"$plugins_succeeded":[],"$plugins_failed":["throwing (1)"]}}"#,
                // A thrown string is shown as itself, not as an Error.
                "error: processEvent threw no string here",
                #"event: {"event":"string","distinct_id":"c","team_id":2,"properties":{"$plugins_succeeded":[],"$plugins_failed":["throwing (1)"]}}"#,
                "error: runEveryMinute threw Error: task failed",
                #"error: runEveryHour threw Error: Task "runEveryHour" not found for plugin config 1"#,
            ])
        #expect(run.output.contains("\n    processEvent@"))

        let json = try runPlugin(["\(Self.fixtures)/throwing.js", "--json"], input: #"{"event":"boom","distinct_id":"b"}"#)
        #expect(json.status == 1)
        #expect(json.lines.count == 2)
        #expect(
            json.lines.first?.hasPrefix(
                #"{"kind":"error","method":"processEvent","name":"TypeError","message":"cannot handle b","stack":"TypeError: cannot handle b\n"#
            ) == true)
    }

    @Test("a failing setupPlugin stops the run with exit 1 before any event; with its config it runs")
    func setupFailure() throws {
        let input = #"{"event":"x","distinct_id":"a"}"#
        let failed = try runPlugin(["\(Self.fixtures)/setup-fails.js"], input: input)
        #expect(failed.status == 1)
        #expect(failed.lines.first == "error: setupPlugin threw Error: apiKey is required")
        #expect(!failed.output.contains("event:"))
        let fine = try runPlugin(["\(Self.fixtures)/setup-fails.js", "--config", "apiKey=k1"], input: input)
        #expect(fine.status == 0, "\(fine.errors)")
        #expect(fine.lines.first == "log: [LOG] key k1")
    }

    @Test("a plugin exporting none of the functions the server calls runs with a warning, its events unchanged")
    func noEntryPoints() throws {
        let run = try runPlugin(["\(Self.fixtures)/no-entry-points.js"], input: #"{"event":"x","distinct_id":"a"}"#)
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.lines == [#"event: {"event":"x","distinct_id":"a","team_id":2}"#])
        #expect(run.errors.contains("run-plugin: warning: the plugin exports none of the functions the server calls (setupPlugin, "))
    }

    @Test("exportEvents without onEvent gets the attachment, and its capture is shown after the export call")
    func exportsAndAttachments() throws {
        let input = #"{"event":"a","distinct_id":"1"}"# + "\n\n" + #"{"event":"b","distinct_id":"2"}"#
        let run = try runPlugin(["\(Self.fixtures)/exports.js", "--attachment", "prefixFile=\(Self.fixtures)/prefix.txt"], input: input)
        #expect(run.status == 0, "\(run.errors)")
        #expect(
            run.lines == [
                #"event: {"event":"a","distinct_id":"1","team_id":2}"#,
                #"event: {"event":"b","distinct_id":"2","team_id":2}"#,
                "export: 2 events (a, b)",
                "log: [LOG] batch-1: 2",
                #"capture: exported (distinct_id exporter) {"distinct_id":"exporter","count":2}"#,
            ])
    }

    @Test("unreadable input is refused with exit 2 before any plugin code runs")
    func badInput() throws {
        let run = try runPlugin(["\(Self.fixtures)/exports.js"], input: #"{"event":"x""#)
        #expect(run.status == 2)
        #expect(run.errors.contains("run-plugin: Line 1 is not valid JSON"))
        let missing = try runPlugin(["\(Self.fixtures)/does-not-exist.js"])
        #expect(missing.status == 2)
        #expect(missing.errors.contains("run-plugin: No plugin at"))
        let absent = try runPlugin(["\(Self.fixtures)/exports.js", "--events", "\(Self.fixtures)/no-such-events.jsonl"])
        #expect(absent.status == 2 && absent.errors.contains("run-plugin: Cannot read events file"), "\(absent.errors)")
        // A device or a pipe is read to its end like a file: /dev/null is no events.
        let none = try runPlugin(["\(Self.fixtures)/no-entry-points.js", "--events", "/dev/null"])
        #expect(none.status == 0 && none.lines.isEmpty, "\(none.output)\(none.errors)")
    }

    @Test(
        "an exporter throwing RetryError under run-plugin: the retry job is shown, not run, and the run succeeds; --run-jobs retries it to the end"
    )
    func retryingExporter() throws {
        let events = #"{"event":"a","distinct_id":"u"}"# + "\n" + #"{"event":"b","distinct_id":"u"}"#
        let run = try runPlugin(["\(Self.fixtures)/retrying-exporter.js"], input: events)
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.lines.filter { $0.hasPrefix("export: 2 events (a, b)") }.count == 1, "\(run.output)")
        #expect(run.lines.contains("log: [LOG] receiver not ready for 2 events"), "\(run.output)")
        let job = try #require(run.lines.first { $0.hasPrefix("job: exportEventsWithRetry ") }, "\(run.output)")
        #expect(job.contains(#""retriesPerformedSoFar":1"#) && job.hasSuffix("(not run: --run-jobs runs it)"))

        // The retries run without waiting out their back-off: the first attempt and 15 retries, then the batch is dropped.
        let retried = try runPlugin(["\(Self.fixtures)/retrying-exporter.js", "--run-jobs"], input: events)
        #expect(retried.status == 0, "\(retried.errors)")
        #expect(retried.lines.filter { $0 == "export: 2 events (a, b)" }.count == 16, "\(retried.output)")
        let retries = retried.lines.filter { $0.hasPrefix("job: exportEventsWithRetry ") }
        #expect(retries.count == 15)
        #expect(retries.last?.contains(#""retriesPerformedSoFar":15"#) == true && retries.last?.contains("run now)") == true)
        #expect(retried.lines.last == "log: [ERROR] Dropped batch after retrying 15 times", "\(retried.output)")
        #expect(!retried.errors.contains("warning"), "\(retried.errors)")
    }

    @Test("--job runs a job with a JSON payload or with meta alone; --run-jobs runs enqueued jobs after their step, earliest first")
    func jobs() throws {
        let input = #"{"event":"later","distinct_id":"u1"}"# + "\n" + #"{"event":"now","distinct_id":"u2"}"#
        let run = try runPlugin(
            ["\(Self.fixtures)/jobs.js", "--run-jobs", "--job", #"countdown={"n":2}"#, "--job", "greet", "--json"], input: input)
        #expect(run.status == 0, "\(run.errors)")
        let records = try run.lines.map { try JSON(parsing: $0) }
        let summary = records.map { record -> String in
            switch record["kind"]?.stringValue {
            case "event": "event \(record["event"]?.stringValue ?? "?")"
            case "log": "log \(record["message"]?.stringValue ?? "?")"
            case "job": "job \(record["type"]?.stringValue ?? "?") \(record["payload"]?.jsonString ?? "?") runs \(record["runs"] == true)"
            default: record.jsonString
            }
        }
        #expect(
            summary == [
                // A job is shown as it is enqueued, during the event's processEvent, and runs after the event's step.
                #"job greet {"from":"u1"} runs true"#, "event later", "log greet u1",
                #"job greet {"from":"u2"} runs true"#, "event now", "log greet u2",
                "log countdown 2", #"job countdown {"n":1} runs true"#, "log countdown 1", #"job countdown {"n":0} runs true"#,
                "log countdown 0", "log greet with meta",
            ])
        // Enqueued jobs run in the order of their run times: the one due in 30 s after the one due now.
        let pair = try runPlugin(["\(Self.fixtures)/jobs.js", "--job", "pair={}", "--run-jobs", "--events", "/dev/null"])
        #expect(pair.status == 0, "\(pair.errors)")
        #expect(pair.lines.filter { $0.hasPrefix("log: ") } == ["log: [LOG] greet sooner", "log: [LOG] greet later"], "\(pair.output)")
        #expect(pair.lines.contains(#"job: greet {"from":"later"} (enqueued, due in 30 s, run now)"#), "\(pair.output)")

        let shown = try runPlugin(["\(Self.fixtures)/jobs.js", "--job", #"greet={"from":"cli"}"#], input: input)
        #expect(shown.status == 0, "\(shown.errors)")
        #expect(shown.lines.filter { $0.hasPrefix("job: greet ") }.allSatisfy { $0.hasSuffix("(not run: --run-jobs runs it)") })
        #expect(shown.lines.filter { $0.hasPrefix("log: ") } == ["log: [LOG] greet cli"], "\(shown.output)")
    }

    @Test("a failing or missing job is an error (exit 1); a job that always enqueues another stops after 100 runs with a warning")
    func jobFailures() throws {
        let failed = try runPlugin(
            ["\(Self.fixtures)/jobs.js", "--job", "fail", "--job", "missing", "--run", "greet", "--events", "/dev/null"])
        #expect(failed.status == 1)
        let errors = failed.lines.filter { $0.hasPrefix("error: ") }
        #expect(
            errors == [
                #"error: greet threw Error: Task "greet" not found for plugin config 1 (it is a job: --job greet runs it)"#,
                "error: jobs.fail threw Error: job failed",
                #"error: jobs.missing threw Error: Task "missing" not found for plugin "jobs" with config id 1"#,
            ], "\(failed.output)")

        let endless = try runPlugin(["\(Self.fixtures)/jobs.js", "--job", "forever={}", "--run-jobs", "--events", "/dev/null"])
        #expect(endless.status == 0, "\(endless.errors)")
        #expect(endless.lines.filter { $0.hasPrefix("job: forever {} (enqueued, now)") }.count == 101, "\(endless.output)")
        #expect(endless.errors.contains("run-plugin: warning: 1 enqueued job was not run: enqueued after 100 runs of enqueued jobs"))

        let bad = try runPlugin(["\(Self.fixtures)/jobs.js", "--job", "greet={", "--events", "/dev/null"])
        #expect(
            bad.status == 64 && bad.errors.contains(#"--job expects name or name=payload with a JSON payload, got "greet={""#),
            "\(bad.errors)")
    }

    @Test("--mmdb answers meta.geoip.locate from a MaxMind database; without it locate rejects as a server without one")
    func geoIP() throws {
        let database = TestEnvironment.packageRoot.appendingPathComponent("Tests/GeoIPTests/Fixtures/GeoLite2-City-Test.mmdb.br").path
        let events =
            #"{"event":"a","distinct_id":"u","properties":{"$ip":"89.160.20.129"}}"# + "\n"
            + #"{"event":"b","distinct_id":"u","properties":{"$ip":"10.0.0.1"}}"#
        let located = try runPlugin(["\(Self.fixtures)/geoip.js", "--mmdb", database, "--json"], input: events)
        #expect(located.status == 0, "\(located.errors)")
        let properties = located.lines.compactMap { line -> JSON? in
            guard let event = try? JSON(parsing: line), event["kind"] == "event" else { return nil }
            return event["properties"]
        }
        #expect(properties.map { $0["country"] } == ["SE", .null], "\(located.output)")
        let without = try runPlugin(["\(Self.fixtures)/geoip.js", "--json"], input: events)
        #expect(without.status == 0, "\(without.errors)")
        #expect(without.output.contains(#""geoipError":"IP location capabilities are not available in this PostHog instance!""#))
        let broken = try runPlugin(["\(Self.fixtures)/geoip.js", "--mmdb", "\(Self.fixtures)/geoip.js"], input: events)
        #expect(broken.status == 2 && broken.errors.contains("is not a MaxMind database"), "\(broken.errors)")
    }

    @Test(
        "pg connects to the database the config names, refuses other hosts, fails as node-postgres does, and the run closes what the plugin left open"
    )
    func postgres() throws {
        let admin = try #require(URLComponents(string: TestEnvironment.adminPostgresURL))
        let config = [
            "host=\(admin.host ?? "127.0.0.1")", "port=\(admin.port ?? 5432)", "user=\(admin.user ?? "postgres")",
            "database=\(admin.path.dropFirst())",
        ]
        let run = try runPlugin(["\(Self.fixtures)/pg.js"] + config.flatMap { ["--config", $0] })
        #expect(run.status == 0, "\(run.output)\(run.errors)")
        #expect(
            run.lines == [
                #"log: [LOG] rows [{"x":1}]"#,
                #"log: [LOG] types true 2021-05-04T03:02:01.500Z 2021-05-04T00:00:00.000Z [[1,2],["a","b"],["3"]]"#,
                #"log: [LOG] query: error 42601 ERROR 1 syntax error at or near "selec""#,
                "log: [LOG] refused: undefined pg: host 127.0.0.2 is not named in the plugin's config; "
                    + "plugins may only connect to databases their config names",
                "log: [LOG] refused: ECONNREFUSED connect ECONNREFUSED \(admin.host ?? "127.0.0.1"):1",
                #"log: [LOG] refused: 3D000 database "no_such_database" does not exist"#,
            ], "\(run.output)")
    }

    @Test("fetch follows a redirect and says so (res.redirected, res.url of the last response); manual mode gives the absolute Location")
    func fetchRedirect() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let run = try await runPluginInBackground(
            ["\(Self.fixtures)/fetch-redirect.js", "--run", "runEveryMinute", "--config", "base=\(base)"])
        #expect(run.status == 0, "\(run.output)\(run.errors)")
        #expect(
            run.lines == [
                "log: [LOG] followed 200 true \(base)/landed", "log: [LOG] manual 302 false \(base)/landed",
                "log: [LOG] direct 200 false \(base)/landed",
            ])
        #expect(server.received.map(\.path) == ["/redirect", "/landed", "/redirect", "/landed"])
    }

    @Test("fetch over https trusts the authorities of NODE_EXTRA_CA_CERTS, as node-fetch did, and refuses others")
    func fetchTrustsExtraAuthorities() async throws {
        let server = try HTTPSEndpoint()
        defer { server.stop() }
        let arguments = ["\(Self.fixtures)/fetch-https.js", "--run", "runEveryMinute", "--config", "url=https://localhost:\(server.port)/"]
        let trusting = try await runPluginInBackground(arguments, environment: ["NODE_EXTRA_CA_CERTS": PrivateRedis.testAuthority])
        #expect(trusting.lines == ["log: [LOG] fetched 200 hello over tls"], "\(trusting.output)\(trusting.errors)")
        // Set to nothing: the test machine's own environment may name a file.
        let untrusting = try await runPluginInBackground(arguments, environment: ["NODE_EXTRA_CA_CERTS": ""])
        #expect(untrusting.lines.count == 1 && untrusting.lines[0].hasPrefix("log: [LOG] failed FetchError"), "\(untrusting.output)")
        #expect(
            untrusting.lines.first?.hasSuffix(
                "failed, reason: certificate verify failed: the certificate of localhost is not trusted "
                    + "(its authority is not among the system's nor in NODE_EXTRA_CA_CERTS)") == true, "\(untrusting.output)")
    }

    @Test("posthog.api without keys uses --project-api-key/--personal-api-key at SITE_URL; a call's host and keys win")
    func posthogAPI() async throws {
        let server = try await LoopbackHTTPServer.start()
        defer { server.stop() }
        let site = "http://127.0.0.1:\(server.port)/site"
        let run = try await runPluginInBackground(
            [
                "\(Self.fixtures)/posthog-api.js", "--run", "runEveryMinute", "--config", "otherHost=http://127.0.0.1:\(server.port)/other",
                "--project-api-key", "phc_project", "--personal-api-key", "phx_personal",
            ],
            environment: ["SITE_URL": site])
        #expect(run.status == 0, "\(run.output)\(run.errors)")
        #expect(run.lines == ["log: [LOG] plain 200", "log: [LOG] hosted 200", "log: [LOG] own 200"])
        let received = server.received.map { [$0.method, $0.path, $0.query, $0.headers["authorization"] ?? ""] }
        #expect(
            received == [
                ["GET", "/site/api/projects/@current", "token=phc_project", "Bearer phx_personal"],
                ["GET", "/other/api/hosted", "email=a@b.com&token=phc_project", "Bearer phx_personal"],
                ["POST", "/site/api/own", "token=own-project", "Bearer own-personal"],
            ])

        let without = try await runPluginInBackground(
            ["\(Self.fixtures)/posthog-api.js", "--run", "runEveryMinute"], environment: ["SITE_URL": site])
        #expect(without.status == 1)
        #expect(
            without.lines.first
                == "error: runEveryMinute threw Error: posthog.api needs API keys under run-plugin: run it with "
                + "--project-api-key KEY --personal-api-key KEY, or pass {projectApiKey, personalApiKey} in the call",
            "\(without.output)")
        #expect(server.received.count == 3)
        let half = try await runPluginInBackground(["\(Self.fixtures)/posthog-api.js", "--project-api-key", "k"])
        #expect(half.status != 0 && half.errors.contains("--project-api-key and --personal-api-key go together"), "\(half.errors)")
    }

    @Test("a createBuffer with a 60 s timeout still holding items at the end is flushed before teardown, without waiting")
    func pendingBufferFlushes() throws {
        let input = #"{"event":"a","distinct_id":"u"}"# + "\n" + #"{"event":"b","distinct_id":"u"}"#
        let started = Date()
        let run = try runPlugin(["\(Self.fixtures)/buffer.js"], input: input)
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.lines.last == "log: [LOG] flushed 2: a, b", "\(run.output)")
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test("a .zip or .tgz plugin gets its plugin.json name and config defaults, as a folder does")
    func archiveManifest() throws {
        let files = [
            "plugin.json": #"{"name": "Zipped Greeter", "main": "src/main.js", "config": [{"key": "greeting", "default": "hey"}]}"#,
            "src/main.js": """
            export function processEvent(event, { config }) {
                event.properties = { greeting: config.greeting }
                return event
            }
            """,
        ]
        let input = #"{"event":"x","distinct_id":"u"}"#
        let plugins = #""$plugins_succeeded":["Zipped Greeter (1)"],"$plugins_failed":[]"#
        for (format, suffix) in [("zip", "zip"), ("gztar", "tgz")] {
            let bytes = try PluginSourcesTests.archive(files, folder: "greeter-main", format: format)
            let path = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("greeter") + "." + suffix)
            try Data(bytes).write(to: path)
            defer { try? FileManager.default.removeItem(at: path) }
            let run = try runPlugin([path.path], input: input)
            #expect(run.status == 0, "\(run.errors)")
            #expect(run.lines == [#"event: {"event":"x","distinct_id":"u","team_id":2,"properties":{"greeting":"hey",\#(plugins)}}"#])
            let overridden = try runPlugin([path.path, "--config", "greeting=yo"], input: input)
            #expect(overridden.lines.first?.contains(#""greeting":"yo""#) == true, "\(overridden.output)")
        }
    }

    @Test("code that fails to load is reported as a load failure, not as a setupPlugin error")
    func loadFailures() throws {
        let syntax = try runPlugin(["\(Self.fixtures)/syntax-error.js"], input: #"{"event":"x","distinct_id":"a"}"#)
        #expect(syntax.status == 1)
        #expect(syntax.lines.first?.hasPrefix("error: load failed: SyntaxError: ") == true, "\(syntax.output)")
        let missing = try runPlugin(["\(Self.fixtures)/missing-module.js", "--json"])
        #expect(missing.status == 1)
        let record = try JSON(parsing: try #require(missing.lines.first))
        #expect(record["method"] == "load" && record["kind"] == "error", "\(missing.output)")
        #expect(record["message"] == "Cannot import 'left-pad'! This package is not provided by PostHog in plugins.")
    }
}
