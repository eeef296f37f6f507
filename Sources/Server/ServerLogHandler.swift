import Foundation
import Logging

/// The server's log handler: lines to standard error, as swift-log's
/// `StreamLogHandler` writes them, but with the metadata formatted only when
/// a line is written. Hummingbird sets a request id in the logger's metadata
/// on every request, and `StreamLogHandler` formats all of its metadata on
/// every such change: 11% of a request thread's time during an ingest, for
/// lines that are almost never written (the level is `warning`).
struct ServerLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    /// Where each line goes: standard error.
    let write: @Sendable (String) -> Void

    init(label: String, logLevel: Logger.Level = .warning,
         write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.label = label
        self.logLevel = logLevel
        self.write = write
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        write(Self.line(event, label: label, metadata: metadata))
    }

    /// One log line: `2026-11-25T08:30:00Z warning crescent: key=value [source] message`.
    static func line(_ event: LogEvent, label: String, metadata: Logger.Metadata) -> String {
        let all = metadata.merging(event.metadata ?? [:]) { _, explicit in explicit }
        let shown = all.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        let time = Date().formatted(.iso8601)
        return "\(time) \(event.level) \(label):\(shown) [\(event.source)] \(event.message)\n"
    }
}
