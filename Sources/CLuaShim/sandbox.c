/*
 * The sandbox: a frozen base of allow-listed functions, one environment per
 * chunk over it, wrappers that keep limits and metatables in check.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------- protected calls */

static int finish_pcall(lua_State *L, int status, lua_KContext extra) {
    crescent_runtime *rt = crescent_rt(L);
    if (status == LUA_ERRMEM && !rt->killed) rt->killed = CRESCENT_KILL_MEMORY;
    if (rt->killed) return crescent_raise_kill(L); /* limits are not catchable */
    if (status != LUA_OK && status != LUA_YIELD) {
        lua_pushboolean(L, 0);
        lua_pushvalue(L, -2);
        return 2;
    }
    return lua_gettop(L) - (int)extra;
}

static int sandbox_pcall(lua_State *L) {
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    int status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0, finish_pcall);
    return finish_pcall(L, status, 0);
}

static int sandbox_xpcall(lua_State *L) {
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 2);
    int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finish_pcall);
    return finish_pcall(L, status, 2);
}

/* Calls the original function in upvalue 1 with all arguments, then rethrows
 * a kill that happened inside (coroutine.resume and coroutine.close catch
 * errors of the coroutine they run). */
static int rethrowing_call(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    if (crescent_rt(L)->killed) return crescent_raise_kill(L);
    return lua_gettop(L);
}

/* coroutine.create and coroutine.wrap: the new thread gets the count hook
 * whatever the current call's limits, so it obeys every later call's. */
static int hooked_coroutine(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    lua_State *co = lua_tothread(L, -1);
    if (co == NULL && lua_getupvalue(L, -1, 1) != NULL) { /* wrap: the thread is its upvalue */
        co = lua_tothread(L, -1);
        lua_pop(L, 1);
    }
    if (co != NULL) lua_sethook(co, crescent_hook_function(), LUA_MASKCOUNT, crescent_rt(L)->hook_period);
    return 1;
}

/* ------------------------------------------------------------ metatables */

static int refused_key(lua_State *L, int index) {
    if (lua_type(L, index) != LUA_TSTRING) return 0;
    const char *k = lua_tostring(L, index);
    return strcmp(k, "__gc") == 0 || strcmp(k, "__mode") == 0;
}

static int has_refused_field(lua_State *L, int mt) {
    int found = 0;
    lua_pushliteral(L, "__gc");
    found |= lua_rawget(L, mt) != LUA_TNIL;
    lua_pop(L, 1);
    lua_pushliteral(L, "__mode");
    found |= lua_rawget(L, mt) != LUA_TNIL;
    lua_pop(L, 1);
    return found;
}

/* __newindex of the guard put on metatables: no __gc or __mode later on. */
static int guard_newindex(lua_State *L) {
    if (refused_key(L, 2))
        return luaL_error(L, "'%s' metamethods are not allowed in rules", lua_tostring(L, 2));
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 0;
}

