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
        // Command implementations, kept in a library so tests can drive them.
        .target(
            name: "CrescentCLI",
            dependencies: [
                "LuaKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "crescent", dependencies: ["CrescentCLI"]),
        // Benchmarks: the C reference loop and the runner behind `make bench`.
        .target(name: "CBenchLoop", dependencies: ["CLua", "CLuaShim"]),
        .executableTarget(name: "crescent-bench", dependencies: ["LuaKit", "CBenchLoop"]),
        // Shared fixtures for every test target.
        .target(name: "TestSupport", dependencies: ["LuaKit"], path: "Tests/TestSupport"),
        .testTarget(name: "LuaKitTests", dependencies: ["LuaKit", "TestSupport"]),
        .testTarget(name: "CrescentCLITests", dependencies: ["CrescentCLI", "crescent", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
