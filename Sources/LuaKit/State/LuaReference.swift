import CLua
import CLuaShim

/// A Lua value kept alive in the registry of its state, for calling many
/// times without compiling or looking it up again. Released when the last
/// Swift reference goes away.
public final class LuaReference {
    weak var state: LuaState?
    @usableFromInline let ref: Int32

    init(state: LuaState, ref: Int32) {
        self.state = state
        self.ref = ref
    }

    deinit {
        state?.release(ref)
    }
}

@available(*, unavailable)
extension LuaReference: Sendable {}

/// A compiled chunk: its main function and its own environment table (the
/// chunk's globals, looking up everything else in the frozen shared base).
public struct LuaChunk {
    /// The name errors and tracebacks show (`rules/fraud/velocity.lua`).
    public let name: String
    /// The chunk's main function.
    public let function: LuaReference
    /// The chunk's environment.
    public let environment: LuaReference
}

@available(*, unavailable)
extension LuaChunk: Sendable {}

/// An error a host function throws to raise a Lua error with exactly this message.
public struct LuaHostError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
