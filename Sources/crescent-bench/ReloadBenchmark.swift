import AsyncHTTPClient
import Foundation
import NIOCore

/// A child `crescent serve` (the release binary beside this benchmark).
struct ServerProcess {
    let process: Process
    let port: Int

    /// Starts `crescent serve --port 0` with more arguments; throws, with
    /// what the server said on standard error, when it does not come up.
    static func start(_ arguments: [String], environment: [String: String]) throws -> ServerProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("crescent")
        process.arguments = ["serve", "--port", "0"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let output = Pipe()
        process.standardOutput = output
        // Its log goes to a file, not a pipe that nobody drains while it runs.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-bench-serve-\(getpid()).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        var line = Data()
        while !line.contains(10) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
              let port = Int(text[range].split(separator: ":").last ?? "") else {
            process.terminate()
            process.waitUntilExit()
            let said = ((try? String(contentsOf: log, encoding: .utf8)) ?? "") + text
            let reason = said.trimmingCharacters(in: .whitespacesAndNewlines)
            throw BenchError("crescent serve did not start" + (reason.isEmpty ? "" : ": " + reason))
        }
        return ServerProcess(process: process, port: port)
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// Hot reload: the time from writing a rule file to the new rule being
/// live (visible in `GET /v1/rules`), through inotify, `crescent check`, the
/// shipped scenario tests and the swap on every shard, with the server idle.
enum ReloadBenchmark {
    static func run(rounds: Int) async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.appendingPathComponent(".build/bench/reload")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["rules", "plugins"] {
            try FileManager.default.copyItem(at: root.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let server = try ServerProcess.start(
            ["--db", folder.appendingPathComponent("reload.db").path, "--rules", folder.appendingPathComponent("rules").path,
             "--plugins", folder.appendingPathComponent("plugins").path],
            environment: ["CRESCENT_ADMIN_TOKEN": "bench"])
        defer { server.stop() }
        var live: [Double] = [], inside: [Double] = []
        for round in 1...rounds {
            let file = folder.appendingPathComponent("rules/segments/bench_\(round).lua")
            let started = ContinuousClock.now
            try Data(#"segment "bench_\#(round)" { when = function(c) return c.orders_count > \#(round) end }"#.utf8).write(to: file)
            while true {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/v1/rules")
                request.headers.add(name: "Authorization", value: "Bearer bench")
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                let body = String(buffer: try await response.body.collect(upTo: 1 << 22))
                if body.contains("\"segment:bench_\(round)\"") {
                    let elapsed = ContinuousClock.now - started
                    live.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                    if let range = body.range(of: #""milliseconds":([0-9.]+)"#, options: .regularExpression) {
                        inside.append(Double(body[range].split(separator: ":").last ?? "") ?? 0)
                    }
                    break
                }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        let sorted = live.sorted()
        print("hot reload, \(rounds) edits of the shipped rules (write → live in GET /v1/rules):")
        print(String(format: "  median %.0f ms, max %.0f ms; check + scenarios + swap median %.0f ms (the rest: the 100 ms settle delay after the last write, and polling)",
                     sorted[sorted.count / 2], sorted.last ?? 0, inside.sorted()[inside.count / 2]))
    }
}
