import Logging
import PluginRuntime
import Testing

@testable import PluginServer

@Suite struct ServerMetricsTests {
    func makeMetrics() -> (ServerMetrics, StatsDClient) {
        let statsd = StatsDClient(host: "127.0.0.1", port: 8125, prefix: "ps.", logger: Logger(label: "test"))
        let metrics = ServerMetrics(statsd: statsd)
        metrics.pluginConfigsLoaded([
            PluginConfigDescriptor(id: 7, teamId: 2, pluginId: 3, pluginName: "geoip", code: .none),
            PluginConfigDescriptor(id: 8, teamId: 5, pluginId: 4, pluginName: "exporter", code: .none),
        ])
        return (metrics, statsd)
    }

    func lines(_ statsd: StatsDClient) -> [String] {
        statsd.queuedPackets.flatMap { String(decoding: $0, as: UTF8.self).split(separator: "\n").map(String.init) }
    }

    @Test("plugin calls become per plugin config series: invocations, errors, seconds, and a histogram per method")
    func prometheusSeries() {
        let (metrics, _) = makeMetrics()
        let geoip = PluginConfigRef(id: 7, teamId: 2, pluginId: 3)
        metrics.pluginInvocation(PluginInvocation(method: "processEvent", config: geoip, seconds: 0.5, failed: false))
        metrics.pluginInvocation(PluginInvocation(method: "processEvent", config: geoip, seconds: 0.25, failed: true))
        metrics.pluginInvocation(PluginInvocation(method: "onEvent", config: geoip, seconds: 0.125, failed: false))
        let text = metrics.registry.emitToString()
        let labels = #"plugin_config_id="7",plugin="geoip",team_id="2""#
        #expect(text.contains(#"plugin_config_invocations_total{\#(labels),method="processEvent"} 2"#))
        #expect(text.contains(#"plugin_config_errors_total{\#(labels),method="processEvent"} 1"#))
        #expect(text.contains(#"plugin_config_duration_seconds_total{\#(labels),method="processEvent"} 0.75"#))
        #expect(text.contains(#"plugin_config_invocations_total{\#(labels),method="onEvent"} 1"#))
        #expect(text.contains(#"plugin_config_errors_total{\#(labels),method="onEvent"} 0"#))
        #expect(text.contains(#"plugin_call_duration_seconds_count{method="processEvent"} 2"#))
    }

    @Test("plugin calls keep the original's StatsD names: tagged process_event, ERROR counters, on_event, tasks and jobs")
    func statsdNames() {
        let (metrics, statsd) = makeMetrics()
        let geoip = PluginConfigRef(id: 7, teamId: 2, pluginId: 3)
        let exporter = PluginConfigRef(id: 8, teamId: 5, pluginId: 4)
        metrics.pluginInvocation(PluginInvocation(method: "processEvent", config: geoip, seconds: 0.012, failed: true))
        metrics.pluginInvocation(PluginInvocation(method: "onSnapshot", config: exporter, seconds: 0.002, failed: true))
        metrics.pluginInvocation(PluginInvocation(method: "runEveryMinute", config: exporter, seconds: 1, failed: false))
        metrics.pluginInvocation(PluginInvocation(method: "jobs.retry", config: exporter, seconds: 0.5, failed: true))
        metrics.pluginInvocation(PluginInvocation(method: "setupPlugin", config: exporter, seconds: 0.5, failed: false))
        #expect(
            lines(statsd) == [
                "ps.plugin.process_event,plugin=geoip,teamId=2:12|ms", "ps.plugin.geoip.process_event.ERROR:1|c",
                "ps.plugin.exporter.on_event:2|ms", "ps.plugin.exporter.on_event.ERROR:1|c",
                "ps.plugin.task.schedule.runEveryMinute.8:1000|ms",
                "ps.plugin.task.job.retry.8:500|ms", "ps.plugin.task.job.retry.8.ERROR:1|c",
            ])
    }

    @Test("stores and pipeline steps: query.postgres with its queryTag, the transaction typo, Redis names, kafka_queue steps")
    func storesAndSteps() {
        let (metrics, statsd) = makeMetrics()
        metrics.postgresQuery(tag: "fetchPerson", seconds: 0.003)
        metrics.postgresTransaction(seconds: 0.004)
        metrics.redisCall(.get, seconds: 0.001)
        metrics.pipelineStep(.ingestion, seconds: 0.01)
        metrics.pipelineStep(.eachEvent, seconds: 0.02)
        metrics.webhookTaskSent()
        metrics.pluginLogEntryCreated(source: "CONSOLE", teamId: 2, pluginId: 3)
        #expect(
            lines(statsd) == [
                "ps.query.postgres,queryTag=fetchPerson:3|ms", "ps.query.postgres.total,queryTag=fetchPerson:1|c",
                "ps.query.postgres_transation:4|ms", "ps.query.postgres_transation.total:1|c",
                "ps.query.regisGet:1|ms", "ps.query.regisGet.total:1|c",
                "ps.kafka_queue.single_ingestion:10|ms", "ps.piscina_task.ingestEvent:10|ms", "ps.kafka_queue.each_event:20|ms",
                "ps.hooks.send_task:1|c", "ps.logs.entries_created,source=CONSOLE,team_id=2,plugin_id=3:1|c",
            ])
        let text = metrics.registry.emitToString()
        #expect(text.contains(#"postgres_query_duration_seconds_count{query_tag="fetchPerson"} 1"#))
        #expect(text.contains(#"redis_command_duration_seconds_count{command="GET"} 1"#))
        #expect(text.contains(#"event_pipeline_step_duration_seconds_count{step="ingestion"} 1"#))
        #expect(text.contains("hooks_send_task_total 1"))
    }

    @Test("a plugin renamed on reload gets series under its new name")
    func renamedPlugin() {
        let (metrics, statsd) = makeMetrics()
        let geoip = PluginConfigRef(id: 7, teamId: 2, pluginId: 3)
        metrics.pluginInvocation(PluginInvocation(method: "processEvent", config: geoip, seconds: 0.001, failed: false))
        metrics.pluginConfigsLoaded([PluginConfigDescriptor(id: 7, teamId: 2, pluginId: 3, pluginName: "geoip-v2", code: .none)])
        metrics.pluginInvocation(PluginInvocation(method: "processEvent", config: geoip, seconds: 0.001, failed: false))
        #expect(
            metrics.registry.emitToString().contains(
                #"plugin_config_invocations_total{plugin_config_id="7",plugin="geoip-v2",team_id="2",method="processEvent"} 1"#))
        #expect(lines(statsd).last == "ps.plugin.process_event,plugin=geoip-v2,teamId=2:1|ms")
    }
}
