import Testing

@testable import RedisClient

@Suite("Commands against a real redis-server")
struct CommandTests {
    @Test("GET and SET with expiry and NX, binary values included")
    func getSet() async throws {
        try await withRedis { client, _ in
            #expect(try await client.get("missing") == nil)
            let binary: [UInt8] = [0, 1, 13, 10, 255]
            #expect(try await client.set("binary", binary))
            #expect(try await client.get("binary") == binary)
            #expect(try await client.set("text", "héllo"))
            #expect(try await client.getString("text") == "héllo")
            #expect(try await client.set("text", "other", onlyIfAbsent: true) == false)
            #expect(try await client.getString("text") == "héllo")
            #expect(try await client.set("short", "x", expireMilliseconds: 50))
            #expect(try await client.set("long", "x", expireSeconds: 100))
            #expect(try await client.send("TTL", ["long"]).int ?? 0 > 90)
            try await Task.sleep(for: .milliseconds(120))
            #expect(try await client.exists("short") == false)
            #expect(try await client.ping() == "PONG")
        }
    }

    @Test("INCR, EXPIRE, DEL and EXISTS")
    func counters() async throws {
        try await withRedis { client, _ in
            #expect(try await client.incr("n") == 1)
            #expect(try await client.incr("n") == 2)
            #expect(try await client.incr("n", by: 10) == 12)
            #expect(try await client.expire("n", seconds: 100))
            #expect(try await client.expire("nothing", seconds: 100) == false)
            #expect(try await client.exists("n"))
            try await client.set("m", "1")
            #expect(try await client.del(["n", "m", "nothing"]) == 2)
            #expect(try await client.exists("n") == false)
        }
    }

    @Test("list commands: push, length, range, remove, pop and move")
    func lists() async throws {
        try await withRedis { (client: RedisClient, _: RedisServer) async throws -> Void in
            #expect(try await client.rpush("l", ["a", "b", "c"]) == 3)
            #expect(try await client.lpush("l", [[0, 255]]) == 4)
            #expect(try await client.llen("l") == 4)
            #expect(try await client.lrange("l", 0, -1) == [[0, 255], "a".bytes, "b".bytes, "c".bytes])
            #expect(try await client.lrem("l", 0, "b") == 1)
            #expect(try await client.lpop("l", count: 2) == [[0, 255], "a".bytes])
            #expect(try await client.lpop("empty", count: 2) == [])
            #expect(try await client.lmove("l", "other") == "c".bytes)
            #expect(try await client.lmove("l", "other") == nil)
            #expect(try await client.lrange("other", 0, -1) == ["c".bytes])
        }
    }

    @Test("set commands: add, remove, members")
    func sets() async throws {
        try await withRedis { (client: RedisClient, _: RedisServer) async throws -> Void in
            #expect(try await client.sadd("s", ["a", "b", "a"]) == 2)
            #expect(try await client.srem("s", ["a", "z"]) == 1)
            #expect(try await client.smembers("s") == ["b".bytes])
            #expect(try await client.sadd("s", [[1, 2]]) == 1)
            #expect(Set(try await client.smembers("s")) == ["b".bytes, [1, 2]])
        }
    }

    @Test("a server error reply is thrown with its message and is not a connection problem")
    func serverError() async throws {
        try await withRedis { client, _ in
            try await client.set("k", "v")
            let error = try await #require(throws: RedisError.self) { try await client.llen("k") }
            #expect(error.code == .server)
            #expect(error.serverErrorPrefix == "WRONGTYPE")
            #expect(error.command == "LLEN")
            #expect(!error.isConnectionProblem)
            // The connection stays usable after an error reply.
            #expect(try await client.getString("k") == "v")
        }
    }

    @Test("a pipeline sends all commands at once and returns error replies inline")
    func pipeline() async throws {
        try await withRedis { client, _ in
            let replies = try await client.pipeline([
                ["SET", "p", "1"], ["INCR", "p"], ["LPUSH", "p", "x"], ["GET", "p"], ["GET", "none"],
            ])
            #expect(replies.count == 5)
            #expect(replies[0] == .simpleString("OK"))
            #expect(replies[1] == .integer(2))
            guard case .error(let message) = replies[2] else {
                Issue.record("expected an inline error reply, got \(replies[2])")
                return
            }
            #expect(message.hasPrefix("WRONGTYPE"))
            #expect(replies[3] == .bulkString("2".bytes))
            #expect(replies[4] == .null)
            #expect(try await client.pipeline([]) == [])
        }
    }

