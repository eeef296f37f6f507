import Foundation

/// Values that other threads (a shard, a commit callback) hand to a test, in
/// the order they arrive.
public final class Collected<Element: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [Element] = []

    public init() {}

    public func append(_ value: Element) { lock.withLock { list.append(value) } }

    /// What arrived so far.
    public var values: [Element] { lock.withLock { list } }
}
