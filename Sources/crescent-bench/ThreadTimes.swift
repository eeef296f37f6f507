import Foundation

/// CPU time per thread of a process, read from `/proc/PID/task/*/stat`, so a
/// benchmark can say where the time went: the shard threads (`shard-N`),
/// the commit thread (`commit`), and the rest.
struct ThreadTimes {
    /// Seconds of CPU (user and system) per thread id, with the thread's name.
    var threads: [Int: (name: String, seconds: Double)] = [:]

    /// The threads of `pid` (this process by default) now; empty where `/proc` is missing.
    static func now(pid: Int32 = getpid()) -> ThreadTimes {
        let tick = Double(sysconf(Int32(_SC_CLK_TCK)))
        let folder = "/proc/\(pid)/task"
        var times = ThreadTimes()
        for task in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            guard let id = Int(task), let stat = read("\(folder)/\(task)/stat"),
                  let close = stat.lastIndex(of: ")") else { continue }
            // After "pid (name) ": state is field 3; utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            let name = read("\(folder)/\(task)/comm")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            times.threads[id] = (name, (user + system) / tick)
        }
        return times
    }

    /// A small `/proc` file's text, read with `read(2)` until its end (a
    /// `/proc` file reports no size).
    private static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[..<n]
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    /// One line: CPU seconds and microseconds per event of each shard thread,
    /// the commit thread, and all the others together, since `earlier`.
    func summary(since earlier: ThreadTimes, events: Int) -> String {
        var named: [String: Double] = [:]
        var others = 0.0
        for (id, thread) in threads {
            let used = thread.seconds - (earlier.threads[id]?.seconds ?? 0)
            if thread.name.hasPrefix("shard-") || thread.name == "commit" {
                named[thread.name, default: 0] += used
            } else {
                others += used
            }
        }
        let perEvent = { (seconds: Double) in events > 0 ? seconds * 1e6 / Double(events) : 0 }
        let parts = named.sorted { ($0.key == "commit" ? 1 : 0, $0.key) < ($1.key == "commit" ? 1 : 0, $1.key) }.map { String(format: "%@ %.2f s (%.1f µs/event)", $0.key, $0.value, perEvent($0.value)) }
            + [String(format: "other threads %.2f s (%.1f µs/event)", others, perEvent(others))]
        return parts.joined(separator: ", ")
    }
}
