import Foundation

/// A value pinned to the thread that created it, like swift-nio's
/// `NIOLoopBound`: the wrapper may travel across concurrency domains, but the
/// value inside can only be touched on its own thread. Use it to hand a
/// ``LuaState`` to the worker thread that owns it.
public struct LuaThreadBound<Value>: @unchecked Sendable {
    private let owner: pthread_t
    private let box: Box

    private final class Box {
        var value: Value
        init(_ value: Value) { self.value = value }
    }

    /// Wraps `value`, pinning it to the calling thread.
    public init(_ value: Value) {
        self.owner = pthread_self()
        self.box = Box(value)
    }

    /// Whether the calling thread is the owner.
    public var isOnOwnerThread: Bool { pthread_equal(owner, pthread_self()) != 0 }

    /// The value; traps when read or written off its thread.
    public var value: Value {
        get {
            precondition(isOnOwnerThread, "LuaThreadBound value accessed off its owner thread")
            return box.value
        }
        nonmutating set {
            precondition(isOnOwnerThread, "LuaThreadBound value accessed off its owner thread")
            box.value = newValue
        }
    }
}