    @Test("200 concurrent commands through a pool of at most 3 connections all succeed")
    func concurrency() async throws {
        try await withRedis { client, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        try await client.set("key\(index)", "\(index)")
                        #expect(try await client.incr("counter") > 0)
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await client.getString("counter") == "200")
            #expect(try await client.getString("key199") == "199")
            let clients = try await client.send("CLIENT", ["LIST"]).string ?? ""
            #expect(clients.split(separator: "\n").count <= 3)
        }
    }

    @Test("BLMOVE returns nil when its 1 s timeout passes, and the value when another client pushes")
    func blmove() async throws {
        try await withRedis(commandTimeout: .milliseconds(500)) { client, _ in
            // The command timeout (0.5 s) is shorter than the block time: BLMOVE must still wait 1 s.
            let start = ContinuousClock.now
            #expect(try await client.blmove("source", "destination", timeout: 1) == nil)
            let waited = ContinuousClock.now - start
            #expect(waited >= .milliseconds(900) && waited < .seconds(3))

            async let moved = client.blmove("source", "destination", from: .right, to: .left, timeout: 5)
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await client.lpush("source", ["job"]) == 1)
            #expect(try await moved == "job".bytes)
            #expect(try await client.lrange("destination", 0, -1) == ["job".bytes])
        }
    }

    @Test("EVAL runs by SHA-1 and falls back to sending the script after NOSCRIPT")
    func eval() async throws {
        try await withRedis { client, _ in
            let script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])"
            #expect(try await client.eval(script, keys: ["a", "b"], arguments: ["v"]) == .integer(1))
            let hash = SHA1.hexDigest(script)
            #expect(try await client.send("SCRIPT", ["EXISTS", RedisArgument(hash)]) == .array([.integer(1)]))
            #expect(try await client.eval(script, keys: ["a", "b"], arguments: ["v"]) == .integer(2))
            _ = try await client.send("SCRIPT", ["FLUSH"])
            #expect(try await client.eval(script, keys: ["a", "b"], arguments: ["v"]) == .integer(3))
            #expect(try await client.getString("a") == "v")
            let error = try await #require(throws: RedisError.self) {
                try await client.eval("return redis.call('NOPE')")
            }
            #expect(error.code == .server)
        }
    }

    @Test("AUTH with a password, and wrong or missing passwords fail to connect")
    func auth() async throws {
        let server = try await RedisServer.start(extraArguments: ["--requirepass", "s3cret"])
        defer { server.stop() }

        var good = server.configuration()
        good.password = "s3cret"
        good.database = 2
        let client = RedisClient(configuration: good, logger: testLogger)
        try await client.set("k", "v")
        #expect(try await client.send("CLIENT", ["INFO"]).string?.contains("db=2") == true)
        await client.close()

        var withUser = server.configuration()
        withUser.username = "default"
        withUser.password = "s3cret"
        let userClient = RedisClient(configuration: withUser, logger: testLogger)
        #expect(try await userClient.ping() == "PONG")
        await userClient.close()

        var wrong = server.configuration()
        wrong.password = "nope"
        let wrongClient = RedisClient(configuration: wrong, logger: testLogger)
        let error = try await #require(throws: RedisError.self) { try await wrongClient.ping() }
        #expect(error.code == .connectionFailed)
        #expect(error.serverErrorPrefix == "WRONGPASS")
        await wrongClient.close()

        let anonymous = RedisClient(configuration: server.configuration(), logger: testLogger)
        let noAuth = try await #require(throws: RedisError.self) { try await anonymous.ping() }
        #expect(noAuth.serverErrorPrefix == "NOAUTH")
        await anonymous.close()
    }

    @Test("after close, commands throw poolClosed")
    func closed() async throws {
        try await withRedis { client, _ in
            #expect(try await client.ping() == "PONG")
            await client.close()
            let error = try await #require(throws: RedisError.self) { try await client.ping() }
            #expect(error.code == .poolClosed)
            #expect(error.isConnectionProblem)
        }
    }
}
