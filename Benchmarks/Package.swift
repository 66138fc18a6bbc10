// swift-tools-version:6.1
// Micro-benchmarks of BulkUpdate's client-side hot path, without a database (ordo-one/benchmark):
//
//     cd Benchmarks && swift package benchmark
//
// A package of its own so the library's users never resolve the benchmark tooling. See docs/benchmarks.md.
import PackageDescription

import struct Foundation.URL

// The code measured is `package`-visible or internal to the CLI, which another package cannot import. So the
// benchmark target compiles the CLI's input readers itself (the symlink Benchmarks/ClientHotPath/Input points at
// Sources/bulk-update/Input) and joins the parent package's `package` scope: SwiftPM names that scope after the
// parent's identity, its directory name, with characters outside identifiers replaced by `_` (for example
// `bulk-update` → `bulk_update`). `unsafeFlags` are allowed here because this package is only ever a root package.
let parentDirectory = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent
let parentIdentity = parentDirectory.lowercased()
let parentPackageName = String(
    parentIdentity.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" }
)

let package = Package(
    name: "bulk-update-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "ClientHotPath",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "BulkUpdate", package: parentIdentity),
            ],
            path: "Benchmarks/ClientHotPath",
            packageAccess: false,  // no `-package-name` of this package's own, only the parent's below
            swiftSettings: [.unsafeFlags(["-package-name", parentPackageName])],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
