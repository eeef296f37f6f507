import CBenchLoop
import CLua
import CLuaShim
import Foundation
import LuaKit

// `make bench`: the runtime's benchmarks. Figures go to docs/performance.md.
//   BENCH_CALLS=N      calls per round (default 2,000,000)
//   BENCH_SKIP_EVAL=1  skip the `crescent eval` vs `lua5.4` comparison
//   BENCH_EVENTS=N     events in the replay benchmark (default 1,000,000; 0 skips it)
//   BENCH_ONLY=replay  run only the replay benchmark
//   BENCH_ONLY=resume  run only the restarted-engine benchmark (BENCH_EVENTS; BENCH_RESUME_TAIL lines replayed after the restart, default 20,000)
//   BENCH_TIMERS=N     waiting journey instances in the timer benchmark (default 1,000,000; 0 skips it)
//   BENCH_ONLY=timers  run only the timer benchmark
//   BENCH_SERVE_EVENTS=N  events posted to crescent serve (default 100,000; 0 skips it)
//   BENCH_SERVE_SENDERS=N concurrent ingest senders (default 8)
//   BENCH_ONLY=serve   run only the server benchmark
//   BENCH_ONLY=reload  run only the hot-reload benchmark
//   BENCH_ONLY=recommend  run only the recommendation quality benchmark (BENCH_RECOMMEND_EVENTS, default 100,000)
//   BENCH_ONLY=reports run only the report benchmark (BENCH_REPORT_EVENTS, default 1,000,000)
//   BENCH_ONLY=normalize  what normalizing a generated message costs, and card-number masking's share (BENCH_EVENTS)

let environment = ProcessInfo.processInfo.environment
let iterations = Int(environment["BENCH_CALLS"] ?? "") ?? 2_000_000
let rounds = 7

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func rate(_ count: Int, _ seconds: Double) -> String {
    String(format: "%10.0f calls/s (%4.0f ns/call)", Double(count) / seconds, seconds / Double(count) * 1e9)
}

let rule = "function(e) return e.amount > 100 and e.country ~= e.ip_country end"

if environment["BENCH_ONLY"] == "serve" {
    await BenchFailure.guarding("serve") {
        try await ServeBenchmark.run(events: Int(environment["BENCH_SERVE_EVENTS"] ?? "") ?? 100_000, decideRate: 1000, decideSeconds: 10)
    }
    exit(0)
}

if environment["BENCH_ONLY"] == "recommend" {
    await BenchFailure.guarding("recommendation") {
        try RecommendationBenchmark.run(events: Int(environment["BENCH_RECOMMEND_EVENTS"] ?? "") ?? 100_000)
    }
    exit(0)
}

if environment["BENCH_ONLY"] == "reports" {
    await BenchFailure.guarding("report") { try ReportBenchmark.run(events: Int(environment["BENCH_REPORT_EVENTS"] ?? "") ?? 1_000_000) }
    exit(0)
}

if environment["BENCH_ONLY"] == "reload" {
    await BenchFailure.guarding("reload") { try await ReloadBenchmark.run(rounds: 10) }
    exit(0)
}

if environment["BENCH_ONLY"] == "timers" {
    await BenchFailure.guarding("journey timer") { try TimerBenchmark.run(instances: Int(environment["BENCH_TIMERS"] ?? "") ?? 1_000_000) }
    exit(0)
}

if environment["BENCH_ONLY"] == "normalize" {
    await BenchFailure.guarding("normalize") { try NormalizeBenchmark.run(events: Int(environment["BENCH_EVENTS"] ?? "") ?? 1_000_000) }
    exit(0)
}

let resumeTail = Int(environment["BENCH_RESUME_TAIL"] ?? "") ?? 20_000
if environment["BENCH_ONLY"] == "resume" {
    await BenchFailure.guarding("resume") {
        try ResumeBenchmark.run(events: Int(environment["BENCH_EVENTS"] ?? "") ?? 1_000_000, tail: resumeTail)
    }
    exit(0)
}

if environment["BENCH_ONLY"] == "replay" {
    await BenchFailure.guarding("replay") { try ReplayBenchmark.run(events: Int(environment["BENCH_EVENTS"] ?? "") ?? 1_000_000) }
    exit(0)
}

// LuaKit: a sandboxed state with the default per-call limits (10 M instructions, 1 s).
let (state, function) = await BenchFailure.guarding("rule call") { () throws -> (LuaState, LuaReference) in
    let state = try LuaState(limits: .default)
    let chunk = try state.load("f = " + rule, name: "bench.lua")
    _ = try state.call(chunk.function, [])
    guard let function = state.function("f", in: chunk) else { throw BenchError("the rule defines no function f") }
    return (state, function)
}

func luaKitFastPath(_ state: LuaState, _ function: LuaReference) throws -> Int {
    var hits = 0
    for i in 0..<iterations {
        let hit = try state.call(function, arguments: 1, results: 1, push: { stack in
            stack.pushTable(fields: 10)
            stack.push(Double(i % 200) + 0.5); stack.setField("amount")
            stack.push(constant: "EUR"); stack.setField("currency")
            stack.push(constant: "ES"); stack.setField("country")
            if i & 1 == 1 { stack.push(constant: "ES") } else { stack.push(constant: "FR") }
            stack.setField("ip_country")
            stack.push(constant: "ana@example.com"); stack.setField("email")
            stack.push(i); stack.setField("user_id")
            stack.push(constant: "card_4242"); stack.setField("card")
            stack.push(3); stack.setField("items")
            stack.push(constant: "web"); stack.setField("channel")
            stack.push(1_700_000_000 + i); stack.setField("timestamp")
        }, read: { stack in stack.boolean(at: -1) })
        if hit { hits += 1 }
    }
    return hits
}

