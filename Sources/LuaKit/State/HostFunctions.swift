import CLua
import CLuaShim

/// A Swift function registered in a state, kept alive by the state.
final class HostFunctionBox {
    let name: String
    let body: ([LuaValue]) throws -> [LuaValue]
    /// A function that reads its arguments from the stack and pushes its
    /// results itself (returning how many), without ``LuaValue`` trees.
    let stackBody: ((LuaStack) throws -> Int32)?

    init(name: String, body: @escaping ([LuaValue]) throws -> [LuaValue]) {
        self.name = name
        self.body = body
        self.stackBody = nil
    }

    init(name: String, stackBody: @escaping (LuaStack) throws -> Int32) {
        self.name = name
        self.body = { _ in [] }
        self.stackBody = stackBody
    }
}

/// The one dispatcher every host function goes through.
///
/// The C trampoline calls it with the host flag raised (the allocator cannot
/// fail, so no Lua API call below can raise). It never lets an error escape:
/// it leaves the message on the stack and returns -1, and the trampoline
/// raises it after this Swift frame has returned.
enum HostDispatch {
    private static let installed: Bool = {
        crescent_set_dispatch(dispatch)
        return true
    }()

    static func install() { _ = installed }

    private static let dispatch: crescent_dispatch_fn = { L, box in
        guard let L, let box else { return -1 }
        let function = Unmanaged<HostFunctionBox>.fromOpaque(box).takeUnretainedValue()
        let base = lua_gettop(L)
        let stack = LuaStack(L)
        do {
            if let stackBody = function.stackBody {
                return try stackBody(stack)
            }
            var arguments: [LuaValue] = []
            arguments.reserveCapacity(Int(base))
            if base > 0 {
                for index in 1...base { arguments.append(try stack.value(at: index)) }
            }
            let results = try function.body(arguments)
            for result in results { try LuaValueCodec.validate(result, depth: 0) }
            guard lua_checkstack(L, Int32(clamping: results.count + 2 * LuaValueCodec.maxDepth + 8)) != 0 else {
                throw LuaHostError("\(function.name): too many results")
            }
            for result in results { LuaValueCodec.push(result, L) }
            return Int32(results.count)
        } catch {
            lua_settop(L, base)
            let message: String
            switch error {
            case let error as LuaHostError: message = error.message
            case let error as LuaError: message = "\(function.name): \(error.message)"
            default: message = "\(function.name): \(error)"
            }
            stack.push(message)
            return -1
        }
    }
}
