import Foundation
import Logging
import Metrics
import PluginRuntime
import PostHogEvents
import RedisClient
import ServiceLifecycle

/// Consumes PostHog's Celery queue (PLUGINS_CELERY_QUEUE) without losing a message: each is moved
/// into this instance's processing list, processed, and removed only once its event is stored or it
/// has been set aside in the dead-letter list with its reason. A crashed instance's processing list
/// is handed back to the queue once its lease expires; the stored-message keys keep redeliveries
/// from being stored twice.
public final class CeleryQueueConsumer: Service, Sendable {
    let redis: RedisClient
    let keys: CeleryQueueKeys
    let pipeline: EventPipeline
    let limiter: InFlightLimiter
    let leaseDuration: Duration
    let logger: Logger
    let stop = StopSignal()
    /// How long messages in flight at a stop may take to finish: the plugins' TASK_TIMEOUT and 5 s
    /// more, so that plugin work always ends on its own. A message still in flight then (its store
    /// waiting for an unreachable Postgres, a minute per try) is cancelled and left in the processing
    /// list for redelivery, as a crash would leave it, so the stop fits a supervisor's timeout.
    let shutdownGrace: Duration
    let status: ServerStatus
    let metrics: ServerMetrics?
    let errors: SentryReporter?
    /// Where `plugin_job` tasks go; without one they are dead-lettered.
    let jobs: JobQueue?
    /// Removes handled messages from the processing list, many per Redis call.
    private let acknowledger: MessageAcknowledger

    let messagesReceived = Counter(label: "celery_messages_received_total")
    let messagesStored = Counter(label: "celery_messages_stored_total")
    let messagesDuplicate = Counter(label: "celery_messages_duplicate_total")
    let messagesDeadLettered = Counter(label: "celery_messages_dead_lettered_total")
    let messagesRecovered = Counter(label: "celery_messages_recovered_total")

    init(
        redis: RedisClient, keys: CeleryQueueKeys, pipeline: EventPipeline, maxInFlight: Int, assuredInFlight: Int,
        inFlightByteBudget: Int, leaseSeconds: Int, shutdownGrace: Duration = .seconds(35),
        status: ServerStatus, metrics: ServerMetrics? = nil, errors: SentryReporter? = nil, jobs: JobQueue? = nil, logger: Logger
    ) {
        self.jobs = jobs
        self.redis = redis
        self.keys = keys
        self.pipeline = pipeline
        self.limiter = InFlightLimiter(limit: maxInFlight, assured: assuredInFlight, byteBudget: inFlightByteBudget)
        self.leaseDuration = .seconds(leaseSeconds)
        self.shutdownGrace = shutdownGrace
        self.status = status
        self.metrics = metrics
        self.errors = errors
        var logger = logger
        logger[metadataKey: "queue"] = "\(keys.queue)"
        self.logger = logger
        acknowledger = MessageAcknowledger { [redis, keys, stop, logger] messages in
            await Self.untilDone("acknowledge", stop: stop, logger: logger) {
                _ = try await redis.eval(
                    CeleryQueueScripts.acknowledge, keys: [keys.processing], arguments: messages.map { RedisArgument($0) })
            }
        }
    }

