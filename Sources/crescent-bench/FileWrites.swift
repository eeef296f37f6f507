import Foundation

/// Bytes a process has handed to `write(2)` so far (`wchar` in
/// `/proc/PID/io`): for the replay and the server, almost all of it is
/// SQLite's log frames and the checkpoints' copies into the database file,
/// so the difference over a run, per event, is the store's write
/// amplification (a 20,000-event commit at a million events rewrites
/// thousands of index pages that its events share).
struct FileWrites {
    /// Bytes written so far, or nil where `/proc` cannot be read.
    let bytes: Int?

    /// The figure for `pid` (this process by default) now.
    static func now(pid: Int32 = getpid()) -> FileWrites {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("wchar:") }),
              let value = line.split(separator: " ").last.flatMap({ Int($0) }) else { return FileWrites(bytes: nil) }
        return FileWrites(bytes: value)
    }

    /// "1.23 GiB (6.4 KB/event)" since `earlier`, or "unknown" without `/proc`.
    func summary(since earlier: FileWrites, events: Int) -> String {
        guard let bytes, let before = earlier.bytes else { return "unknown" }
        let written = Double(bytes - before)
        return String(format: "%.2f GiB (%.1f KB/event)", written / 1_073_741_824,
                      events > 0 ? written / 1000 / Double(events) : 0)
    }
}