let valueIterations = iterations / 4
func luaKitValues(_ state: LuaState, _ function: LuaReference) throws {
    for i in 0..<valueIterations {
        let event: LuaValue = [
            "amount": .number(Double(i % 200) + 0.5), "currency": "EUR", "country": "ES",
            "ip_country": i & 1 == 1 ? "ES" : "FR", "email": "ana@example.com", "user_id": .integer(Int64(i)),
            "card": "card_4242", "items": 3, "channel": "web", "timestamp": .integer(Int64(1_700_000_000 + i)),
        ]
        _ = try state.call(function, [event])
    }
}

// The limit: the same calls through the C API alone, on a plain state.
let plain = luaL_newstate()!
luaL_openlibs(plain)
luaL_loadstring(plain, "return " + rule)
lua_pcallk(plain, 0, 1, 0, 0, nil)
let ref = crescent_make_ref(plain)

// Rounds alternate between the loops so that machine noise hits both alike.
var bestC = Double.infinity, bestFast = Double.infinity, bestValues = Double.infinity
var cHits: Int64 = 0, fastHits = 0
await BenchFailure.guarding("rule call") {
    for _ in 0..<rounds {
        bestC = min(bestC, seconds { cHits = crescent_bench_c_loop(plain, ref, Int64(iterations)) })
        bestFast = min(bestFast, try seconds { fastHits = try luaKitFastPath(state, function) })
        bestValues = min(bestValues, try seconds { try luaKitValues(state, function) })
    }
}
lua_close(plain)
if cHits != Int64(fastHits) { BenchFailure.stop("rule call", "the loops disagree: \(cHits) vs \(fastHits) hits") }

print("Rule call with a 10-field event (\(iterations) calls per round, best of \(rounds) rounds):")
print("  C API loop, plain state          \(rate(iterations, bestC))")
print("  LuaKit stack fast path, sandbox  \(rate(iterations, bestFast))  \(String(format: "%.2f", bestC / bestFast))x the C loop")
print("  LuaKit [LuaValue] path, sandbox  \(rate(valueIterations, bestValues))")

if environment["BENCH_SKIP_EVAL"] == nil {

// The sandbox's cost on CPU-bound code: `crescent eval` vs the stock interpreter.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let script = root.appendingPathComponent("examples/bench/cpu.lua").path
let crescent = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("crescent")

func timeProcess(_ executable: String, _ arguments: [String]) throws -> (Double, String) {
    var best = Double.infinity
    var output = ""
    for _ in 0..<3 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        let elapsed = try seconds {
            try process.run()
            output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
        }
        guard process.terminationStatus == 0 else {
            throw BenchError("\(executable) \(arguments.joined(separator: " ")) exited with status \(process.terminationStatus)")
        }
        best = min(best, elapsed)
    }
    return (best, output.trimmingCharacters(in: .whitespacesAndNewlines))
}

let ((stock, stockOutput), (unlimited, unlimitedOutput), (hooked, hookedOutput)) = await BenchFailure.guarding("sandbox") {
    (try timeProcess("/usr/bin/lua5.4", [script]),
     try timeProcess(crescent.path, ["eval", "--instructions", "0", "--timeout", "0", "--memory", "0", script]),
     try timeProcess(crescent.path, ["eval", "--instructions", "1000000000000", "--timeout", "3600", "--memory", "1024", script]))
}
if stockOutput != unlimitedOutput || stockOutput != hookedOutput {
    BenchFailure.stop("sandbox", "crescent eval printed something else than lua5.4 for \(script)")
}
print("CPU-bound script (examples/bench/cpu.lua, whole process, best of 3):")
print(String(format: "  lua5.4 interpreter                      %6.3f s", stock))
print(String(format: "  crescent eval, limits off (0/0/0)       %6.3f s  %.2fx the interpreter's speed", unlimited, stock / unlimited))
print(String(format: "  crescent eval, limits raised (hook on)  %6.3f s  %.2fx the interpreter's speed", hooked, stock / hooked))
}

let replayEvents = Int(environment["BENCH_EVENTS"] ?? "") ?? 1_000_000
if replayEvents > 0 { await BenchFailure.guarding("replay") { try ReplayBenchmark.run(events: replayEvents) } }
if replayEvents > 0 && resumeTail > 0 {
    await BenchFailure.guarding("resume") { try ResumeBenchmark.run(events: replayEvents, tail: resumeTail) }
}

let timerInstances = Int(environment["BENCH_TIMERS"] ?? "") ?? 1_000_000
if timerInstances > 0 { await BenchFailure.guarding("journey timer") { try TimerBenchmark.run(instances: timerInstances) } }

let serveEvents = Int(environment["BENCH_SERVE_EVENTS"] ?? "") ?? 100_000
if serveEvents > 0 {
    await BenchFailure.guarding("serve") { try await ServeBenchmark.run(events: serveEvents, decideRate: 1000, decideSeconds: 10) }
}

await BenchFailure.guarding("reload") { try await ReloadBenchmark.run(rounds: 10) }

await BenchFailure.guarding("recommendation") {
    try RecommendationBenchmark.run(events: Int(environment["BENCH_RECOMMEND_EVENTS"] ?? "") ?? 100_000)
}

let reportEvents = Int(environment["BENCH_REPORT_EVENTS"] ?? "") ?? 1_000_000
if reportEvents > 0 { await BenchFailure.guarding("report") { try ReportBenchmark.run(events: reportEvents) } }
