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
        .library(name: "StewardRuntime", targets: ["StewardRuntime"]),
        // Plugins shipped with Steward. Each is a shared library loaded at run time through the
        // C ABI; none of them is linked into the engine.
        .library(name: "StewardSupportPlugin", type: .dynamic, targets: ["StewardSupportPlugin"]),
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
    ],
    targets: [
        // The C ABI: one public header, nothing else.
        .target(name: "StewardABI", path: "Sources/StewardABI"),
        .target(name: "StewardJSON", swiftSettings: strictSettings),
        .target(name: "StewardExpressions", dependencies: ["StewardJSON"], swiftSettings: strictSettings),
        .target(
            name: "StewardTemplates",
            dependencies: ["StewardJSON", "StewardExpressions", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StewardPlugins",
            dependencies: ["StewardABI", "StewardJSON", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StewardRuntime",
            dependencies: [
                "StewardJSON", "StewardExpressions", "StewardTemplates", "StewardPlugins",
                // API only (no backend): the engine counts instances and times steps.
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StewardStore",
            dependencies: [
                "StewardJSON", "StewardTemplates", "StewardRuntime", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StewardReview",
            dependencies: ["StewardJSON", "StewardTemplates", "StewardRuntime", "StewardStore"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StewardServer",
            dependencies: [
                "StewardJSON", "StewardTemplates", "StewardRuntime", "StewardStore", "StewardReview",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StewardTesting",
            dependencies: ["StewardJSON", "StewardRuntime"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StewardCLI",
            dependencies: [
                "StewardJSON", "StewardTemplates", "StewardPlugins", "StewardRuntime", "StewardStore", "StewardReview",
                "StewardServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(name: "steward", dependencies: ["StewardCLI"], swiftSettings: strictSettings),

        // Shipped plugins (Swift ones; C plugins are built by `steward plugins build`).
        .target(
            name: "StewardSupportPlugin",
            dependencies: ["StewardABI"],
            path: "Plugins/support",
            exclude: ["steward-plugin.yaml"],
            swiftSettings: strictSettings
        ),

        .testTarget(name: "StewardJSONTests", dependencies: ["StewardJSON"]),
        .testTarget(name: "StewardExpressionsTests", dependencies: ["StewardExpressions"]),
        .testTarget(name: "StewardTemplatesTests", dependencies: ["StewardTemplates"], exclude: ["Fixtures"]),
        .testTarget(name: "StewardPluginsTests", dependencies: ["StewardPlugins", "StewardJSON"], exclude: ["Fixtures"]),
        .testTarget(name: "StewardRuntimeTests", dependencies: ["StewardRuntime", "StewardTesting"]),
        .testTarget(name: "StewardStoreTests", dependencies: ["StewardStore", "StewardRuntime", "StewardReview", "StewardTesting"]),
        .testTarget(
            name: "StewardCrashTests", dependencies: ["StewardStore", "StewardRuntime", "StewardReview", "StewardJSON", "StewardTemplates"],
            exclude: ["Fixtures"]),
        .testTarget(name: "StewardEndToEndTests", dependencies: ["StewardJSON"]),
        // Starts the real server on a loopback port and talks to it over HTTP (URLSession), runs
        // `steward serve` as a process, and drives headless Chromium through chromedriver's
        // WebDriver API for the reviewer page. (HummingbirdTesting is not used: it would build
        // async-http-client and BoringSSL for nothing the live server tests need.)
        .testTarget(
            name: "StewardServerTests",
            dependencies: [
                "StewardServer", "StewardStore", "StewardReview", "StewardRuntime", "StewardJSON", "StewardTemplates",
                "StewardPlugins", .product(name: "Yams", package: "Yams"), .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
    ]
)
