// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Crescent",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "crescent", targets: ["crescent"]),
        .library(name: "LuaKit", targets: ["LuaKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        // Debian's liblua5.4-dev, found through pkg-config.
        .systemLibrary(
            name: "CLua",
            pkgConfig: "lua5.4",
            providers: [.apt(["liblua5.4-dev"])]
        ),
        // The C that must be C: allocator, count hook, trampolines, bounded patterns.
        .target(name: "CLuaShim", dependencies: ["CLua"]),
        // The Swift bridge to Lua: state, values, functions, sandbox, limits.
        .target(name: "LuaKit", dependencies: ["CLua", "CLuaShim"]),
        // A VFS shim that gathers SQLite's write-ahead-log writes into large writes.
        .target(name: "CWALBuffer", linkerSettings: [.linkedLibrary("sqlite3")]),
        // A page cache over SQLite's own that spares small commits a scan of the whole cache.
        .target(name: "CPageCache", linkerSettings: [.linkedLibrary("sqlite3")]),
        // SQLite through GRDB: schema, migrations, event log, state, outbox.
        .target(name: "Store", dependencies: ["CPageCache", "CWALBuffer", .product(name: "GRDB", package: "GRDB.swift"),
                                             .product(name: "GRDBSQLite", package: "GRDB.swift"),
                                             .product(name: "Crypto", package: "swift-crypto")]),
        // Rule kinds, normalization, the per-event pipeline, explanations.
        .target(name: "Engine", dependencies: ["LuaKit", "Store", .product(name: "HeapModule", package: "swift-collections")], resources: [.copy("Rules/Prelude.lua"), .copy("Rules/PreludeCustomer.lua"), .copy("Rules/PreludeHost.lua"), .copy("Rules/PreludeJourneys.lua"), .copy("Rules/PreludeSentiment.lua"),
                                                                          .copy("Scenarios/Scenario.lua")]),
        // Reports over the store (`crescent report`, `GET /v1/reports/{name}`).
        .target(name: "Reports", dependencies: ["Store", .product(name: "GRDB", package: "GRDB.swift")]),
        // libedit (line editing and history for the REPL).
        .systemLibrary(name: "CLibedit", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        // `crescent repl`: a Lua prompt with the engine's helpers.
        .target(name: "Repl", dependencies: ["Engine", "LuaKit", "Store", "CLibedit"]),
        // HTTP (Hummingbird 2): Segment-compatible ingest, decisions, admin API, metrics.
        .target(
            name: "Server",
            dependencies: [
                "Engine",
                "Store",
                "Reports",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // The deterministic example-traffic generator (`crescent generate`).
        .target(name: "EventGenerator", path: "examples/generator"),
        // Command implementations, kept in a library so tests can drive them.
        .target(
            name: "CrescentCLI",
            dependencies: [
                "LuaKit",
                "Engine",
                "Store",
                "EventGenerator",
                "Server",
                "Repl",
                "Reports",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Both executables allocate with jemalloc (Debian's libjemalloc-dev) instead of glibc's malloc: a
        // long-running server's heap stays fast to allocate from (docs/performance.md, "The allocator").
        .executableTarget(name: "crescent", dependencies: ["CrescentCLI"], linkerSettings: [.linkedLibrary("jemalloc")]),
        // Benchmarks: the C reference loop and the runner behind `make bench`.
        .target(name: "CBenchLoop", dependencies: ["CLua", "CLuaShim"]),
        .target(name: "CLoadGenerator"),
        .executableTarget(name: "crescent-bench", dependencies: ["LuaKit", "CBenchLoop", "CLoadGenerator", "Engine", "Store", "EventGenerator", "Reports",
                                                                .product(name: "AsyncHTTPClient", package: "async-http-client")],
                          linkerSettings: [.linkedLibrary("jemalloc")]),
        // Shared fixtures for every test target.
        .target(name: "TestSupport", dependencies: ["LuaKit", "Engine", "Store", "EventGenerator",
                                                   .product(name: "GRDB", package: "GRDB.swift")], path: "Tests/TestSupport"),
        .testTarget(name: "LuaKitTests", dependencies: ["LuaKit", "TestSupport"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "TestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                                                      .product(name: "GRDBSQLite", package: "GRDB.swift")]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Engine", "Store", "TestSupport",
                                                        .product(name: "HummingbirdTesting", package: "hummingbird"),
                                                        .product(name: "Crypto", package: "swift-crypto")],
                    exclude: ["sdk_client.py"]), // run by the SDK tests with the real Python clients
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Engine", "Store", "EventGenerator", "TestSupport",
                                                         .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "ReplTests", dependencies: ["Repl", "Engine", "Store", "LuaKit", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Store", "LuaKit", "EventGenerator", "TestSupport",
                                                        .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "CrescentCLITests", dependencies: ["CrescentCLI", "crescent", "TestSupport",
                                                         .product(name: "GRDB", package: "GRDB.swift")]),
    ],
    swiftLanguageModes: [.v6]
)
