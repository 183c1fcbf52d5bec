import Logging
import Testing

@testable import PluginServer

@Suite struct ServerLogHandlerTests {
    @Test("LOG_LEVEL silences the original's levels below the chosen one: log hides info, warn hides log")
    func levels() {
        #expect(ServerLogHandler(label: "T", level: .debug, json: false).logLevel == .debug)
        #expect(ServerLogHandler(label: "T", level: .info, json: false).logLevel == .info)
        #expect(ServerLogHandler(label: "T", level: .log, json: false).logLevel == .notice)
        #expect(ServerLogHandler(label: "T", level: .warn, json: false).logLevel == .warning)
        #expect(ServerLogHandler(label: "T", level: .error, json: false).logLevel == .error)
        // Plugin console levels follow the same order.
        #expect(ServerPluginHost.logLevel(.log) == .notice)
        #expect(ServerPluginHost.logLevel(.info) == .info)
        #expect(ServerPluginHost.logLevel(.warn) == .warning)
    }
}