static int sandbox_setmetatable(lua_State *L) {
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (crescent_is_frozen(L, 1)) return luaL_error(L, "attempt to modify a read-only table");
    if (t == LUA_TTABLE) {
        if (has_refused_field(L, 2))
            return luaL_error(L, "__gc and __mode metamethods are not allowed in rules");
        if (!lua_getmetatable(L, 2) && !crescent_is_frozen(L, 2)) {
            luaL_getmetatable(L, CRESCENT_GUARD_MT);
            lua_setmetatable(L, 2);
        } else if (lua_gettop(L) > 2) {
            lua_pop(L, 1);
        }
    }
    /* the guard hides itself (shared by all), but the owner may replace it */
    int guarded = 0;
    if (lua_getmetatable(L, 1)) {
        luaL_getmetatable(L, CRESCENT_GUARD_MT);
        guarded = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    if (!guarded && luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

static int sandbox_rawset(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (crescent_is_frozen(L, 1)) return luaL_error(L, "attempt to modify a read-only table");
    if (refused_key(L, 2))
        return luaL_error(L, "'%s' metamethods are not allowed in rules", lua_tostring(L, 2));
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* ------------------------------------------------- table work accounting */

enum { TW_INSERT, TW_REMOVE, TW_MOVE, TW_SORT, TW_UNPACK, TW_CONCAT };

/* Work that C library functions do without running a Lua instruction is
 * counted against the budget before it starts. */
static int charged_table_call(lua_State *L) {
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    long long cost = 0;
    long long len = lua_type(L, 1) == LUA_TTABLE ? (long long)lua_rawlen(L, 1) : 0;
    switch (kind) {
    case TW_INSERT:
        if (lua_gettop(L) >= 3) cost = len - lua_tointeger(L, 2) + 1;
        break;
    case TW_REMOVE:
        if (lua_gettop(L) >= 2) cost = len - lua_tointeger(L, 2) + 1;
        break;
    case TW_MOVE: {
        lua_Integer f = lua_tointeger(L, 2), e = lua_tointeger(L, 3);
        if (e >= f) cost = (e - f) > (1LL << 40) ? (1LL << 40) : (long long)(e - f) + 1;
        break;
    }
    case TW_SORT: {
        long long lg = 1;
        while ((1LL << lg) < len) lg++;
        cost = len * lg;
        break;
    }
    case TW_UNPACK: {
        lua_Integer i = luaL_optinteger(L, 2, 1);
        lua_Integer e = lua_isnoneornil(L, 3) ? (lua_Integer)len : luaL_checkinteger(L, 3);
        if (e >= i) cost = (e - i) > (1LL << 40) ? (1LL << 40) : (long long)(e - i) + 1;
        break;
    }
    case TW_CONCAT:
        cost = len;
        break;
    }
    if (cost > 64) crescent_charge(L, cost);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* ------------------------------------------------------------- building */

/* Copies `names` from the table at `from` into the table at the top. */
static void copy_fields(lua_State *L, int from, const char *const *names) {
    from = lua_absindex(L, from);
    for (; *names; names++) {
        lua_getfield(L, from, *names);
        lua_setfield(L, -2, *names);
    }
}

/* Replaces field `name` of the table at the top with `fn` closed over the
 * original function (and over `kind` when kind >= 0). */
static void wrap_field(lua_State *L, const char *name, lua_CFunction fn, int kind) {
    lua_getfield(L, -1, name);
    int n = 1;
    if (kind >= 0) {
        lua_pushinteger(L, kind);
        n = 2;
    }
    lua_pushcclosure(L, fn, n);
    lua_setfield(L, -2, name);
}

/* A library function whose result changes on its own (the clock, random
   numbers): counted in volatile_reads, then called. */
static int volatile_call(lua_State *L) {
    crescent_rt(L)->volatile_reads++;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static void set_frozen_field(lua_State *L, int base, const char *name) {
    crescent_push_proxy(L, -1, 1);
    lua_setfield(L, base, name);
    lua_pop(L, 1);
}

extern int crescent_require(lua_State *L);

void crescent_open_sandbox(lua_State *L) {
    static const char *const base_names[] = {
        "assert", "error", "getmetatable", "ipairs", "next", "pairs", "rawequal",
        "rawget", "rawlen", "select", "tonumber", "tostring", "type", "_VERSION", NULL};
    static const char *const table_names[] = {
        "concat", "insert", "move", "pack", "remove", "sort", "unpack", NULL};
    static const char *const string_names[] = {
        "byte", "char", "format", "len", "lower", "pack", "packsize", "rep",
        "reverse", "sub", "unpack", "upper", NULL};
    static const char *const math_names[] = {
        "abs", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge", "log", "max",
        "maxinteger", "min", "mininteger", "modf", "pi", "rad", "random",
        "randomseed", "sin", "sqrt", "tan", "tointeger", "type", "ult", "acos",
        "asin", "atan", NULL};
    static const char *const utf8_names[] = {
        "char", "charpattern", "codes", "codepoint", "len", "offset", NULL};
    static const char *const os_names[] = {"time", "date", "clock", NULL};
    static const char *const coroutine_names[] = {
        "create", "isyieldable", "running", "status", "wrap", "yield", "resume",
        "close", NULL};

    int top = lua_gettop(L);
    luaL_requiref(L, LUA_GNAME, luaopen_base, 0);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 0);
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 0);
    int g = top + 1, str = top + 2, tab = top + 3, math = top + 4, utf = top + 5,
        os = top + 6, co = top + 7;

    crescent_make_weak_registry_table(L, CRESCENT_FROZEN, "k");
    crescent_make_weak_registry_table(L, "crescent.memo", "k");
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, CRESCENT_LOADED);
    luaL_newmetatable(L, CRESCENT_GUARD_MT);
    lua_pushcfunction(L, guard_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    lua_newtable(L); /* the base */
    int base = lua_gettop(L);
    copy_fields(L, g, base_names);
    lua_pushcfunction(L, sandbox_pcall);
    lua_setfield(L, base, "pcall");
    lua_pushcfunction(L, sandbox_xpcall);
    lua_setfield(L, base, "xpcall");
    lua_pushcfunction(L, sandbox_setmetatable);
    lua_setfield(L, base, "setmetatable");
    lua_pushcfunction(L, sandbox_rawset);
    lua_setfield(L, base, "rawset");
    lua_pushcfunction(L, crescent_require);
    lua_setfield(L, base, "require");

    lua_newtable(L);
    copy_fields(L, str, string_names);
    crescent_open_patterns(L);
    crescent_push_proxy(L, -1, 1); /* string proxy */
    lua_pushvalue(L, -1);
    lua_setfield(L, base, "string");
    /* the string metatable: methods through the proxy, itself read-only */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -4);
    lua_setfield(L, -2, "__index");
    crescent_push_proxy(L, -1, 0);
    lua_setfield(L, -3, "__metatable");
    lua_pop(L, 5);

    lua_newtable(L);
    copy_fields(L, tab, table_names);
    wrap_field(L, "insert", charged_table_call, TW_INSERT);
    wrap_field(L, "remove", charged_table_call, TW_REMOVE);
    wrap_field(L, "move", charged_table_call, TW_MOVE);
    wrap_field(L, "sort", charged_table_call, TW_SORT);
    wrap_field(L, "unpack", charged_table_call, TW_UNPACK);
    wrap_field(L, "concat", charged_table_call, TW_CONCAT);
    set_frozen_field(L, base, "table");

    lua_newtable(L);
    copy_fields(L, math, math_names);
    wrap_field(L, "random", volatile_call, -1);
    set_frozen_field(L, base, "math");
    lua_newtable(L);
    copy_fields(L, utf, utf8_names);
    set_frozen_field(L, base, "utf8");
    lua_newtable(L);
    copy_fields(L, os, os_names);
    wrap_field(L, "time", volatile_call, -1);
    wrap_field(L, "date", volatile_call, -1);
    wrap_field(L, "clock", volatile_call, -1);
    set_frozen_field(L, base, "os");
    lua_newtable(L);
    copy_fields(L, co, coroutine_names);
    wrap_field(L, "create", hooked_coroutine, -1);
    wrap_field(L, "wrap", hooked_coroutine, -1);
    wrap_field(L, "resume", rethrowing_call, -1);
    wrap_field(L, "close", rethrowing_call, -1);
    set_frozen_field(L, base, "coroutine");

    lua_pushvalue(L, base);
    lua_setfield(L, LUA_REGISTRYINDEX, CRESCENT_BASE);
    /* environments index the base; their metatable is hidden */
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, base);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setfield(L, LUA_REGISTRYINDEX, "crescent.env_mt");
    lua_settop(L, top);
}

void crescent_push_environment(lua_State *L) {
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");
    lua_getfield(L, LUA_REGISTRYINDEX, "crescent.env_mt");
    lua_setmetatable(L, -2);
}

int crescent_load(lua_State *L, const char *source, size_t length,
                  const char *chunkname, int push_env) {
    crescent_runtime *rt = crescent_rt(L);
    if (rt->max_source_bytes && length > rt->max_source_bytes) {
        lua_pushfstring(L, "%s: chunk too large (%I bytes; the limit is %I)",
                        chunkname[0] == '=' || chunkname[0] == '@' ? chunkname + 1 : chunkname,
                        (lua_Integer)length, (lua_Integer)rt->max_source_bytes);
        return LUA_ERRSYNTAX;
    }
    int status = luaL_loadbufferx(L, source, length, chunkname, "t");
    if (status != LUA_OK) return status;
    crescent_push_environment(L);
    if (push_env) {
        lua_pushvalue(L, -1);
        lua_insert(L, -3); /* env, function, env */
    }
    lua_setupvalue(L, -2, 1);
    return LUA_OK;
}

/* where(level): the chunk name and line of the function `level` calls up. */
static int where_function(lua_State *L) {
    int level = (int)luaL_optinteger(L, 1, 1);
    lua_Debug ar;
    if (lua_getstack(L, level, &ar) && lua_getinfo(L, "Sl", &ar)) {
        lua_pushstring(L, ar.short_src);
        lua_pushinteger(L, ar.currentline);
        return 2;
    }
    return 0;
}

void crescent_push_where(lua_State *L) { lua_pushcfunction(L, where_function); }

/* clock(): monotonic microseconds, for timing rules inside one host call. */
static int clock_function(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)(crescent_now() * 1e6));
    return 1;
}

void crescent_push_clock(lua_State *L) { lua_pushcfunction(L, clock_function); }

/* A function returning the integer in a host-owned cell (its upvalue). */
static int cell_function(lua_State *L) {
    const long long *cell = (const long long *)lua_touserdata(L, lua_upvalueindex(1));
    crescent_rt(L)->volatile_reads++;
    lua_pushinteger(L, (lua_Integer)*cell);
    return 1;
}

/* The same read, not counted: for host helpers that report how long the
   value they derive from it holds. */
static int quiet_cell_function(lua_State *L) {
    const long long *cell = (const long long *)lua_touserdata(L, lua_upvalueindex(1));
    lua_pushinteger(L, (lua_Integer)*cell);
    return 1;
}

void crescent_push_cell_reader(lua_State *L, const long long *cell, int counted) {
    lua_pushlightuserdata(L, (void *)cell);
    lua_pushcclosure(L, counted ? cell_function : quiet_cell_function, 1);
}

/* volatile_reads(): the state's count of volatile reads so far. */
static int volatile_counter_function(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)crescent_rt(L)->volatile_reads);
    return 1;
}

void crescent_push_volatile_counter(lua_State *L) { lua_pushcfunction(L, volatile_counter_function); }
