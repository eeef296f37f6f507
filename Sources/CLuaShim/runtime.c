/*
 * State creation, the capped allocator, the count hook, protected calls and
 * the Swift trampoline.
 */
#include "crescent_shim.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLOCK_CHECK_BYTES (1u << 20)
#define DEFAULT_HOOK_PERIOD 1000

double crescent_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

crescent_runtime *crescent_rt(lua_State *L) {
    return *(crescent_runtime **)lua_getextraspace(L);
}

/* True once the call is past its deadline. The deadline is armed lazily, at
 * the first check (at most one hook period or 1 MiB of allocation into the
 * call), so that short calls never read the clock. */
static int past_deadline(crescent_runtime *rt) {
    if (rt->timeout <= 0) return 0;
    double t = crescent_now();
    if (rt->deadline == 0) {
        rt->deadline = t + rt->timeout;
        return 0;
    }
    return t > rt->deadline;
}

/* ---------------------------------------------------------------- allocator */

/*
 * Where the code stood when the allocator killed the call: Lua raises a
 * memory error without calling the message handler, and the hook may never
 * run again, so the innermost Lua function is found here. Walking the stack
 * and reading a frame's source and line allocate nothing. (With a coroutine
 * running, this finds the call that resumed it.)
 */
static void locate_kill(lua_State *L, crescent_runtime *rt, int from_level) {
    if (L == NULL || rt->kill_source[0] != '\0') return;
    lua_Debug ar;
    for (int level = from_level; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            snprintf(rt->kill_source, sizeof rt->kill_source, "%s", ar.short_src);
            rt->kill_line = ar.currentline;
            return;
        }
    }
}

static void locate_allocator_kill(crescent_runtime *rt) { locate_kill(rt->main_thread, rt, 0); }

/*
 * Counts every byte. While Lua code runs (host_depth == 0) it refuses growth
 * past the cap, and refuses everything once the call was killed; while host
 * code runs it never fails, so Swift never sees a memory error mid-marshal.
 * Lua retries a refused allocation once after a full collection: a second
 * refusal in a row is a real out-of-memory and becomes a sticky kill.
 */
static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    crescent_runtime *rt = (crescent_runtime *)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        rt->memory_used -= old;
        return NULL;
    }
    if (nsize > old && rt->host_depth == 0) {
        size_t grow = nsize - old;
        if (rt->killed) return NULL;
        if (rt->memory_limit && rt->memory_used + grow > rt->memory_limit) {
            if (rt->pending_refusal) {
                rt->killed = CRESCENT_KILL_MEMORY;
                locate_allocator_kill(rt);
            }
            rt->pending_refusal = 1;
            return NULL;
        }
        rt->bytes_since_clock += grow;
        if (rt->bytes_since_clock >= CLOCK_CHECK_BYTES) {
            rt->bytes_since_clock = 0;
            if (past_deadline(rt)) {
                rt->killed = CRESCENT_KILL_TIME;
                locate_allocator_kill(rt);
                return NULL;
            }
        }
    }
    void *block = realloc(ptr, nsize);
    if (block == NULL) {
        if (nsize <= old) return ptr; /* a shrink never fails */
        return NULL;
    }
    rt->pending_refusal = 0;
    rt->memory_used = rt->memory_used - old + nsize;
    if (rt->memory_used > rt->memory_peak) rt->memory_peak = rt->memory_used;
    return block;
}

/* -------------------------------------------------------------------- panic */

static int on_panic(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "crescent: fatal Lua panic (unprotected error): %s\n",
            msg ? msg : "(error object is not a string)");
    fflush(stderr);
    abort();
    return 0;
}

/* --------------------------------------------------------------------- hook */

const char *crescent_kill_message(crescent_runtime *rt, char *buf, size_t n) {
    switch (rt->killed) {
    case CRESCENT_KILL_INSTRUCTIONS:
        snprintf(buf, n, "instruction limit exceeded (%lld instructions)",
                 rt->instruction_budget);
        break;
    case CRESCENT_KILL_TIME:
        snprintf(buf, n, "time limit exceeded");
        break;
    case CRESCENT_KILL_MEMORY:
        snprintf(buf, n, "memory limit exceeded (%zu bytes)", rt->memory_limit);
        break;
    default:
        snprintf(buf, n, "stopped");
    }
    return buf;
}

