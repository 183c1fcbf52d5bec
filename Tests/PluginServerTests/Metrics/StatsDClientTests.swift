import Logging
import Testing

@testable import PluginServer

@Suite struct StatsDClientTests {
    @Test("a line is the prefix and name verbatim, Telegraf tags, the value and the type")
    func lineFormat() {
        #expect(
            StatsDClient.line(
                prefix: "plugin-server.", name: "plugin.process_event", value: "12", kind: .timing,
                tags: ["plugin": "geoip", "teamId": "2"])
                == "plugin-server.plugin.process_event,plugin=geoip,teamId=2:12|ms")
        #expect(StatsDClient.line(prefix: "p.", name: "hooks.send_task", value: "1", kind: .counter, tags: [:]) == "p.hooks.send_task:1|c")
        #expect(StatsDClient.line(prefix: "", name: "piscina.threads", value: "4", kind: .gauge, tags: [:]) == "piscina.threads:4|g")
    }

    @Test("characters that would break a line or a tag are replaced; plugin names stay raw otherwise")
    func sanitizing() {
        #expect(
            StatsDClient.line(prefix: "p.", name: "plugin.My Plugin.process_event.ERROR", value: "1", kind: .counter, tags: [:])
                == "p.plugin.My Plugin.process_event.ERROR:1|c")
        #expect(
            StatsDClient.line(prefix: "p.", name: "a:b|c\nd", value: "1", kind: .counter, tags: ["plugin": "x,y=z w"])
                == "p.a_b_c_d,plugin=x_y_z_w:1|c")
    }

    @Test("timings are milliseconds with at most three decimals; whole numbers have none")
    func numbers() {
        #expect(StatsDClient.milliseconds(0.012) == "12")
        #expect(StatsDClient.milliseconds(0.0012345) == "1.235")
        #expect(StatsDClient.number(75) == "75")
        #expect(StatsDClient.number(37.5) == "37.5")
    }

    @Test("lines are batched into packets no larger than the maximum, while the socket is not open yet")
    func batching() {
        let client = StatsDClient(host: "127.0.0.1", port: 8125, prefix: "p.", logger: Logger(label: "test"))
        for index in 0..<200 { client.increment("counter.\(index)") }
        let packets = client.queuedPackets
        #expect(packets.count > 1)
        #expect(packets.allSatisfy { $0.count <= StatsDClient.maximumPacketSize })
        let lines = packets.flatMap { String(decoding: $0, as: UTF8.self).split(separator: "\n") }
        #expect(lines.count == 200)
        #expect(lines.first == "p.counter.0:1|c")
        #expect(lines.last == "p.counter.199:1|c")
    }
}
