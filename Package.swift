// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "bulk-update",
    platforms: [.macOS(.v15)],  // Linux is the target; macOS 15 gives Mutex/Atomic without @available noise
    products: [
        .library(name: "BulkUpdate", targets: ["BulkUpdate"]),
        .library(name: "BulkUpdatePostgres", targets: ["BulkUpdatePostgres"]),
        .library(name: "BulkUpdateSQLite", targets: ["BulkUpdateSQLite"]),
        .library(name: "BulkUpdateFluent", targets: ["BulkUpdateFluent"]),
        .executable(name: "bulk-update", targets: ["bulk-update"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // The command-line tool's --metrics-port only.
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/fluent-kit.git", from: "1.57.0"),
        // Fluent drivers: BulkUpdateFluentTests only (they dominate build time).
        .package(url: "https://github.com/vapor/fluent-postgres-driver.git", from: "2.14.0"),
        .package(url: "https://github.com/vapor/fluent-sqlite-driver.git", from: "4.9.0"),
    ],
    targets: [
        .target(
            name: "BulkUpdate",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .target(
            name: "BulkUpdatePostgres",
            dependencies: [
                "BulkUpdate",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "BulkUpdateSQLite",
            dependencies: [
                "BulkUpdate",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "BulkUpdateFluent",
            dependencies: [
                "BulkUpdate",
                "BulkUpdatePostgres",
                "BulkUpdateSQLite",
                .product(name: "FluentKit", package: "fluent-kit"),
                .product(name: "FluentSQL", package: "fluent-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
            ]
        ),
        .executableTarget(
            name: "bulk-update",
            dependencies: [
                "BulkUpdate",
                "BulkUpdatePostgres",
                "BulkUpdateSQLite",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // What every test target shares: the test server's discovery, seeded data.
        .target(name: "BulkUpdateTestSupport", path: "Tests/BulkUpdateTestSupport"),
        .testTarget(name: "BulkUpdateTests", dependencies: ["BulkUpdate", "BulkUpdateTestSupport"]),
        .testTarget(
            name: "BulkUpdateSQLiteTests",
            dependencies: [
                "BulkUpdateTestSupport",
                "BulkUpdate",
                "BulkUpdateSQLite",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(
            name: "BulkUpdateCLITests",
            dependencies: [
                "BulkUpdateTestSupport",
                "bulk-update",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "BulkUpdateFluentTests",
            dependencies: [
                "BulkUpdateTestSupport",
                "BulkUpdate",
                "BulkUpdateFluent",
                "BulkUpdatePostgres",
                .product(name: "FluentKit", package: "fluent-kit"),
                .product(name: "FluentSQL", package: "fluent-kit"),
                .product(name: "FluentPostgresDriver", package: "fluent-postgres-driver"),
                .product(name: "FluentSQLiteDriver", package: "fluent-sqlite-driver"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "BulkUpdatePostgresTests",
            dependencies: [
                "BulkUpdateTestSupport",
                "BulkUpdate",
                "BulkUpdatePostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ]
        ),
    ]
)

for target in package.targets {  // Swift 6 language mode is already the default at tools 6.x
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("ExistentialAny"),
            .enableUpcomingFeature("MemberImportVisibility"),
            .enableUpcomingFeature("InternalImportsByDefault"),
        ]
}
