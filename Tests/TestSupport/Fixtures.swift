import Foundation
import LuaKit

/// Shared fixtures for Crescent's test targets.
public enum Fixtures {
    /// Tight limits that keep hostile tests fast: 2 M instructions, 0.5 s, 16 MiB.
    public static let testLimits = LuaLimits(instructions: 2_000_000, timeout: 0.5, memoryBytes: 16 << 20)

    /// A fresh sandboxed state.
    public static func state(_ limits: LuaLimits = testLimits, plugins: String? = nil) throws -> LuaState {
        try LuaState(limits: limits, pluginDirectory: plugins)
    }

    /// A script that exercises strings, tables, closures and math: a state
    /// that returns `expectedHealthy` from it works normally.
    public static let healthyScript = """
        local t = {}
        for i = 1, 100 do t[#t + 1] = i * 2 end
        local sum = 0
        for _, v in ipairs(t) do sum = sum + v end
        local words = {}
        for w in ("gold silver bronze"):gmatch("%a+") do words[#words + 1] = w:upper() end
        return sum, table.concat(words, ","), math.floor(7.9), ("%05.1f"):format(3.14159)
        """
    public static let expectedHealthy: [LuaValue] = [.integer(10100), "GOLD,SILVER,BRONZE", .integer(7), "003.1"]

    /// Runs `body` and returns its result with the wall-clock time it took.
    public static func timed<T>(_ body: () throws -> T) rethrows -> (T, Duration) {
        let clock = ContinuousClock()
        let start = clock.now
        let result = try body()
        return (result, clock.now - start)
    }

    /// The folder every temporary folder of this test process goes in;
    /// removed, with whatever tests left in it, when the process exits.
    private static let temporaryRoot: URL = {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("crescent-tests-\(getpid())-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: Fixtures.temporaryRoot) }
        return root
    }()

    /// A new temporary folder holding `files` (relative path → contents).
    public static func temporaryDirectory(files: [String: String] = [:]) throws -> URL {
        let root = temporaryRoot.appendingPathComponent("crescent-test-\(UUID().uuidString)", isDirectory: true)
        for (path, contents) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: url)
        }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    /// The package's root folder.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built `crescent` executable next to the running test bundle.
    public static func crescentExecutable() -> URL {
        if let override = ProcessInfo.processInfo.environment["CRESCENT_BIN"] {
            return URL(fileURLWithPath: override)
        }
        let bundleDirectory = Bundle.main.bundleURL
        let sibling = bundleDirectory.appendingPathComponent("crescent")
        if FileManager.default.isExecutableFile(atPath: sibling.path) { return sibling }
        return packageRoot.appendingPathComponent(".build/debug/crescent")
    }

    /// What a finished process printed and returned.
    public struct ProcessResult: Sendable {
        public var status: Int32
        /// Whether the process ended by a signal (then `status` is the signal).
        public var signaled = false
        public var stdout: Data
        public var stderr: String
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Runs an executable to completion with no standard input.
    public static func run(_ executable: URL, _ arguments: [String], in directory: URL? = nil,
                           environment: [String: String] = [:], input: String? = nil) throws -> ProcessResult {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                             stdout: stdout, stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Runs a command whose children outlive it (a tmux server, a browser's
    /// helpers) without handing them any descriptor of this process (Foundation
    /// watches one to see a child exit, and a pipe held open would never end):
    /// a shell closes them all first. Output goes to the files given, else nowhere.
    public static func runDetached(_ arguments: [String], stdout: URL? = nil, stderr: URL? = nil) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", #"for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && [ "$n" != 255 ] && eval "exec $n>&-" 2>/dev/null; done; out="$1"; err="$2"; shift 2; exec "$@" > "$out" 2> "$err""#,
                             "sh", stdout?.path ?? "/dev/null", stderr?.path ?? "/dev/null"] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
