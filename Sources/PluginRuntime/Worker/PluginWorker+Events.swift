import PostHogEvents

extension PluginWorker {
    /// Runs a team's `processEvent` chain on this worker (reference §9.2): each plugin gets the previous
    /// one's result; a falsy result drops the event; a failing plugin is recorded and skipped, the chain
    /// going on with whatever it mutated.
    func runChain(_ links: [LoadedPlugin], event: JSON, reporter: PluginErrorReporter) async -> ChainResult {
        var current = event
        var originalSurvives = true
        var succeeded: [String] = []
        var failed: [String] = []
        // A link whose sandbox a reload retired since the table was read is skipped: its replacement
        // serves the next events.
        for link in links where hasSandbox(link.key) {
            let descriptor = link.descriptor
            do {
                let result = try await call(
                    link.key, kind: .method, name: "processEvent", arguments: [current], wantsResult: true, bounded: true)
                guard result.value.isTruthy else { return .dropped(byConfigId: descriptor.id) }
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
            var properties = object["properties"]?.objectValue ?? [:]
            properties["$plugins_succeeded"] = .array(succeeded.map(JSON.string))
            properties["$plugins_failed"] = .array(failed.map(JSON.string))
            object["properties"] = .object(properties)
            current = .object(object)
        }
        return .event(current)
    }

    /// Calls `method` of every target concurrently on this worker, each on its own copy of the event
    /// (reference §9.4); errors are recorded per config.
    func fanOut(_ targets: [LoadedPlugin], method: String, event: JSON, reporter: PluginErrorReporter) async {
        await withTaskGroup(of: Void.self) { group in
            for target in targets where hasSandbox(target.key) {
                group.addTask {
                    await self.callRecording(target, method: method, event: event, reporter: reporter)
                }
            }
        }
    }

    private func callRecording(_ target: LoadedPlugin, method: String, event: JSON, reporter: PluginErrorReporter) async {
        do {
            _ = try await call(target.key, kind: .method, name: method, arguments: [event], wantsResult: false, bounded: true)
        } catch {
            await reporter.recordError(target.descriptor, error, event: event)
        }
    }
}
