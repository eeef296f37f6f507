import Foundation
import Glibc

/// Names the running thread, as `top -H`, `perf` and `/proc` show it.
///
/// Foundation's `Thread.name` drops a name set before `start()` has
/// recorded the new thread, which the thread itself can outrun: one start
/// in four came up with the process's name. Swift's Glibc module does not
/// declare `pthread_setname_np`, so this writes the thread's own `comm`
/// file, which is what that function does on Linux.
public enum ThreadName {
    /// Sets the running thread's name (the kernel keeps its first 15 bytes).
    public static func set(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
