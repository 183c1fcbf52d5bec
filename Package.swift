// swift-tools-version:6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .treatAllWarnings(as: .error),
    .enableUpcomingFeature("ExistentialAny"),
]

/// The executables allocate with jemalloc (Debian's libjemalloc): events are built on one thread and
/// freed on another, which glibc's malloc serves through locked arenas and consolidation. Measured with
/// `make benchmark`: 30–50 % more plugin executions per second, the same RSS per plugin config.
let jemalloc: [LinkerSetting] = [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]

let package = Package(
    name: "posthog-plugin-server",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "plugin-server", targets: ["plugin-server"]),
        .executable(name: "plugin-benchmark", targets: ["plugin-benchmark"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // Pure PostHog data logic: ordered JSON with JavaScript semantics, UUIDT, timestamps,
        // elements, Celery envelopes. No I/O, so it is fast to build and to test.
        .target(
            name: "PostHogEvents",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // A RESP client on SwiftNIO with a connection pool and pub/sub.
        .target(
            name: "RedisClient",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // libmaxminddb and the brotli decoder, for the GeoIP database (Debian -dev packages).
        .systemLibrary(name: "CMaxMindDB", pkgConfig: "libmaxminddb", providers: [.apt(["libmaxminddb-dev"])]),
        .systemLibrary(name: "CBrotli", pkgConfig: "libbrotlidec", providers: [.apt(["libbrotli-dev"])]),
        // Opens a brotli-compressed MaxMind database and answers City lookups in the shape of the
        // MaxMind Node reader. No Postgres or Redis: the server decides where the bytes come from.
        .target(name: "GeoIP", dependencies: ["CMaxMindDB", "CBrotli", "PostHogEvents"], swiftSettings: strict),
        // librdkafka (Debian's librdkafka-dev to build against; any 2.x at run time).
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        // A Kafka producer that reports broker acknowledgements and a group consumer with manual
        // offset commits, on librdkafka. Knows nothing of PostHog.
        .target(
            name: "Kafka",
            dependencies: ["CRdKafka", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "PluginServer",
            dependencies: [
                "PostHogEvents",
                "RedisClient",
                "PluginRuntime",
                "GeoIP",
                "Kafka",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            resources: [.copy("Resources")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "plugin-server",
            dependencies: [
                "PluginServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict,
            linkerSettings: jemalloc
        ),
        // JavaScriptCore's C API (WebKitGTK build) plus the two watchdog functions the library
        // exports without declaring them in its public headers.
        .systemLibrary(
            name: "CJavaScriptCore",
            pkgConfig: "javascriptcoregtk-4.1",
            providers: [.apt(["libjavascriptcoregtk-4.1-dev"])]
        ),
        .systemLibrary(name: "CSystemZlib", providers: [.apt(["zlib1g-dev"])]),
        // clock_gettime for the process: JavaScriptCore's watchdog reads answered from CLOCK_MONOTONIC.
        .target(name: "CEngineHooks", linkerSettings: [.linkedLibrary("dl")]),
        // Runs plugin code: worker threads owning JSC context groups, one sandbox per plugin config.
        .target(
            name: "PluginRuntime",
            dependencies: [
                "CJavaScriptCore",
                "CSystemZlib",
                "CBrotli",
                "CEngineHooks",
                "GeoIP",
                "PostHogEvents",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: strict
        ),
        // Plugin executions per second through PluginRuntime (make benchmark).
        .executableTarget(
            name: "plugin-benchmark",
            dependencies: ["PluginRuntime", "PostHogEvents", "Kafka"],
            swiftSettings: strict,
            linkerSettings: jemalloc
        ),
        .testTarget(
            name: "PluginRuntimeTests",
            dependencies: [
                "PluginRuntime", "CJavaScriptCore", "CEngineHooks", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "PostHogEventsTests", dependencies: ["PostHogEvents"], swiftSettings: strict),
        .testTarget(name: "RedisClientTests", dependencies: ["RedisClient"], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka"], swiftSettings: strict),
        .testTarget(
            name: "PluginServerTests",
            dependencies: [
                "PluginServer", "Kafka", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "GeoIPTests", dependencies: ["GeoIP"], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "PluginServer", "PostHogEvents", "RedisClient", "PluginRuntime", "Kafka",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
    ]
)
