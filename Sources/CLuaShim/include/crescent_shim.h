/*
 * CLuaShim: the little C that must be C.
 *
 * Everything here runs between Lua and Swift so that a Lua error (a longjmp)
 * never crosses a Swift frame:
 *   - a capped, counting allocator that never fails while host code runs;
 *   - a count hook that enforces an instruction budget and a wall-clock
 *     deadline, and keeps firing on every instruction after a kill;
 *   - wrappers for pcall, xpcall and coroutine functions that rethrow kills;
 *   - the trampoline that calls Swift and raises its error after Swift returned;
 *   - the sandboxed base library, `require` for plugin files, read-only tables;
 *   - a bounded re-implementation of Lua's pattern matching functions.
 */
#ifndef CRESCENT_SHIM_H
#define CRESCENT_SHIM_H

#include <stddef.h>
#include <lua.h>
#include <lauxlib.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Why the current call was stopped. */
typedef enum {
    CRESCENT_KILL_NONE = 0,
    CRESCENT_KILL_INSTRUCTIONS = 1,
    CRESCENT_KILL_TIME = 2,
    CRESCENT_KILL_MEMORY = 3,
} crescent_kill_reason;

/* Per-state bookkeeping, owned by the state (freed by crescent_close). */
typedef struct crescent_runtime {
    /* allocator */
    size_t memory_used;
    size_t memory_limit;      /* 0 = unlimited */
    size_t memory_peak;
    size_t bytes_since_clock; /* allocation volume since the last clock read */
    int pending_refusal;      /* a refusal not yet followed by a success */
    int host_depth;           /* > 0: host code runs, allocations never fail */
    /* per-call limits */
    long long instruction_budget; /* 0 = unlimited */
    long long instructions_used;
    double deadline;          /* monotonic seconds; 0 = none (or not armed yet) */
    double timeout;           /* seconds; the deadline is armed at the first check */
    int hook_period;          /* instructions between two hook calls */
    int killed;               /* crescent_kill_reason */
    char kill_source[256];
    int kill_line;
    struct lua_State *main_thread; /* to locate a kill made by the allocator */
    /* sandbox */
    char plugin_dir[1024];    /* empty: require is disabled */
    size_t max_source_bytes;
    long long pattern_min_steps; /* per-call floor of the pattern step limit */
    /* reads of anything that changes on its own: the clock (os.time,
       os.date, os.clock, a clock cell), math.random; the host adds its own */
    long long volatile_reads;
} crescent_runtime;

/* Monotonic clock in seconds. */
double crescent_now(void);

/* Creates a state with the capped allocator, panic handler and count hook. */
lua_State *crescent_newstate(size_t memory_limit);
/* Closes the state and frees its runtime. */
void crescent_close(lua_State *L);
/* The runtime record of a state (or of any of its threads). */
crescent_runtime *crescent_rt(lua_State *L);

/* Installs the sandbox: builds the frozen base in the registry. */
void crescent_open_sandbox(lua_State *L);
/* Pushes a fresh environment table over the frozen base. */
void crescent_push_environment(lua_State *L);
/* Loads a text chunk and gives it a fresh environment (pushed below it when
 * `push_env` is set). Returns a lua status; on error the message is pushed. */
int crescent_load(lua_State *L, const char *source, size_t length,
                  const char *chunkname, int push_env);
/* Pushes `value` read-only (a proxy whose nested tables are read-only too). */
void crescent_push_frozen(lua_State *L, int index);
/* When the value at `index` is a read-only proxy, pushes the table behind it
 * and returns 1; otherwise pushes nothing and returns 0. Raises no error. */
int crescent_push_unfrozen(lua_State *L, int index);

/* Runs the function below `nargs` arguments with a traceback handler under
 * the given limits. Returns the lua status; runtime->killed tells of a kill. */
int crescent_call(lua_State *L, int nargs, int nresults,
                  long long instruction_budget, double timeout_seconds);

/* Swift functions: the dispatcher returns the number of results, or -1 with
 * the error value on top of the stack; the trampoline raises it. */
typedef int (*crescent_dispatch_fn)(lua_State *L, void *box);
void crescent_set_dispatch(crescent_dispatch_fn fn);
void crescent_push_host_function(lua_State *L, void *box);

/* Counts `n` units of work against the budget and checks the deadline;
 * raises the limit error when exceeded. Only call from C functions. */
void crescent_charge(lua_State *L, long long n);

/* Pushes where(level) -> chunk name, line of a caller (for declarations). */
void crescent_push_where(lua_State *L);
/* Pushes clock() -> monotonic microseconds. */
void crescent_push_clock(lua_State *L);

/* Pushes a function returning the integer stored at `cell`, read at each
   call (no host frame) and, when `counted`, counted in `volatile_reads`.
   The cell must outlive every call. */
void crescent_push_cell_reader(lua_State *L, const long long *cell, int counted);
/* Pushes a function returning the state's `volatile_reads` so far. */
void crescent_push_volatile_counter(lua_State *L);

/* Opens the bounded pattern functions into the table at the top. */
void crescent_open_patterns(lua_State *L);

/* Macros of the Lua API, as functions Swift can call. */
static inline void crescent_pop(lua_State *L, int n) { lua_settop(L, -(n)-1); }
static inline int crescent_get_ref(lua_State *L, int ref) {
    return lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
}
static inline int crescent_make_ref(lua_State *L) { return luaL_ref(L, LUA_REGISTRYINDEX); }
static inline void crescent_free_ref(lua_State *L, int ref) {
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
}
static inline void crescent_remove(lua_State *L, int index) {
    lua_rotate(L, index, -1);
    lua_settop(L, -2);
}
/* Pushes the frozen base table (where host code adds shared functions). */
static inline void crescent_push_base(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, "crescent.base");
}

#ifdef __cplusplus
}
#endif
#endif
