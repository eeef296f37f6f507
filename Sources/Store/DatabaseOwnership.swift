import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One process's exclusive claim on a database file, for the engine that
/// writes it.
///
/// An engine keeps customers, counters, limits and journeys in memory and
/// writes them behind in batches, so two engines on one file (a second
/// `crescent serve`, or a `crescent replay` into the file a server is
/// using) would each overwrite what the other wrote. The claim is an
/// advisory `flock` on a file beside the database (`<database>-lock`, which
/// says who holds it); it ends when the claim is released or the process
/// exits, however it exits. Readers (`crescent report`, `explain`,
/// `journeys`, `backtest`) need no claim: SQLite's write-ahead log lets them
/// read while an engine writes.
public final class DatabaseOwnership: Sendable {
    /// The database file claimed.
    public let database: String
    /// The lock file beside it.
    public let lockFile: String
    private let descriptor: Int32

    /// Claims `database` for this process; `holder` says what holds it
    /// (`crescent serve`), for the error another process gets.
    /// Throws ``DatabaseInUse`` when another process holds it.
    public init(database: String, holder: String) throws {
        self.database = database
        lockFile = database + "-lock"
        let directory = URL(fileURLWithPath: lockFile).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw DatabaseInUse(database: database, holder: nil, problem: error.localizedDescription)
        }
        let descriptor = open(lockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw DatabaseInUse(database: database, holder: nil, problem: "cannot open \(lockFile): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let problem = errno == EWOULDBLOCK ? nil : String(cString: strerror(errno))
            let holder = Self.contents(of: descriptor)
            close(descriptor)
            throw DatabaseInUse(database: database, holder: holder, problem: problem)
        }
        let note = "pid \(getpid()): \(holder), since \(ISO8601DateFormatter().string(from: Date()))\n"
        _ = ftruncate(descriptor, 0)
        _ = note.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        self.descriptor = descriptor
    }

    deinit {
        _ = ftruncate(descriptor, 0)
        close(descriptor) // ends the flock
    }

    private static func contents(of descriptor: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}

/// Another process's engine holds the database (see ``DatabaseOwnership``).
public struct DatabaseInUse: Error, CustomStringConvertible {
    public var database: String
    /// What the lock file says of the process holding it (`pid 42: crescent serve, since ...`).
    public var holder: String?
    /// Set when the lock could not be taken for another reason than a holder
    /// (a folder that cannot be made, a lock file that cannot be opened).
    public var problem: String?

    public var description: String {
        if let problem { return "\(database): cannot open the database: \(problem)" }
        return "\(database) is in use by another crescent process (\(holder ?? "its lock file \(database)-lock says no more")): "
            + "two engines on one database would overwrite each other's customers, counters and journeys; "
            + "stop it first, or give another database"
    }
}
