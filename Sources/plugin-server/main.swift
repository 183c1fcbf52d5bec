import ArgumentParser
import Foundation
import Logging
import PluginServer

@main
struct PluginServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin-server",
        abstract: "PostHog plugin server: takes events off PostHog's queue, runs plugins, stores them.",
        discussion: SettingsCatalog.helpText,
        version: PluginServerVersion.banner,
        subcommands: [Serve.self, Migrate.self, Healthcheck.self],
        defaultSubcommand: Serve.self)
}

/// Settings from the environment, or a clear error naming every bad variable.
func loadSettings() throws -> ServerSettings {
    do {
        return try ServerSettings(environment: ProcessInfo.processInfo.environment)
    } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        throw ExitCode(2)
    }
}

func makeLogger(_ settings: ServerSettings, label: String) -> Logger {
    let level = settings.observability.logLevel
    let json = settings.observability.logFormat == "json"
    LoggingSystem.bootstrap { _ in ServerLogHandler(label: label, level: level, json: json) }
    return Logger(label: "plugin-server")
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server (the default).")

    func run() async throws {
        let settings = try loadSettings()
        let logger = makeLogger(settings, label: "MAIN")
        do {
            try await PluginServer(settings: settings, logger: logger).run()
        } catch {
            logger.critical("Launchpad failure!", metadata: ["error": "\(String(reflecting: error))"])
            throw ExitCode(1)
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create PostHog's tables when missing (development and tests), and the server's own table.")

    @Flag(help: "Also reset the demo organization, user and team 2.")
    var seed = false

    func run() async throws {
        let settings = try loadSettings()
        let logger = makeLogger(settings, label: "MIGRATE")
        do {
            try await Migration.run(settings: settings, seed: seed, logger: logger)
        } catch {
            logger.critical("Migration failed", metadata: ["error": "\(String(reflecting: error))"])
            throw ExitCode(1)
        }
    }
}

struct Healthcheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exit 0 when a running instance refreshed its ping key in Redis, 1 otherwise.")

    func run() async throws {
        let settings = try loadSettings()
        let logger = makeLogger(settings, label: "HLTH")
        if await Health.check(settings: settings, logger: logger) {
            logger.info("Plugin server is alive")
        } else {
            logger.error("No plugin server instance is alive")
            throw ExitCode(1)
        }
    }
}
