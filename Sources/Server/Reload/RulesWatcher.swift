import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Store

/// Watches folders (and every folder below them) with inotify and calls
/// `onChange` once the files have been quiet for `settle`, so an editor's
/// burst of writes, renames and deletes becomes one reload. Runs on its
/// own thread until ``stop()``.
final class RulesWatcher: @unchecked Sendable {
    private let folders: [String]
    private let settle: Duration
    private let onChange: @Sendable () -> Void
    private let descriptor: Int32
    private var watches: [Int32: String] = [:]
    private let stopped = NSLock()
    private var isStopped = false

    /// Starts watching; throws when inotify is not available.
    init(folders: [String], settle: Duration = .milliseconds(100), onChange: @escaping @Sendable () -> Void) throws {
        self.folders = folders
        self.settle = settle
        self.onChange = onChange
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        rescan()
        let thread = Thread { [self] in
            ThreadName.set("rules-watcher")
            loop()
        }
        thread.start()
    }

    /// Ends the watching thread (it notices within a quarter of a second).
    func stop() { stopped.withLock { isStopped = true } }

    private var shouldStop: Bool { stopped.withLock { isStopped } }

    /// Adds a watch for every folder not watched yet (new folders appear at any time).
    private func rescan() {
        let mask = UInt32(IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF)
        let watched = Set(watches.values)
        for folder in folders {
            var all = [folder]
            if let walker = FileManager.default.enumerator(atPath: folder) {
                while let item = walker.nextObject() as? String {
                    var isFolder: ObjCBool = false
                    let path = folder + "/" + item
                    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue { all.append(path) }
                }
            }
            for path in all where !watched.contains(path) {
                let wd = inotify_add_watch(descriptor, path, mask)
                if wd >= 0 { watches[wd] = path }
            }
        }
    }

    private func loop() {
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var changedAt: ContinuousClock.Instant?
        while !shouldStop {
            var pollFD = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let timeout: Int32 = changedAt == nil ? 250 : 20
            if poll(&pollFD, 1, timeout) > 0 {
                var removed = false
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                    if n <= 0 { break }
                    removed = removed || forgetRemovedWatches(buffer, count: n)
                }
                changedAt = .now
                if removed { watches = watches.filter { FileManager.default.fileExists(atPath: $0.value) } }
                rescan()
            }
            if let at = changedAt, ContinuousClock.now - at >= settle {
                changedAt = nil
                onChange()
            }
        }
    }

    /// True when a watched folder went away (its watch is gone).
    private func forgetRemovedWatches(_ buffer: [UInt8], count: Int) -> Bool {
        var offset = 0
        var removed = false
        let header = MemoryLayout<inotify_event>.size
        while offset + header <= count {
            let (wd, mask, length) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, UInt32) in
                let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                return (event.wd, event.mask, event.len)
            }
            if mask & UInt32(IN_IGNORED) != 0 {
                watches[wd] = nil
                removed = true
            }
            offset += header + Int(length)
        }
        return removed
    }
}
