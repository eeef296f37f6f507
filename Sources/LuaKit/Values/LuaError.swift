/// An error raised by Lua code, by the sandbox's limits, or while converting
/// values between Lua and Swift.
///
/// ``description`` reads `chunk:line: message`, the form every Crescent tool
/// prints; ``traceback`` holds Lua's stack traceback when there was one.
public struct LuaError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What went wrong.
    public enum Kind: String, Sendable, Equatable {
        /// The chunk did not compile (or was binary, or too large).
        case syntax
        /// The code raised an error.
        case runtime
        /// The call ran out of its instruction budget.
        case instructionLimit
        /// The call ran past its wall-clock deadline.
        case timeLimit
        /// The state ran out of its memory cap.
        case memoryLimit
        /// A value could not cross between Lua and Swift.
        case conversion
    }

    public var kind: Kind
    /// The chunk where the error happened, when known.
    public var chunk: String?
    /// The line in ``chunk``, when known.
    public var line: Int?
    /// The message without its location.
    public var message: String
    /// Lua's stack traceback, when there was one.
    public var traceback: String?

    public init(kind: Kind, chunk: String? = nil, line: Int? = nil, message: String, traceback: String? = nil) {
        self.kind = kind
        self.chunk = chunk
        self.line = line
        self.message = message
        self.traceback = traceback
    }

    /// True for the three limit kinds: the code was stopped, not wrong.
    public var isLimit: Bool {
        kind == .instructionLimit || kind == .timeLimit || kind == .memoryLimit
    }

    public var description: String {
        switch (chunk, line) {
        case let (chunk?, line?) where line > 0: "\(chunk):\(line): \(message)"
        case let (chunk?, _): "\(chunk): \(message)"
        default: message
        }
    }

    /// Splits Lua's `chunk:line: message` text into its parts.
    static func parse(kind: Kind, text: String, traceback: String?) -> LuaError {
        var scan = text[...]
        while let colon = scan.firstIndex(of: ":") {
            let afterColon = text.index(after: colon)
            let digits = text[afterColon...].prefix(while: \.isNumber)
            let end = digits.endIndex
            if !digits.isEmpty, text[end...].hasPrefix(": "), let line = Int(digits) {
                let chunk = String(text[..<colon])
                let message = String(text[text.index(end, offsetBy: 2)...])
                return LuaError(kind: kind, chunk: chunk, line: line, message: message, traceback: traceback)
            }
            scan = text[afterColon...]
        }
        return LuaError(kind: kind, message: text, traceback: traceback)
    }
}