/* Raises the error for a kill that already happened. Never returns. */
int crescent_raise_kill(lua_State *L) {
    char buf[128];
    crescent_kill_message(crescent_rt(L), buf, sizeof buf);
    lua_pushstring(L, buf); /* may itself fail with a memory error: fine */
    return lua_error(L);
}

static void record_kill(lua_State *L, lua_Debug *ar, int reason) {
    crescent_runtime *rt = crescent_rt(L);
    rt->killed = reason;
    rt->kill_source[0] = '\0';
    rt->kill_line = 0;
    if (ar != NULL && lua_getinfo(L, "Sl", ar)) {
        snprintf(rt->kill_source, sizeof rt->kill_source, "%s", ar->short_src);
        rt->kill_line = ar->currentline;
    }
}

static void count_hook(lua_State *L, lua_Debug *ar) {
    crescent_runtime *rt = crescent_rt(L);
    if (!rt->killed) {
        int count = lua_gethookcount(L);
        rt->instructions_used += count > 0 ? count : 1;
        if (rt->instruction_budget > 0 && rt->instructions_used > rt->instruction_budget) {
            record_kill(L, ar, CRESCENT_KILL_INSTRUCTIONS);
        } else if (past_deadline(rt)) {
            record_kill(L, ar, CRESCENT_KILL_TIME);
        } else {
            if (count != rt->hook_period || lua_gethookmask(L) != LUA_MASKCOUNT)
                lua_sethook(L, count_hook, LUA_MASKCOUNT, rt->hook_period);
            return;
        }
    } else if (rt->kill_source[0] == '\0') {
        /* killed by the allocator: remember where the code was */
        record_kill(L, ar, rt->killed);
    }
    /* Once killed, fire on every instruction and line of every thread that
     * runs, so no handler, loop or close method gets further. */
    lua_sethook(L, count_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
    crescent_raise_kill(L);
}

lua_Hook crescent_hook_function(void) { return count_hook; }

void crescent_install_hook(lua_State *L) {
    int period = crescent_rt(L)->hook_period;
    if (lua_gethook(L) != count_hook || lua_gethookmask(L) != LUA_MASKCOUNT ||
        lua_gethookcount(L) != period)
        lua_sethook(L, count_hook, LUA_MASKCOUNT, period);
}

void crescent_charge(lua_State *L, long long n) {
    crescent_runtime *rt = crescent_rt(L);
    if (!rt->killed) {
        rt->instructions_used += n;
        if (rt->instruction_budget > 0 && rt->instructions_used > rt->instruction_budget)
            rt->killed = CRESCENT_KILL_INSTRUCTIONS;
        else if (past_deadline(rt))
            rt->killed = CRESCENT_KILL_TIME;
        else
            return;
        lua_Debug ar;
        if (lua_getstack(L, 1, &ar)) record_kill(L, &ar, rt->killed);
    }
    crescent_raise_kill(L);
}

/* ------------------------------------------------------------ state, calls */

lua_State *crescent_newstate(size_t memory_limit) {
    crescent_runtime *rt = calloc(1, sizeof *rt);
    if (rt == NULL) return NULL;
    rt->memory_limit = memory_limit;
    rt->host_depth = 1;
    rt->hook_period = DEFAULT_HOOK_PERIOD;
    rt->max_source_bytes = 1 << 20;
    rt->pattern_min_steps = 1000000;
    lua_State *L = lua_newstate(capped_alloc, rt);
    if (L == NULL) {
        free(rt);
        return NULL;
    }
    *(crescent_runtime **)lua_getextraspace(L) = rt;
    rt->main_thread = L;
    lua_atpanic(L, on_panic);
    crescent_install_hook(L);
    return L;
}

void crescent_close(lua_State *L) {
    crescent_runtime *rt = crescent_rt(L);
    rt->host_depth = 1;
    lua_close(L);
    free(rt);
}

/* Message handler: message plus traceback. Runs under the limits, so an
 * error object whose __tostring loops is stopped like any other code. */
static int traceback_handler(lua_State *L) {
    crescent_runtime *rt = crescent_rt(L);
    /* killed by the allocator and not located yet: the innermost Lua function */
    if (rt->killed) locate_kill(L, rt, 1);
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int crescent_call(lua_State *L, int nargs, int nresults,
                  long long instruction_budget, double timeout_seconds) {
    crescent_runtime *rt = crescent_rt(L);
    rt->instruction_budget = instruction_budget > 0 ? instruction_budget : 0;
    rt->instructions_used = 0;
    rt->timeout = timeout_seconds > 0 ? timeout_seconds : 0;
    rt->deadline = 0;
    rt->killed = CRESCENT_KILL_NONE;
    rt->kill_source[0] = '\0';
    rt->kill_line = 0;
    rt->pending_refusal = 0;
    rt->bytes_since_clock = 0;
    /* With neither a budget nor a deadline there is nothing to count: run
     * without the hook (Lua's count hook traps every instruction, which costs
     * 20-50% on CPU-bound code). Coroutines always get the hook at creation,
     * so one made now still obeys the limits of a later call. */
    if (rt->instruction_budget == 0 && rt->timeout == 0) {
        if (lua_gethook(L) != NULL) lua_sethook(L, NULL, 0, 0);
    } else {
        crescent_install_hook(L);
    }

    /* stack: function copy (to name the chunk after a kill), handler, function, args */
    int base = lua_gettop(L) - nargs;
    lua_pushvalue(L, base);
    lua_pushcfunction(L, traceback_handler);
    lua_rotate(L, base, 2);
    int saved_depth = rt->host_depth;
    rt->host_depth = 0;
    int status = lua_pcall(L, nargs, nresults, base + 1);
    rt->host_depth = saved_depth;
    if (rt->killed && rt->kill_source[0] == '\0') {
        lua_Debug ar;
        lua_pushvalue(L, base);
        if (lua_getinfo(L, ">S", &ar)) {
            snprintf(rt->kill_source, sizeof rt->kill_source, "%s", ar.short_src);
            rt->kill_line = 0;
        }
    }
    lua_rotate(L, base, -2);
    lua_settop(L, -3);
    rt->deadline = 0;
    rt->timeout = 0;
    if (rt->killed == CRESCENT_KILL_NONE && status == LUA_ERRMEM)
        rt->killed = CRESCENT_KILL_MEMORY;
    if (rt->killed != CRESCENT_KILL_NONE) {
        crescent_install_hook(L);
        if (rt->killed == CRESCENT_KILL_MEMORY) lua_gc(L, LUA_GCCOLLECT);
    }
    return status;
}

/* ---------------------------------------------------------------- trampoline */

static crescent_dispatch_fn dispatch_fn = NULL;

void crescent_set_dispatch(crescent_dispatch_fn fn) { dispatch_fn = fn; }

/* Calls Swift with host_depth raised (no allocation can fail, so no Lua API
 * call that Swift makes can longjmp), then raises Swift's error from here,
 * after every Swift frame has returned. */
static int host_trampoline(lua_State *L) {
    crescent_runtime *rt = crescent_rt(L);
    void *box = lua_touserdata(L, lua_upvalueindex(1));
    if (rt->killed) return crescent_raise_kill(L);
    rt->host_depth++;
    int n = dispatch_fn ? dispatch_fn(L, box) : -2;
    rt->host_depth--;
    if (n == -2) return luaL_error(L, "host function dispatcher is not installed");
    if (n < 0) {
        if (lua_type(L, -1) == LUA_TSTRING) { /* add the caller's position */
            luaL_where(L, 1);
            lua_rotate(L, -2, 1);
            lua_concat(L, 2);
        }
        return lua_error(L);
    }
    return n;
}

void crescent_push_host_function(lua_State *L, void *box) {
    lua_pushlightuserdata(L, box);
    lua_pushcclosure(L, host_trampoline, 1);
}