    public func run() async throws {
        logger.info(
            "Consuming Celery queue", metadata: ["processing_list": "\(keys.processing)", "max_in_flight": "\(limiter.limit)"])
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.maintainLease() }
                await self.consumeWithinGrace()
                group.cancelAll()
            }
            await self.releaseLeaseIfIdle()
        } onGracefulShutdown: {
            self.stop.set()
        }
        status.consuming(false)
        logger.info("Celery consumer stopped")
    }

    // MARK: Intake

    /// `consume()`, then the wait for the messages in flight, up to `shutdownGrace`: those still in
    /// flight then are left to the process's exit, in the processing list for redelivery.
    private func consumeWithinGrace() async {
        await consume()
        if !(await StopGrace.wait(shutdownGrace, until: { limiter.inFlight == 0 })) {
            logger.warning(
                "Messages in flight did not finish in time after the stop: left for redelivery",
                metadata: ["grace": "\(shutdownGrace)", "in_flight": "\(limiter.inFlight)"])
        }
    }

    private func consume() async {
        var failures = 0
        while !stop.isSet && !Task.isCancelled {
            let room = await limiter.waitForRoom()
            if stop.isSet { break }
            var messages: [[UInt8]]
            do {
                messages = try await claim(room)
                if messages.isEmpty, let message = try await timedWaitForMessage() { messages = [message] }
                if failures > 0 { logger.info("Redis reachable again, consuming") }
                failures = 0
                status.consuming(true)
            } catch {
                failures += 1
                status.consuming(false)
                if failures == 1 || failures % 20 == 0 {
                    logger.warning(
                        "Cannot take messages from Redis, retrying", metadata: ["error": .failure(error)])
                    errors?.capture(error, tags: ["queue": keys.queue])
                }
                try? await Task.sleep(for: Self.backoff(attempt: failures))
                continue
            }
            for message in messages {
                limiter.acquire(bytes: message.count)
                messagesReceived.increment()
                // A task of its own rather than a child task, so that a stop can leave one that cannot
                // finish (a store waiting on an unreachable Postgres does not answer cancellation).
                Task {
                    await self.handle(message)
                    self.limiter.release(bytes: message.count)
                }
            }
        }
    }

    private func claim(_ room: InFlightLimiter.Room) async throws -> [[UInt8]] {
        let reply = try await redis.eval(
            CeleryQueueScripts.claim, keys: [keys.processing] + keys.sourceLists,
            arguments: [RedisArgument(room.messages), RedisArgument(room.assured), RedisArgument(room.bytes)])
        return (reply.array ?? []).compactMap(\.bytes)
    }

    /// The blocking wait is the original's `query.redisBRPop` (it popped with BRPOP).
    private func timedWaitForMessage() async throws -> [UInt8]? {
        guard let metrics else { return try await waitForMessage() }
        return try await metrics.time(.brpop) { try await waitForMessage() }
    }

    /// Blocks up to a second for the next message, so an idle server neither spins nor lags.
    private func waitForMessage() async throws -> [UInt8]? {
        try await redis.withConnection { connection in
            let reply = try await connection.send(
                "BLMOVE", [RedisArgument(keys.queue), RedisArgument(keys.processing), "RIGHT", "LEFT", "1"],
                blockingFor: .seconds(1))
            return reply.bytes
        }
    }

    // MARK: One message

    private func handle(_ raw: [UInt8]) async {
        let messageKey = CeleryEventDecoder.messageKey(raw)
        var attempt = 0
        while true {
            do {
                let task = try CeleryEnvelope.decode(raw)
                if task.name == CeleryEnvelope.pluginJobTask {
                    try await enqueuePluginJob(task)
                    await acknowledge(raw)
                    return
                }
                let event = try CeleryEventDecoder.event(from: task) { UUIDT().uuidString }
                let outcome = try await pipeline.process(event, messageKey: messageKey)
                if case .alreadyStored = outcome { messagesDuplicate.increment() } else { messagesStored.increment() }
                status.recordIngestion()
                await acknowledge(raw)
                return
            } catch let error as CeleryDecodingError {
                await deadLetter(raw, reason: error.reason)
                return
            } catch let error as IngestionError where error.kind == .permanent {
                await deadLetter(raw, reason: error.description)
                return
            } catch {
                attempt += 1
                if stop.isSet && attempt > 3 {
                    // Left in the processing list: the next instance to start takes it back.
                    logger.warning("Leaving a message for redelivery at shutdown", metadata: ["error": .failure(error)])
                    return
                }
                if attempt == 1 || attempt % 20 == 0 {
                    logger.warning(
                        "Event could not be stored yet, retrying",
                        metadata: ["error": .failure(error), "attempt": "\(attempt)"])
                    if attempt == 1 {
                        errors?.capture(error, tags: ["queue": keys.queue], extra: ["message": String(decoding: raw, as: UTF8.self)])
                    }
                }
                try? await Task.sleep(for: Self.backoff(attempt: attempt))
            }
        }
    }

    /// A job started from PostHog's UI (`publicJobs` of plugin.json): enqueued to run now, as the
    /// original's `enqueueJob` did. Only the op `start` exists.
    private func enqueuePluginJob(_ task: CeleryTask) async throws {
        guard let jobs, jobs.enabled else { throw CeleryDecodingError("plugin_job: No JobQueue available") }
        guard task.args.count >= 3, let teamId = task.args[0].intValue, let configId = task.args[1].intValue,
            let type = task.args[2].stringValue
        else {
            throw CeleryDecodingError("plugin_job: expected [team id, plugin config id, job type, op, payload]")
        }
        let payload = task.args.count > 4 ? task.args[4] : (task.kwargs["payload"] ?? .object([:]))
        try await jobs.enqueue(
            PluginJob(
                type: type, payload: payload, timestamp: Double(Int64(Date().timeIntervalSince1970 * 1000)), pluginConfigId: configId,
                pluginConfigTeam: teamId))
        logger.info(
            "Plugin job enqueued from PostHog", metadata: ["plugin_config_id": "\(configId)", "team_id": "\(teamId)", "job": "\(type)"])
    }

    private func acknowledge(_ raw: [UInt8]) async {
        await acknowledger.acknowledge(raw)
    }

    private func deadLetter(_ raw: [UInt8], reason: String) async {
        messagesDeadLettered.increment()
        errors?.capture(
            SentryReport(
                type: "DeadLetteredMessage", message: reason, tags: ["queue": keys.queue],
                extra: ["message": .string(String(decoding: raw, as: UTF8.self)), "dead_letter_list": .string(keys.deadLetter)]))
        logger.error(
            "Message set aside in the dead-letter list", metadata: ["reason": "\(reason)", "dead_letter_list": "\(keys.deadLetter)"])
        var entry = JSONObject()
        entry["reason"] = .string(reason)
        entry["queue"] = .string(keys.queue)
        entry["instance_id"] = .string(keys.instanceId)
        entry["failed_at"] = .string(EventTimestamp.now().isoString)
        entry["message"] = .string(String(decoding: raw, as: UTF8.self))
        let entryBytes = JSON.object(entry).jsonBytes
        await untilDone("dead-letter") {
            _ = try await self.redis.eval(
                CeleryQueueScripts.deadLetter, keys: [self.keys.processing, self.keys.deadLetter],
                arguments: [RedisArgument(raw), RedisArgument(entryBytes)])
        }
    }

    /// Retries a Redis step until it succeeds; at shutdown gives up after a few tries, leaving the
    /// message in the processing list (its stored key prevents a second copy on redelivery).
    private func untilDone(_ what: String, _ step: @Sendable () async throws -> Void) async {
        await Self.untilDone(what, stop: stop, logger: logger, step)
    }

    private static func untilDone(_ what: String, stop: StopSignal, logger: Logger, _ step: @Sendable () async throws -> Void) async {
        var attempt = 0
        while true {
            do {
                try await step()
                return
            } catch {
                attempt += 1
                if stop.isSet && attempt > 5 { return }
                if attempt == 1 || attempt % 20 == 0 {
                    logger.warning(
                        "Redis step failed, retrying", metadata: ["step": "\(what)", "error": .failure(error)])
                }
                try? await Task.sleep(for: Self.backoff(attempt: attempt))
            }
        }
    }

    static func backoff(attempt: Int) -> Duration {
        .milliseconds(min(5000, 50 * (1 << min(attempt, 7))))
    }

    // MARK: Lease and recovery

    private func maintainLease() async {
        let leaseMilliseconds = Int(leaseDuration.components.seconds * 1000)
        var sinceRecovery = Duration.seconds(1000)
        while !Task.isCancelled {
            do {
                _ = try await redis.send(
                    "SET", [RedisArgument(keys.lease), RedisArgument(keys.instanceId), "PX", RedisArgument(leaseMilliseconds)])
                _ = try await redis.send("SADD", [RedisArgument(CeleryQueueKeys.registry), RedisArgument(keys.processing)])
                if sinceRecovery >= leaseDuration / 2 {
                    try await recoverAbandonedMessages()
                    sinceRecovery = .zero
                }
            } catch {
                logger.debug("Lease refresh failed", metadata: ["error": .failure(error)])
            }
            let pause = leaseDuration / 3
            sinceRecovery += pause
            try? await Task.sleep(for: pause)
        }
    }

    /// Hands the messages of instances whose lease expired back to their queue.
    func recoverAbandonedMessages() async throws {
        let members = try await redis.send("SMEMBERS", [RedisArgument(CeleryQueueKeys.registry)])
        for case let list? in (members.array ?? []).map(\.string) where list != keys.processing {
            guard list.hasPrefix(CeleryQueueKeys.processingPrefix) else { continue }
            let queue = String(
                list.dropFirst(CeleryQueueKeys.processingPrefix.count).split(separator: "/").dropLast().joined(separator: "/"))
            let moved = try await redis.eval(
                CeleryQueueScripts.recover, keys: [CeleryQueueKeys.lease(of: list), list, queue, CeleryQueueKeys.registry],
                arguments: [RedisArgument(list)])
            if let count = moved.int, count > 0 {
                messagesRecovered.increment(by: count)
                logger.warning(
                    "Took back messages of an instance that stopped without finishing them",
                    metadata: ["processing_list": "\(list)", "messages": "\(count)"])
            }
        }
    }

    private func releaseLeaseIfIdle() async {
        do {
            let remaining = try await redis.send("LLEN", [RedisArgument(keys.processing)])
            guard remaining.int == 0 else { return }
            _ = try await redis.send("SREM", [RedisArgument(CeleryQueueKeys.registry), RedisArgument(keys.processing)])
            _ = try await redis.send("DEL", [RedisArgument(keys.lease)])
        } catch {
            logger.debug("Could not release the consumer lease", metadata: ["error": .failure(error)])
        }
    }
}
