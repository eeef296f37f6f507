import CLua
import CLuaShim
import Foundation

/// One sandboxed Lua 5.4 state.
///
/// A `LuaState` owns its `lua_State` and must stay on the thread that
/// created it (it is deliberately not `Sendable`; move it into a worker with
/// ``LuaThreadBound`` when needed). Chunks compile once with ``load(_:name:)``
/// and run many times with ``call(_:_:)``; every call runs under ``limits``.
/// After any error, the limits included, the state is ready for the next call.
public final class LuaState {
    @usableFromInline let L: OpaquePointer
    private let runtime: UnsafeMutablePointer<crescent_runtime>
    private var hostFunctions: [HostFunctionBox] = []
    @usableFromInline let owner = pthread_self()

    /// The per-call limits (instructions, timeout). The memory cap is the
    /// one given at creation.
    public var limits: LuaLimits

    /// Creates a state with the sandbox installed.
    ///
    /// - Parameters:
    ///   - limits: per-call instruction budget and timeout, and the state's memory cap.
    ///   - pluginDirectory: the folder `require` loads modules from; `nil` disables `require`.
    ///   - maxSourceBytes: the largest chunk or plugin file accepted.
    public init(limits: LuaLimits = .default, pluginDirectory: String? = nil, maxSourceBytes: Int = 1 << 20) throws(LuaError) {
        HostDispatch.install()
        guard let L = crescent_newstate(max(0, limits.memoryBytes)) else {
            throw LuaError(kind: .memoryLimit, message: "cannot create a Lua state")
        }
        self.L = L
        self.runtime = crescent_rt(L)
        self.limits = limits
        runtime.pointee.max_source_bytes = max(0, maxSourceBytes)
        if let pluginDirectory {
            withUnsafeMutableBytes(of: &runtime.pointee.plugin_dir) { buffer in
                let bytes = Array(pluginDirectory.utf8.prefix(buffer.count - 1))
                buffer.copyBytes(from: bytes + [0])
            }
        }
        crescent_open_sandbox(L)
    }

    deinit {
        crescent_close(L)
    }

    /// Bytes the state holds now.
    public var memoryInUse: Int { runtime.pointee.memory_used }
    /// The most bytes the state ever held.
    public var peakMemory: Int { runtime.pointee.memory_peak }
    /// Instructions (and counted library work) used by the last call.
    public var instructionsUsed: Int { Int(runtime.pointee.instructions_used) }
    /// How many times code in this state read something that changes on its
    /// own: the clock (`os.time`, `os.date`, `os.clock`, a clock cell) or
    /// `math.random`, plus what the host counted (``countVolatileRead()``).
    /// Unchanged across a call means the call's result depends on its inputs only.
    public var volatileReads: Int64 { runtime.pointee.volatile_reads }
    /// Counts a read of host state that changes on its own (for ``volatileReads``).
    public func countVolatileRead() { runtime.pointee.volatile_reads += 1 }

    /// Asserts (in debug builds) that the caller is on the owning thread.
    @inlinable func checkThread() {
        assert(pthread_equal(owner, pthread_self()) != 0, "a LuaState was used off its thread")
    }

    // MARK: Loading

    /// Compiles a text chunk in a fresh environment over the frozen base.
    /// Binary chunks and chunks over the source cap are refused.
    public func load(_ source: String, name: String) throws(LuaError) -> LuaChunk {
        try load(bytes: Array(source.utf8), name: name)
    }

