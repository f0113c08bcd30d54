// swift-tools-version: 6.1
import PackageDescription

// The benchmark harness, kept in its own package so the root package's build and CI never
// compile it. It depends on the engine by path (../..) and is always built in release mode by run.sh.
let package = Package(
    name: "StewardBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Steward", path: "../.."),
        // Only for PRAGMA wal_checkpoint and row counts on the store's own pool; same version as the root.
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .executableTarget(
            name: "steward-bench",
            // libffi comes with the engine (its CFFI module, through StewardForeign).
            dependencies: [.product(name: "StewardEmbedded", package: "Steward"), .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-require-explicit-sendable"])]
        ),
    ]
)
