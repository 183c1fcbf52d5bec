import PostHogEvents

extension PluginWorker {
    /// Runs a team's `processEvent` chain in this worker's sandboxes (reference §9.2): each plugin gets the previous
    /// one's result; a falsy result drops the event; a failing plugin is recorded and skipped, the chain
    /// going on with whatever it mutated. Runs on the caller's executor; only the plugin calls hop to the
    /// worker's thread.
    nonisolated func runChain(_ links: [LoadedPlugin], event: JSON, reporter: PluginErrorReporter) async -> ChainResult {
        var current = event
        var originalSurvives = true
        var succeeded: [String] = []
        var failed: [String] = []
        // A link whose sandbox a reload retired since the table was read is skipped: its replacement
        // serves the next events.
        for link in links {
            let descriptor = link.descriptor
            do throws(JSThrown) {
                guard
                    let result = try await callIfActive(
                        link.key, kind: .method, name: "processEvent", arguments: [current], wantsResult: true, bounded: true)
                else { continue }
                guard result.value.isTruthy else { return .dropped(byConfigId: descriptor.id) }
                // The sandbox refused results that are not objects; an object can still turn into
                // something else on its way out, through a `toJSON` of the plugin's.
                guard result.value.objectValue != nil else {
                    throw JSThrown(
                        name: "TypeError",
                        message: "processEvent returned an event whose toJSON gives \(result.value.kindPhrase) instead of an object: "
                            + "return the event object, or a falsy value to drop it", stack: nil)
                }
                var next = result.value
                originalSurvives = originalSurvives && result.returnedArgument
                if next["team_id"] != current["team_id"] {
                    // 0.21.4+: restore the team and count the plugin failed.
                    next["team_id"] = current["team_id"]
                    current = next
                    failed.append(descriptor.chainName)
                    await reporter.recordError(
                        descriptor, name: "IllegalOperationError", message: "Plugin tried to change event.team_id",
                        stack: nil, event: current)
                    continue
                }
                current = next
                succeeded.append(descriptor.chainName)
            } catch {
                await reporter.recordError(descriptor, error, event: current)
                if let after = error.argumentAfter, after.objectValue != nil { current = after }
                failed.append(descriptor.chainName)
            }
        }
        if (!succeeded.isEmpty || !failed.isEmpty) && originalSurvives, case .object(var object) = current {
            current = .null
            var properties = object["properties"]?.objectValue ?? [:]
            object["properties"] = .null
            properties.reserveCapacity(properties.count + 2)
            properties["$plugins_succeeded"] = .array(succeeded.map(JSON.string))
            properties["$plugins_failed"] = .array(failed.map(JSON.string))
            object["properties"] = .object(properties)
            current = .object(object)
        }
        return .event(current)
    }

    /// The 0.20.3 batch task (reference §9.3): one team's events piped through each config's
    /// `processEventBatch` in order (derived from `processEvent` when the plugin has only that). A falsy
    /// or non-array result empties the batch; a failing plugin is recorded and the batch it was handed
    /// goes on. Every surviving event lists the plugins, as the chain does.
    nonisolated func runBatch(_ links: [LoadedPlugin], teamId: Int, events: [JSON], reporter: PluginErrorReporter) async -> [JSON] {
        var current = events
        var succeeded: [String] = []
        var failed: [String] = []
        for link in links {
            guard !current.isEmpty else { break }
            let descriptor = link.descriptor
            do {
                guard
                    let result = try await callIfActive(
                        link.key, kind: .method, name: "processEventBatch", arguments: [.array(current)], wantsResult: true,
                        bounded: true)
                else { continue }
                var next = (result.value.arrayValue ?? []).filter { $0.isTruthy && $0.objectValue != nil }
                // A plugin may not move events to another team (0.21.4+ rule of the chain).
                var moved = false
                for index in next.indices where next[index]["team_id"] != .number(Double(teamId)) {
                    next[index]["team_id"] = .number(Double(teamId))
                    moved = true
                }
                if moved {
                    failed.append(descriptor.chainName)
                    await reporter.recordError(
                        descriptor, name: "IllegalOperationError", message: "Plugin tried to change event.team_id", stack: nil,
                        event: next.first)
                } else {
                    succeeded.append(descriptor.chainName)
                }
                current = next
            } catch {
                await reporter.recordError(descriptor, error, event: current.first)
                failed.append(descriptor.chainName)
            }
        }
        guard !succeeded.isEmpty || !failed.isEmpty else { return current }
        let succeededList = JSON.array(succeeded.map(JSON.string))
        let failedList = JSON.array(failed.map(JSON.string))
        for index in current.indices {
            guard case .object(var object) = current[index] else { continue }
            // Each value is taken out of its holder before it changes, so nothing is copied.
            current[index] = .null
            var properties = object["properties"]?.objectValue ?? [:]
            object["properties"] = .null
            properties.reserveCapacity(properties.count + 2)
            properties["$plugins_succeeded"] = succeededList
            properties["$plugins_failed"] = failedList
            object["properties"] = .object(properties)
            current[index] = .object(object)
        }
        return current
    }

    /// Calls `method` of every target concurrently on this worker, each on its own copy of the event
    /// (reference §9.4); errors are recorded per config.
    nonisolated func fanOut(_ targets: [LoadedPlugin], method: String, event: JSON, reporter: PluginErrorReporter) async {
        await withTaskGroup(of: Void.self) { group in
            for target in targets {
                group.addTask {
                    await self.callRecording(target, method: method, event: event, reporter: reporter)
                }
            }
        }
    }

    private nonisolated func callRecording(_ target: LoadedPlugin, method: String, event: JSON, reporter: PluginErrorReporter) async {
        do {
            _ = try await callIfActive(target.key, kind: .method, name: method, arguments: [event], wantsResult: false, bounded: true)
        } catch {
            await reporter.recordError(target.descriptor, error, event: event)
        }
    }
}

extension JSON {
    /// "a string", "an array"...: what a value is, in an error message.
    fileprivate var kindPhrase: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
