import CBenchLoop
import Foundation

/// The process's peak resident set (`VmHWM` in `/proc/self/status`), which
/// unlike `getrusage`'s can be reset between phases: the replay's figure
/// then leaves out the memory that generating its events file took.
enum PeakMemory {
    /// Hands the heap the allocator keeps free back to the system (jemalloc's
    /// arena purge; glibc's `malloc_trim` without jemalloc), then starts a new peak from the current resident set
    /// (`echo 5 > /proc/self/clear_refs`). Without the trim, a million
    /// generated events left about 200 MiB of freed heap resident, counted
    /// in the replay's peak.
    static func reset() {
        crescent_bench_trim_heap()
        try? Data("5".utf8).write(to: URL(fileURLWithPath: "/proc/self/clear_refs"))
    }

    /// The peak since the start or the last ``reset()``, in MiB (0 when `/proc` cannot be read).
    static func mebibytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kibibytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
        return kibibytes / 1024
    }
}
