import Foundation
import GeoIP
import Logging
import RedisClient
import ServiceLifecycle

/// Prepares the GeoIP database at start-up and keeps it fresh (the original's
/// `src/main/services/mmdb.ts`): the stored `@posthog/mmdb` attachment is opened, downloaded when
/// missing, refreshed when older than 45 days; one instance of a cluster downloads at a time.
struct GeoIPService: Service {
    let locator: GeoIPLocator
    let attachments: MMDBAttachmentStore
    let redis: RedisClient
    let downloader: MMDBDownloader
    let logger: Logger
    /// Serves lookups on loopback when set (INTERNAL_MMDB_SERVER_PORT).
    let lineServer: GeoIPLineServer?

    init(
        locator: GeoIPLocator, store: PostgresStore, redis: RedisClient, endpoint: String, internalPort: Int, metrics: ServerMetrics,
        logger: Logger
    ) {
        self.locator = locator
        self.attachments = MMDBAttachmentStore(store: store)
        self.redis = redis
        self.downloader = MMDBDownloader(endpoint: endpoint)
        self.lineServer = internalPort > 0 ? GeoIPLineServer(port: internalPort, locator: locator, metrics: metrics, logger: logger) : nil
        var logger = logger
        logger[metadataKey: "attachment"] = "\(MMDBAttachment.key)"
        self.logger = logger
    }

