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
        subcommands: [Serve.self, Migrate.self, Healthcheck.self, RunPlugin.self],
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
        let server = PluginServer(settings: settings, logger: logger)
        do {
            try await server.run()
        } catch let error as StaleServerError {
            // Non-zero, so that the supervisor (systemd's Restart=on-failure, a container's policy) starts it again.
            logger.warning("Plugin server stopped to be restarted", metadata: ["reason": "\(error)"])
            throw ExitCode(1)
        } catch {
            logger.critical("Launchpad failure!", metadata: ["error": "\(server.describeStartupFailure(error))"])
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

struct RunPlugin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-plugin",
        abstract: "Run a plugin locally on events read as JSON, printing each resulting event, log line, capture and export.",
        discussion: """
            Events come from --events FILE or standard input: a JSON array, or one JSON object per line. \
            Cache and storage live in memory unless REDIS_URL / DATABASE_URL are set. \
            posthog.api calls without a host go to SITE_URL (default https://app.posthog.com). \
            Exits 1 when a plugin function threw.
            """)

    @Argument(help: "A plugin folder, a .zip or .tgz archive, or a single JavaScript or TypeScript file.")
    var path: String

    @Option(name: .customLong("config"), help: ArgumentHelp("A config value (repeatable).", valueName: "key=value"))
    var config: [String] = []

    @Option(name: .customLong("attachment"), help: ArgumentHelp("An attachment read from a file (repeatable).", valueName: "key=file"))
    var attachments: [String] = []

    @Option(name: .customLong("events"), help: ArgumentHelp("The events file; standard input when absent or -.", valueName: "file"))
    var eventsPath: String?

    @Option(name: .customLong("run"), help: ArgumentHelp("A runEvery* task to run after the events (repeatable).", valueName: "task"))
    var tasks: [String] = []

    @Option(
        name: .customLong("job"),
        help: ArgumentHelp(
            "A job to run after the tasks (repeatable): jobs.NAME(payload, meta) with a JSON payload, or jobs.NAME(meta) without one.",
            valueName: "name[=payload]"))
    var jobs: [String] = []

    @Flag(help: "Run the jobs the plugin enqueues (runNow, runIn, runAt) after the step that enqueued them, without waiting; at most 100.")
    var runJobs = false

    @Flag(help: "One JSON object per line, {\"kind\": \"event\" | \"dropped\" | \"log\" | \"capture\" | \"export\" | \"error\" | …}.")
    var json = false

    @Option(help: "The team the plugin config belongs to.")
    var teamId = 2

    @Option(help: "The plugin config id (with DATABASE_URL set, an existing posthog_pluginconfig row: storage rows reference it).")
    var pluginConfigId = 1

    @Option(help: "The plugin id (scopes cache keys).")
    var pluginId = 1

    @Option(
        name: .customLong("mmdb"),
        help: ArgumentHelp("A MaxMind City database (.mmdb or .mmdb.br) for meta.geoip.locate.", valueName: "file"))
    var geoIPDatabasePath: String?

    @Option(help: ArgumentHelp("The project API key of posthog.api calls that give none (with --personal-api-key).", valueName: "key"))
    var projectApiKey: String?

    @Option(help: ArgumentHelp("The personal API key of posthog.api calls that give none (with --project-api-key).", valueName: "key"))
    var personalApiKey: String?

    func validate() throws {
        if (projectApiKey == nil) != (personalApiKey == nil) {
            throw ValidationError("--project-api-key and --personal-api-key go together")
        }
    }

    func run() async throws {
        let settings = try loadSettings()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        func pairs(_ values: [String], option: String) throws -> [(key: String, value: String)] {
            try values.map { text in
                guard let pair = RunnerOptions.pair(text) else { throw ValidationError("--\(option) expects key=value, got \"\(text)\"") }
                return pair
            }
        }
        let environment = ProcessInfo.processInfo.environment
        let options = RunnerOptions(
            pluginPath: path, config: try pairs(config, option: "config"),
            attachments: try pairs(attachments, option: "attachment").map { (key: $0.key, path: $0.value) },
            eventsPath: eventsPath == "-" ? nil : eventsPath, tasks: tasks,
            jobs: try jobs.map { text in
                guard let job = RunnerOptions.JobRequest(parsing: text) else {
                    throw ValidationError("--job expects name or name=payload with a JSON payload, got \"\(text)\"")
                }
                return job
            }, runsEnqueuedJobs: runJobs, json: json, teamId: teamId,
            pluginConfigId: pluginConfigId, pluginId: pluginId, useRedis: environment["REDIS_URL"] != nil,
            usePostgres: environment["DATABASE_URL"] != nil, geoIPDatabasePath: geoIPDatabasePath, projectApiKey: projectApiKey,
            personalApiKey: personalApiKey)
        let summary: PluginRunner.Summary
        do {
            summary = try await PluginRunner(options: options, settings: settings, logger: Logger(label: "run-plugin")).run()
        } catch let error as RunnerError {
            FileHandle.standardError.write(Data("run-plugin: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if summary.errorCount > 0 {
            let count = summary.errorCount
            FileHandle.standardError.write(Data("run-plugin: \(count) plugin function call\(count == 1 ? "" : "s") threw\n".utf8))
            throw ExitCode(1)
        }
    }
}