    /// Compiles a text chunk given as bytes.
    public func load(bytes: [UInt8], name: String) throws(LuaError) -> LuaChunk {
        checkThread()
        let chunkName = "=" + name
        let status = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                chunkName.withCString { cName in
                    crescent_load(L, chars.baseAddress, chars.count, cName, 1)
                }
            }
        }
        if status != LUA_OK {
            let text = String(decoding: LuaValueCodec.readBytes(L, -1), as: UTF8.self)
            crescent_pop(L, 1)
            var error = LuaError.parse(kind: .syntax, text: text, traceback: nil)
            if error.chunk == nil { error.chunk = name }
            throw error
        }
        let function = LuaReference(state: self, ref: crescent_make_ref(L))
        let environment = LuaReference(state: self, ref: crescent_make_ref(L))
        return LuaChunk(name: name, function: function, environment: environment)
    }

    /// Compiles a text chunk that shares `session`'s environment: its globals
    /// are the session's (a REPL, where each input sees the ones before).
    public func load(_ source: String, name: String, sharing session: LuaChunk) throws(LuaError) -> LuaChunk {
        let chunk = try load(bytes: Array(source.utf8), name: name)
        crescent_get_ref(L, chunk.function.ref)
        crescent_get_ref(L, session.environment.ref)
        _ = lua_setupvalue(L, -2, 1)
        crescent_pop(L, 1)
        return LuaChunk(name: name, function: chunk.function, environment: session.environment)
    }

    /// Compiles and runs a chunk once, returning its results.
    public func run(_ source: String, name: String) throws(LuaError) -> [LuaValue] {
        let chunk = try load(source, name: name)
        return try call(chunk.function, [])
    }

    // MARK: Calling

    /// Calls a function with arguments, under ``limits``, and copies its results.
    public func call(_ function: LuaReference, _ arguments: [LuaValue]) throws(LuaError) -> [LuaValue] {
        checkThread()
        for argument in arguments { try LuaValueCodec.validate(argument, depth: 0) }
        guard lua_checkstack(L, Int32(clamping: arguments.count + 2 * LuaValueCodec.maxDepth + 8)) != 0 else {
            throw LuaError(kind: .conversion, message: "too many arguments")
        }
        let base = lua_gettop(L)
        crescent_get_ref(L, function.ref)
        for argument in arguments { LuaValueCodec.push(argument, L) }
        try invoke(arguments: Int32(arguments.count), results: LUA_MULTRET, base: base)
        defer { lua_settop(L, base) }
        let stack = LuaStack(L)
        var results: [LuaValue] = []
        let top = lua_gettop(L)
        if top > base {
            results.reserveCapacity(Int(top - base))
            for index in (base + 1)...top {
                do {
                    results.append(try stack.value(at: index))
                } catch {
                    var error = error
                    error.message = "result \(index - base): " + error.message
                    throw error
                }
            }
        }
        return results
    }

    /// Calls a function with arguments pushed by `push` and reads exactly
    /// `results` results with `read`; the fast path for hot code that keeps
    /// its values out of ``LuaValue``.
    @inlinable
    public func call<R>(
        _ function: LuaReference,
        arguments: Int32,
        results: Int32 = 1,
        push: (LuaStack) -> Void,
        read: (LuaStack) throws(LuaError) -> R
    ) throws(LuaError) -> R {
        checkThread()
        let base = lua_gettop(L)
        crescent_get_ref(L, function.ref)
        push(LuaStack(L))
        try invoke(arguments: arguments, results: results, base: base)
        defer { lua_settop(L, base) }
        return try read(LuaStack(L))
    }

    @usableFromInline
    func invoke(arguments: Int32, results: Int32, base: Int32) throws(LuaError) {
        let status = crescent_call(L, arguments, results, Int64(limits.instructions), limits.timeout)
        if status != LUA_OK {
            let error = currentError()
            lua_settop(L, base)
            throw error
        }
    }

    /// Builds the error for the failed call whose error value is on top.
    private func currentError() -> LuaError {
        let text = lua_type(L, -1) == LUA_TSTRING
            ? String(decoding: LuaValueCodec.readBytes(L, -1), as: UTF8.self)
            : "(error object is a \(String(cString: lua_typename(L, lua_type(L, -1)))) value)"
        let parts = text.components(separatedBy: "\nstack traceback:\n")
        let traceback = parts.count > 1 ? "stack traceback:\n" + parts[1...].joined() : nil
        let parsed = LuaError.parse(kind: .runtime, text: parts[0], traceback: traceback)
        let rt = runtime.pointee
        let kind: LuaError.Kind
        let message: String
        switch Int(rt.killed) {
        case Int(CRESCENT_KILL_INSTRUCTIONS.rawValue):
            kind = .instructionLimit
            message = "instruction limit exceeded (\(limits.instructions) instructions)"
        case Int(CRESCENT_KILL_TIME.rawValue):
            kind = .timeLimit
            message = "time limit exceeded (\(String(format: "%g", limits.timeout)) s)"
        case Int(CRESCENT_KILL_MEMORY.rawValue):
            kind = .memoryLimit
            message = "memory limit exceeded (\(Self.describe(bytes: limits.memoryBytes)))"
        default:
            return parsed
        }
        let source = withUnsafeBytes(of: rt.kill_source) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        if !source.isEmpty {
            return LuaError(kind: kind, chunk: source, line: Int(rt.kill_line), message: message, traceback: traceback)
        }
        return LuaError(kind: kind, chunk: parsed.chunk, line: parsed.line, message: message, traceback: traceback)
    }

    static func describe(bytes: Int) -> String {
        if bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }

    // MARK: Globals and host functions

    /// Defines `name` as a Swift function, either in one chunk's environment
    /// or, with `chunk == nil`, in the shared base every chunk sees.
    ///
    /// The body receives the arguments as ``LuaValue``s; what it throws
    /// becomes a Lua error at the caller's line (a ``LuaHostError`` keeps its
    /// message as is). It must not call back into this state.
    public func register(
        _ name: String, in chunk: LuaChunk? = nil, _ body: @escaping ([LuaValue]) throws -> [LuaValue]
    ) {
        install(HostFunctionBox(name: name, body: body), in: chunk)
    }

    /// Defines `name` as a Swift function that works on the stack directly:
    /// it reads its arguments at indexes `1...top` and pushes its results,
    /// returning how many. For hot paths, where building ``LuaValue``s costs
    /// more than the work. Errors are raised as with ``register(_:in:_:)``;
    /// it must not call back into this state.
    public func registerStackFunction(_ name: String, in chunk: LuaChunk? = nil,
                                      _ body: @escaping (LuaStack) throws -> Int32) {
        install(HostFunctionBox(name: name, stackBody: body), in: chunk)
    }

    /// Keeps a host function alive with the state and defines it under its name.
    private func install(_ box: HostFunctionBox, in chunk: LuaChunk?) {
        checkThread()
        hostFunctions.append(box)
        pushTable(for: chunk)
        crescent_push_host_function(L, Unmanaged.passUnretained(box).toOpaque())
        LuaStack(L).setField(name: box.name)
        crescent_pop(L, 1)
    }

    /// Sets a global variable in a chunk's environment (or in the shared base).
    public func setGlobal(_ name: String, _ value: LuaValue, in chunk: LuaChunk? = nil) throws(LuaError) {
        checkThread()
        try LuaValueCodec.validate(value, depth: 0)
        pushTable(for: chunk)
        LuaValueCodec.push(value, L)
        LuaStack(L).setField(name: name)
        crescent_pop(L, 1)
    }

    /// Reads a global variable of a chunk (its own, not the base's).
    public func global(_ name: String, in chunk: LuaChunk) throws(LuaError) -> LuaValue {
        checkThread()
        crescent_get_ref(L, chunk.environment.ref)
        LuaStack(L).push(name)
        lua_rawget(L, -2)
        defer { crescent_pop(L, 2) }
        return try LuaStack(L).value(at: -1)
    }

    /// A reference to the function stored in a chunk's global `name`, if any.
    public func function(_ name: String, in chunk: LuaChunk) -> LuaReference? {
        checkThread()
        crescent_get_ref(L, chunk.environment.ref)
        LuaStack(L).push(name)
        lua_rawget(L, -2)
        guard lua_type(L, -1) == LUA_TFUNCTION else {
            crescent_pop(L, 2)
            return nil
        }
        let reference = LuaReference(state: self, ref: crescent_make_ref(L))
        crescent_pop(L, 1)
        return reference
    }

    /// Publishes a chunk's global `name` in the shared base, so every chunk
    /// sees it (read-only when it is a table). For host libraries written in Lua.
    public func shareGlobal(_ name: String, from chunk: LuaChunk) {
        checkThread()
        crescent_push_base(L)
        crescent_get_ref(L, chunk.environment.ref)
        LuaStack(L).push(name)
        lua_rawget(L, -2)
        crescent_push_frozen(L, -1)
        crescent_remove(L, -2)
        crescent_remove(L, -2)
        LuaStack(L).setField(name: name)
        crescent_pop(L, 1)
    }

    /// Defines `name` in a chunk as `where(level)`, which returns the chunk
    /// name and line of the function `level` levels up the call stack.
    public func registerLocationFunction(_ name: String, in chunk: LuaChunk) {
        define(name, in: chunk, crescent_push_where)
    }

    /// Defines `name` in a chunk as `clock()`, monotonic microseconds (for
    /// timing work inside one call).
    public func registerClockFunction(_ name: String, in chunk: LuaChunk) {
        define(name, in: chunk, crescent_push_clock)
    }

    /// Defines `name` in a chunk as a function returning the integer in
    /// `cell`, read at every call without entering Swift (the engine's clock,
    /// read by most rules). Each read counts in ``volatileReads`` unless
    /// `counted` is false (for helpers that say how long what they derive
    /// from it holds). The caller keeps `cell` alive as long as this state runs.
    public func registerCellReader(_ name: String, in chunk: LuaChunk, cell: UnsafePointer<Int64>, counted: Bool = true) {
        checkThread()
        crescent_get_ref(L, chunk.environment.ref)
        cell.withMemoryRebound(to: CLongLong.self, capacity: 1) { crescent_push_cell_reader(L, $0, counted ? 1 : 0) }
        LuaStack(L).setField(name: name)
        crescent_pop(L, 1)
    }

    /// Defines `name` in a chunk as a function returning ``volatileReads``
    /// so far (code compares it before and after a call of its own).
    public func registerVolatileCounter(_ name: String, in chunk: LuaChunk) {
        define(name, in: chunk, crescent_push_volatile_counter)
    }

    /// Sets a chunk global to a C function the shim pushes.
    private func define(_ name: String, in chunk: LuaChunk, _ push: (OpaquePointer?) -> Void) {
        checkThread()
        crescent_get_ref(L, chunk.environment.ref)
        push(L)
        LuaStack(L).setField(name: name)
        crescent_pop(L, 1)
    }

    private func pushTable(for chunk: LuaChunk?) {
        if let chunk {
            crescent_get_ref(L, chunk.environment.ref)
        } else {
            crescent_push_base(L)
        }
    }

    func release(_ ref: Int32) {
        crescent_free_ref(L, ref)
    }
}

@available(*, unavailable)
extension LuaState: Sendable {}
