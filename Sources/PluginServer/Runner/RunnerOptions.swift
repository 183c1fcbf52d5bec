import PostHogEvents

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
    /// `--job name` / `--job name=PAYLOAD`, run after the tasks in the order given; no payload calls
    /// `jobs.name(meta)`, as the server does for a falsy payload.
    public var jobs: [JobRequest]
    /// `--run-jobs`: the jobs the plugin enqueues are run too, after the step that enqueued them.
    public var runsEnqueuedJobs: Bool
    /// At most this many enqueued jobs run, so that a job that always enqueues another ends.
    public var enqueuedJobLimit: Int
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
        eventsPath: String? = nil, tasks: [String] = [], jobs: [JobRequest] = [], runsEnqueuedJobs: Bool = false,
        enqueuedJobLimit: Int = 100, json: Bool = false, teamId: Int = 2, pluginConfigId: Int = 1,
        pluginId: Int = 1, useRedis: Bool = false, usePostgres: Bool = false, geoIPDatabasePath: String? = nil,
        projectApiKey: String? = nil, personalApiKey: String? = nil
    ) {
        self.pluginPath = pluginPath
        self.config = config
        self.attachments = attachments
        self.eventsPath = eventsPath
        self.tasks = tasks
        self.jobs = jobs
        self.runsEnqueuedJobs = runsEnqueuedJobs
        self.enqueuedJobLimit = enqueuedJobLimit
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

    /// A job to run, as `--job` names it.
    public struct JobRequest: Sendable, Equatable {
        public var type: String
        public var payload: JSON

        public init(type: String, payload: JSON = .null) {
            self.type = type
            self.payload = payload
        }

        /// `name` or `name=PAYLOAD` (JSON); `nil` when the name is empty or the payload is not JSON.
        public init?(parsing text: String) {
            guard let equals = text.firstIndex(of: "=") else {
                guard !text.isEmpty else { return nil }
                self.init(type: text)
                return
            }
            guard equals != text.startIndex, let payload = try? JSON(parsing: String(text[text.index(after: equals)...])) else {
                return nil
            }
            self.init(type: String(text[..<equals]), payload: payload)
        }
    }

    /// Splits `key=value` at the first `=`; `nil` when there is none or the key is empty.
    public static func pair(_ text: String) -> (key: String, value: String)? {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else { return nil }
        return (String(text[..<equals]), String(text[text.index(after: equals)...]))
    }
}