    func run() async throws {
        guard locator.isPreparing else {
            // DISABLE_MMDB: nothing to prepare; stay until the group stops.
            try? await gracefulShutdown()
            return
        }
        try await withThrowingDiscardingTaskGroup { group in
            if let lineServer { group.addTask { try await lineServer.run() } }
            let refreshDue = await cancelWhenGracefulShutdown { await self.prepare() }
            locator.finishPreparing()
            if refreshDue { await cancelWhenGracefulShutdown { await self.refresh() } }
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let next = Self.nextCheck(after: Date())
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(max(1, next.timeIntervalSinceNow))) }
                guard !Task.isShuttingDownGracefully && !Task.isCancelled else { break }
                logger.info("Performing periodic GeoIP database staleness check")
                await cancelWhenGracefulShutdown { await self.refresh() }
            }
            group.cancelAll()
        }
    }

    /// The original checked at minute 0 of every fourth hour (cron `0 */4 * * *`, local time), so
    /// the instances of a cluster check together and the status key picks one to download.
    static func nextCheck(after now: Date, calendar: Calendar = .current) -> Date {
        var hour = calendar.dateInterval(of: .hour, for: now)?.start ?? now
        repeat {
            hour = calendar.date(byAdding: .hour, value: 1, to: hour) ?? hour.addingTimeInterval(3600)
        } while calendar.component(.hour, from: hour) % 4 != 0
        return hour
    }

    // MARK: Start-up

    /// Opens the stored database, or downloads one when there is none (or it cannot be opened).
    /// Returns whether the stored one is stale and should be refreshed after start-up.
    private func prepare() async -> Bool {
        do {
            try await attachments.store.waitUntilReachable(timeout: .seconds(3600))
            if let stored = try await attachments.latest() {
                let stale = MMDBAttachment.isStale(fileName: stored.fileName, now: Date())
                do {
                    try await open(stored)
                    if stale {
                        logger.info(
                            "GeoIP database is older than the staleness threshold, refreshing in the background",
                            metadata: [
                                "file_name": "\(stored.fileName)", "threshold_days": "\(MMDBAttachment.staleAfterDays)",
                                "age_days":
                                    "\(MMDBAttachment.ageInDays(fileName: stored.fileName, now: Date()).map(String.init) ?? "unknown")",
                            ])
                    }
                    return stale
                } catch {
                    logger.error(
                        "Stored GeoIP database cannot be opened, downloading a fresh one",
                        metadata: ["file_name": "\(stored.fileName)", "error": .failure(error)])
                }
            } else {
                logger.info("Fetching the GeoIP database for the first time")
            }
            if await !fetchCoordinated(), !Task.isCancelled {
                logger.warning("Because of MMDB unavailability, GeoIP plugins will fail in this PostHog instance")
            }
        } catch is CancellationError {
            // The server stopped during start-up: nothing failed.
        } catch {
            logger.error("GeoIP database not prepared", metadata: ["error": "\(PostgresFailure.summary(error))"])
        }
        return false
    }

    // MARK: Refresh

    /// The periodic check: download when the stored database is missing or stale; open the stored
    /// one when another instance has replaced it (the original kept serving its own until restart).
    private func refresh() async {
        do {
            guard let stored = try await attachments.latest() else {
                _ = await fetchCoordinated()
                return
            }
            if MMDBAttachment.isStale(fileName: stored.fileName, now: Date()) {
                if await fetchCoordinated() { logger.info("GeoIP database refreshed") }
            } else if stored.fileName != locator.fileName {
                try await open(stored)
            } else {
                logger.debug("GeoIP database is fresh, no update needed")
            }
        } catch {
            logger.error("GeoIP staleness check failed", metadata: ["error": "\(PostgresFailure.summary(error))"])
        }
    }

    // MARK: Download and open

    /// Downloads, stores and serves a fresh database, unless another instance is downloading (then
    /// waits and opens what it stored) or an attempt failed in the last two minutes. Returns whether
    /// a database is served afterwards.
    private func fetchCoordinated() async -> Bool {
        while !Task.isCancelled {
            let found: MMDBStatus
            do {
                found = try await MMDBStatus.claim(redis)
            } catch {
                logger.error("GeoIP download status not readable", metadata: ["error": .failure(error)])
                return false
            }
            switch found {
            case .unavailable:
                logger.info(
                    "MMDB fetch and insert for GeoIP capabilities is currently unavailable in this PostHog instance - IP location data may be stale or unavailable"
                )
                return false
            case .fetching:
                // Another instance downloads; poll as the original did, then use what it stored.
                while (try? await MMDBStatus.read(redis)) == .fetching && !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(200))
                }
                if Task.isCancelled { return false }
                do {
                    if let stored = try await attachments.latest(), !MMDBAttachment.isStale(fileName: stored.fileName, now: Date()) {
                        try await open(stored)
                        return true
                    }
                } catch {
                    logger.error(
                        "GeoIP database stored by another instance cannot be opened",
                        metadata: ["error": .failure(error)])
                    return false
                }
            case .idle:
                return await downloadAndStore()
            }
        }
        return false
    }

    private func downloadAndStore() async -> Bool {
        do {
            logger.info("Downloading the GeoIP database", metadata: ["url": "\(downloader.endpoint)"])
            let download = try await downloader.download()
            // Opened before it is stored, so a broken download never replaces a working row.
            let database = try MaxMindDatabase(brotliCompressed: download.contents)
            try await attachments.replace(fileName: download.fileName, contentType: download.contentType, contents: download.contents)
            locator.serve(database, fileName: download.fileName)
            try? await MMDBStatus.set(.idle, redis)
            logger.info(
                "GeoIP database downloaded and stored",
                metadata: [
                    "file_name": "\(download.fileName)", "bytes": "\(download.contents.count)", "database_type": "\(database.databaseType)",
                ])
            return true
        } catch {
            try? await MMDBStatus.set(.unavailable, redis)
            logger.error("An error occurred during MMDB fetch and insert", metadata: ["error": .failure(error)])
            return false
        }
    }

    private func open(_ attachment: MMDBAttachment) async throws {
        guard let contents = try await attachments.contents(of: attachment) else {
            throw GeoIPError(.open, "attachment \(attachment.id) has no file contents")
        }
        let database = try MaxMindDatabase(brotliCompressed: contents)
        locator.serve(database, fileName: attachment.fileName)
        logger.info(
            "GeoIP database opened",
            metadata: ["file_name": "\(attachment.fileName)", "bytes": "\(contents.count)", "database_type": "\(database.databaseType)"])
    }
}
