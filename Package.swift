// swift-tools-version: 6.1
import PackageDescription

/// Every Swift module is built in Swift 6 language mode with explicit `Sendable` checking.
let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .unsafeFlags(["-require-explicit-sendable"]),
]

let package = Package(
    name: "Steward",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "steward", targets: ["steward"]),
        .executable(name: "steward-plugin-host", targets: ["steward-plugin-host"]),
        .library(name: "StewardCore", targets: ["StewardCore"]),
        // The engine's modules for a process that embeds it (Benchmarks/ builds against this
        // from its own package, so the root build never pays for the benchmarks).
        .library(
            name: "StewardEmbedded",
            targets: [
                "StewardABI", "StewardJSON", "StewardTemplates", "StewardPlugins", "StewardCore", "StewardEngine", "StewardStoreSQLite",
                "StewardReview", "StewardForeign", "StewardDispatch", "StewardPrompts", "StewardSLA", "StewardBootstrap", "StewardStatistics", "StewardEval", "StewardMigration",
            ]),
        // The SDK for Swift plugins. Plugins link it statically; the engine never links it.
        .library(name: "StewardPluginKit", targets: ["StewardPluginKit"]),
        // Plugins shipped with Steward. Each is a shared library loaded at run time through the
        // C ABI; none of them is linked into the engine.
        .library(name: "StewardSupportPlugin", type: .dynamic, targets: ["StewardSupportPlugin"]),
        .library(name: "StewardBankingIntentPlugin", type: .dynamic, targets: ["StewardBankingIntentPlugin"]),
        .executable(name: "banking-intent-train", targets: ["banking-intent-train"]),
        .library(name: "StewardOpenAIPlugin", type: .dynamic, targets: ["StewardOpenAIPlugin"]),
        // The Swift example of Docs/writing-a-plugin.md, built so the tests can load it.
        .library(name: "HelloSwiftPlugin", type: .dynamic, targets: ["HelloSwiftPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // The HTTP server. Its swift-configuration support is off: `steward serve` takes flags.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Ed25519 for signed audit heads (StewardReview only).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // The scale-out store's driver (StewardStorePostgres only).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // The C ABI: one public header, nothing else.
        .target(name: "StewardABI", path: "Sources/StewardABI"),
        .target(name: "StewardJSON", swiftSettings: strictSettings),
        // SHA-256 for the audit chain, reviewer tokens and content-addressed snapshots (swift-crypto's).
        .target(name: "StewardDigest", dependencies: [.product(name: "Crypto", package: "swift-crypto")], swiftSettings: strictSettings),
        // libffi, for calling plain exported C functions from templates (`ffi` states).
        .systemLibrary(name: "CFFI", path: "Sources/CFFI", pkgConfig: "libffi", providers: [.apt(["libffi-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Raw deflate of small documents on reused zlib streams (the SQLite store's snapshots and payloads).
        .target(name: "StewardDeflate", dependencies: ["CZlib"], swiftSettings: strictSettings),
        .target(
            name: "StewardForeign",
            dependencies: ["CFFI", "StewardJSON", "StewardTemplates", "StewardPlugins"],
            swiftSettings: strictSettings
        ),
        .target(name: "StewardExpressions", dependencies: ["StewardJSON"], swiftSettings: strictSettings),
        // Pure statistics (Wilson and bootstrap intervals, Cohen's kappa, McNemar): no dependency.
        .target(name: "StewardStatistics", swiftSettings: strictSettings),
        // SLA business-time arithmetic: customer calendars, DST-safe deadlines. Foundation only.
        .target(name: "StewardCalendar", swiftSettings: strictSettings),
        .target(
            name: "StewardTemplates",
            dependencies: ["StewardJSON", "StewardExpressions", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),
        // The Linux calls a plugin host process makes on itself (no-new-privileges, closing
        // descriptors, a network namespace, thread CPU clocks): prctl and syscall are C varargs.
        .target(name: "CPluginSandbox", path: "Sources/CPluginSandbox"),
        .target(
            name: "StewardPlugins",
            dependencies: ["StewardABI", "CPluginSandbox", "StewardJSON", "StewardDigest", .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),
        // The pure core: instance, event, effect, the transition function. No I/O, no clock,
        // no plugin host, no metrics.
        .target(
            name: "StewardCore",
            // StewardDigest: the audit sample is drawn from a hash of the instance id, not a random source.
            dependencies: ["StewardJSON", "StewardExpressions", "StewardTemplates", "StewardDigest"],
            swiftSettings: strictSettings
        ),
        // Drives the core: the durable engine, the executor, the pool that keeps blocking plugin
        // calls off the cooperative threads, clocks, and the store protocols every backend implements.
        .target(
            name: "StewardEngine",
            dependencies: [
                "StewardCore", "StewardJSON", "StewardTemplates", "StewardDigest",
                // API only (no backend): the engine counts instances and times steps.
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StewardPrompts",
            dependencies: ["StewardJSON", "StewardTemplates", .product(name: "Mustache", package: "swift-mustache")],
            swiftSettings: strictSettings
        ),
        // Routes a step call to a plugin step, a model adapter or a C function.
        .target(
            name: "StewardDispatch",
            dependencies: ["StewardCore", "StewardJSON", "StewardTemplates", "StewardPlugins", "StewardForeign", "StewardPrompts"],
            swiftSettings: strictSettings
        ),
        // The embedded store: GRDB over SQLite, behind the engine's store protocols.
        .target(
            name: "StewardStoreSQLite",
            dependencies: [
                "StewardCore", "StewardEngine", "StewardJSON", "StewardTemplates", "StewardDigest", "StewardDeflate",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        // The scale-out store: PostgreSQL through postgres-nio, behind the same store protocols,
        // with leases so several engines share one database.
        .target(
            name: "StewardStorePostgres",
            dependencies: [
                "StewardCore", "StewardEngine", "StewardJSON", "StewardTemplates", "StewardDigest",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The store conformance suite, written once and run against every backend.
        .target(
            name: "StewardStoreConformance",
            dependencies: ["StewardCore", "StewardEngine", "StewardJSON", "StewardTemplates", "StewardTesting"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StewardSLA",
            dependencies: ["StewardJSON", "StewardTemplates", "StewardCore", "StewardEngine", "StewardCalendar"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StewardReview",
            dependencies: [
                "StewardJSON", "StewardTemplates", "StewardCore", "StewardEngine", "StewardDigest", "StewardStatistics",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StewardServer",
            dependencies: [
                "StewardJSON", "StewardTemplates", "StewardCore", "StewardEngine", "StewardReview",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The one place an engine is assembled: workspace, plugin manifests and builds,
        // templates and overlays, ffi, prompts, SLA, the store. The CLI, `steward serve`, the
        // benchmarks and the end-to-end tests all use it.
        .target(
            name: "StewardBootstrap",
            dependencies: [
                "StewardJSON", "StewardTemplates", "StewardPlugins", "StewardCore", "StewardEngine", "StewardStoreSQLite", "StewardReview",
                "StewardForeign", "StewardDispatch", "StewardPrompts", "StewardSLA", "StewardDigest", "StewardStorePostgres",
                .product(name: "Yams", package: "Yams"),
                // API only: plugin call timers by mode, isolated hosts' restarts and failures.
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // Evaluation: golden datasets, eval runs through the real template in a sandbox, metrics
        // with intervals, gates, comparisons, reports, cadence and calibrated thresholds.
        .target(
            name: "StewardEval",
            dependencies: [
                "StewardJSON", "StewardTemplates", "StewardCore", "StewardEngine", "StewardStatistics", "StewardDigest", "StewardBootstrap",
            ],
            swiftSettings: strictSettings
        ),
        // Staged, eval-gated, reversible model-binding migrations per customer.
        .target(
            name: "StewardMigration",
            dependencies: [
                "StewardJSON", "StewardTemplates", "StewardCore", "StewardEngine", "StewardEval", "StewardBootstrap", "StewardReview",
                "StewardStatistics",
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StewardTesting",
            dependencies: ["StewardJSON", "StewardTemplates", "StewardCore", "StewardEngine", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),
        // Delivering the notification outbox: webhook channels, signed, retried, dead-lettered.
        .target(
            name: "StewardNotify",
            dependencies: [
                "StewardEngine", "StewardTemplates", "StewardJSON",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings),
        .target(
            name: "StewardCLI",
            dependencies: [
                "StewardJSON", "StewardTemplates", "StewardPlugins", "StewardCore", "StewardEngine", "StewardStoreSQLite", "StewardReview",
                "StewardPrompts", "StewardSLA", "StewardBootstrap", "StewardServer", "StewardEval", "StewardStatistics", "StewardMigration",
                "StewardNotify",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(name: "steward", dependencies: ["StewardCLI"], swiftSettings: strictSettings),
        // The host process of a plugin that runs isolated (`isolation: process`), installed beside steward.
        .executableTarget(name: "steward-plugin-host", dependencies: ["StewardPlugins", "CPluginSandbox"], swiftSettings: strictSettings),

        // Evaluation of the kb plugin (Plugins/kb, a C plugin) through the real plugin host.
        .target(
            name: "StewardKnowledge",
            dependencies: ["StewardPlugins", "StewardJSON"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "steward-kb-eval",
            dependencies: ["StewardKnowledge", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictSettings
        ),

        // The SDK for Swift plugins: descriptors, entry, call decoding and JSON. Its JSON folder
        // is a symlink to Sources/StewardJSON, so the same source compiles into a module of
        // another name: a plugin never carries a second module called StewardJSON.
        .target(name: "StewardPluginKit", dependencies: ["StewardABI"], swiftSettings: strictSettings),
        // Shipped plugins (Swift ones; C plugins are built by `steward plugins build`).
        .target(
            name: "StewardSupportPlugin",
            dependencies: ["StewardPluginKit"],
            path: "Plugins/support",
            exclude: ["steward-plugin.yaml"],
            swiftSettings: strictSettings
        ),
        // The banking intent classifier: a pure Swift model module (no engine module, so the
        // plugin may link it), its trainer, and the plugin exposing it as adapters and a step.
        .target(name: "BankingIntentModel", path: "Plugins/banking-intent/Model", swiftSettings: strictSettings),
        .executableTarget(
            name: "banking-intent-train", dependencies: ["BankingIntentModel"], path: "Plugins/banking-intent/Train",
            swiftSettings: strictSettings
        ),
        .target(
            name: "StewardBankingIntentPlugin",
            dependencies: ["StewardPluginKit", "BankingIntentModel"],
            path: "Plugins/banking-intent/Plugin",
            swiftSettings: strictSettings
        ),
        // The adapter for OpenAI-compatible HTTP endpoints: StewardPluginKit and Foundation only.
        .target(
            name: "StewardOpenAIPlugin",
            dependencies: ["StewardPluginKit"],
            path: "Plugins/openai-compatible/Plugin",
            swiftSettings: strictSettings
        ),
        // The guide's Swift example, byte for byte (DocExampleTests checks both).
        .target(
            name: "HelloSwiftPlugin", dependencies: ["StewardPluginKit"], path: "Tests/StewardPluginsTests/Fixtures/hello-swift",
            swiftSettings: strictSettings
        ),

        .testTarget(name: "StewardJSONTests", dependencies: ["StewardJSON"]),
        .testTarget(name: "StewardStatisticsTests", dependencies: ["StewardStatistics"]),
        .testTarget(
            name: "StewardMigrationTests",
            dependencies: [
                "StewardMigration", "StewardEval", "StewardBootstrap", "StewardCore", "StewardEngine", "StewardJSON", "StewardTemplates",
                "StewardReview", "StewardStoreSQLite", "StewardTesting",
            ]),
        // Audits of sampled production work: the desk's verdict rules over a real SQLite store,
        // and the accuracy, agreement and labels computed from verdicts.
        .testTarget(
            name: "StewardReviewTests",
            dependencies: [
                "StewardReview", "StewardStatistics", "StewardStoreSQLite", "StewardCore", "StewardEngine", "StewardJSON", "StewardTemplates",
                "StewardTesting",
            ]),
        .testTarget(
            name: "StewardEvalTests",
            dependencies: [
                "StewardEval", "StewardStatistics", "StewardBootstrap", "StewardCore", "StewardEngine", "StewardJSON", "StewardTemplates",
                "StewardStoreSQLite", "StewardTesting", .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(name: "StewardExpressionsTests", dependencies: ["StewardExpressions"]),
        .testTarget(name: "StewardPromptsTests", dependencies: ["StewardPrompts", "StewardJSON", "StewardTemplates"]),
        .testTarget(
            name: "StewardForeignTests", dependencies: ["StewardForeign", "StewardTemplates", "StewardJSON", "StewardCore", "StewardTesting"],
            exclude: ["Fixtures"]),
        .testTarget(name: "StewardCalendarTests", dependencies: ["StewardCalendar"]),
        .testTarget(
            name: "StewardSLATests",
            dependencies: [
                "StewardSLA", "StewardCalendar", "StewardStoreSQLite", "StewardCore", "StewardEngine", "StewardReview", "StewardTemplates",
                "StewardTesting", "StewardBootstrap", "StewardPlugins",
            ]),
        .testTarget(name: "StewardTemplatesTests", dependencies: ["StewardTemplates", "StewardTesting"], exclude: ["Fixtures"]),
        .testTarget(name: "StewardPluginsTests", dependencies: ["StewardABI", "StewardPlugins", "StewardJSON", "StewardTesting"], exclude: ["Fixtures"]),
        .testTarget(name: "StewardCoreTests", dependencies: ["StewardCore", "StewardTesting"]),
        .testTarget(name: "StewardEngineTests", dependencies: ["StewardEngine", "StewardCore", "StewardTesting", "StewardTemplates", "StewardJSON"]),
        .testTarget(
            name: "StewardStoreSQLiteTests",
            dependencies: [
                "StewardStoreSQLite", "StewardStoreConformance", "StewardCore", "StewardEngine", "StewardReview", "StewardTesting",
                "StewardTemplates", "StewardJSON", "StewardDigest", .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "StewardStorePostgresTests",
            dependencies: [
                "StewardStorePostgres", "StewardStoreConformance", "StewardCore", "StewardEngine", "StewardTesting", "StewardTemplates",
                "StewardJSON", .product(name: "Logging", package: "swift-log"), .product(name: "PostgresNIO", package: "postgres-nio"),
            ]),
        .testTarget(
            name: "StewardCrashTests",
            dependencies: [
                "StewardStoreSQLite", "StewardBootstrap", "StewardCore", "StewardEngine", "StewardReview", "StewardJSON", "StewardTemplates", "StewardTesting",
            ],
            exclude: ["Fixtures"]),
        .testTarget(name: "StewardEndToEndTests", dependencies: ["StewardJSON", "StewardCore", "StewardTesting"], exclude: ["Fixtures"]),
        // The assembled engine over temp workspaces: plugin calls on the bounded pool with
        // timeouts, templates pinned by content, current state of running instances.
        .testTarget(
            name: "StewardBootstrapTests",
            dependencies: [
                "StewardBootstrap", "StewardCore", "StewardEngine", "StewardJSON", "StewardReview", "StewardTemplates", "StewardTesting", "StewardPlugins",
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            exclude: ["Fixtures"]),
        // Loads the real banking plugin (a product of this package, built beside the tests) and
        // a C fixture plugin the tests compile, and calls their adapters through the ABI.
        .testTarget(name: "StewardAdapterTests", dependencies: ["StewardPlugins", "StewardJSON", "StewardTesting"], exclude: ["Fixtures"]),
        // Loads the real OpenAI-compatible plugin (built beside the tests) and calls it against
        // an HTTP server the tests run on 127.0.0.1, directly and through the engine.
        .testTarget(
            name: "StewardOpenAIAdapterTests",
            dependencies: [
                "StewardABI", "StewardPlugins", "StewardJSON", "StewardCore", "StewardEngine", "StewardBootstrap", "StewardTemplates",
                "StewardTesting", "StewardDispatch", "StewardPrompts", "StewardStoreSQLite",
            ]),
        .testTarget(name: "StewardKnowledgeTests", dependencies: ["StewardKnowledge", "StewardPlugins", "StewardJSON"]),
        // Starts the real server on a loopback port and talks to it over HTTP (URLSession), runs
        // `steward serve` as a process, and drives headless Chromium through chromedriver's
        // WebDriver API for the reviewer page. The engine is assembled by StewardBootstrap, as
        // `steward serve` assembles it. (HummingbirdTesting is not used: it would build
        // async-http-client and BoringSSL for nothing the live server tests need.)
        .testTarget(
            name: "StewardServerTests",
            dependencies: [
                "StewardServer", "StewardBootstrap", "StewardTesting", "StewardStoreSQLite", "StewardReview", "StewardCore", "StewardEngine", "StewardJSON",
                "StewardTemplates", "StewardPlugins", "StewardMigration", "StewardEval", "StewardCLI", "StewardNotify", .product(name: "Yams", package: "Yams"), .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
    ]
)
