/// The limits a sandboxed call runs under.
///
/// The instruction budget and the timeout apply to each call; the memory cap
/// applies to the whole state and is fixed when the state is created. Zero
/// means unlimited for every field.
public struct LuaLimits: Sendable, Equatable {
    /// Lua VM instructions (plus counted library work) per call; 0 = unlimited.
    public var instructions: Int
    /// Wall-clock seconds per call; 0 = no deadline.
    public var timeout: Double
    /// Bytes the state may hold; 0 = unlimited.
    public var memoryBytes: Int

    public init(instructions: Int, timeout: Double, memoryBytes: Int) {
        self.instructions = instructions
        self.timeout = timeout
        self.memoryBytes = memoryBytes
    }

    /// 10 M instructions, 1 second, 64 MiB.
    public static let `default` = LuaLimits(instructions: 10_000_000, timeout: 1.0, memoryBytes: 64 << 20)

    /// No limit at all (for trusted code and benchmarks).
    public static let unlimited = LuaLimits(instructions: 0, timeout: 0, memoryBytes: 0)
}
