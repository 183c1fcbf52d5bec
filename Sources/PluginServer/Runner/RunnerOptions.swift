/// What `plugin-server run-plugin` was asked to do, as parsed from its command line.
public struct RunnerOptions: Sendable {
    /// A plugin folder, a `.zip`/`.tgz` archive, or a single JavaScript or TypeScript file.
    public var pluginPath: String
    /// `--config key=value`, in order; later keys win.
    public var config: [(key: String, value: String)]
    /// `--attachment key=file`.
    public var attachments: [(key: String, path: String)]
    /// Events file; `nil` reads standard input.
    public var eventsPath: String?
    /// `--run runEveryMinute`…, run after the events in the order given.
    public var tasks: [String]
    /// One JSON object per output line instead of readable text.
    public var json: Bool
    public var teamId: Int
    /// Keys storage rows; with DATABASE_URL set it must name an existing `posthog_pluginconfig` row.
    public var pluginConfigId: Int
    /// Scopes the cache (`@plugin/<plugin id>/<team id>/<key>`).
    public var pluginId: Int
    /// Cache in Redis instead of memory (REDIS_URL was set).
    public var useRedis: Bool
    /// Storage in Postgres instead of memory (DATABASE_URL was set).
    public var usePostgres: Bool
    /// `--mmdb FILE`: a MaxMind City database (`.mmdb`, or brotli-compressed `.mmdb.br`) answering
    /// `meta.geoip.locate`; without one it rejects as a server without a database does.
    public var geoIPDatabasePath: String?
    /// `--project-api-key` / `--personal-api-key`: the keys of `posthog.api` calls that give none (the
    /// server would use the team's).
    public var projectApiKey: String?
    public var personalApiKey: String?

    public init(
        pluginPath: String, config: [(key: String, value: String)] = [], attachments: [(key: String, path: String)] = [],
        eventsPath: String? = nil, tasks: [String] = [], json: Bool = false, teamId: Int = 2, pluginConfigId: Int = 1,
        pluginId: Int = 1, useRedis: Bool = false, usePostgres: Bool = false, geoIPDatabasePath: String? = nil,
        projectApiKey: String? = nil, personalApiKey: String? = nil
    ) {
        self.pluginPath = pluginPath
        self.config = config
        self.attachments = attachments
        self.eventsPath = eventsPath
        self.tasks = tasks
        self.json = json
        self.teamId = teamId
        self.pluginConfigId = pluginConfigId
        self.pluginId = pluginId
        self.useRedis = useRedis
        self.usePostgres = usePostgres
        self.geoIPDatabasePath = geoIPDatabasePath
        self.projectApiKey = projectApiKey
        self.personalApiKey = personalApiKey
    }

    /// Splits `key=value` at the first `=`; `nil` when there is none or the key is empty.
    public static func pair(_ text: String) -> (key: String, value: String)? {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else { return nil }
        return (String(text[..<equals]), String(text[text.index(after: equals)...]))
    }
}
