/*
 * Read-only tables: proxies that index the real table, refuse writes, and
 * hand out nested tables read-only too. The shared libraries and every
 * plugin module's result reach rules only through them.
 */
#include "internal.h"

/* ------------------------------------------------------ read-only tables */

int crescent_is_frozen(lua_State *L, int index) {
    if (lua_type(L, index) != LUA_TTABLE) return 0;
    index = lua_absindex(L, index);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, CRESCENT_FROZEN);
    lua_pushvalue(L, index);
    int frozen = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 2);
    return frozen;
}

int crescent_push_unfrozen(lua_State *L, int index) {
    if (lua_type(L, index) != LUA_TTABLE || !lua_getmetatable(L, index)) return 0;
    lua_pop(L, 1); /* only a table with a metatable can be a proxy */
    index = lua_absindex(L, index);
    lua_getfield(L, LUA_REGISTRYINDEX, CRESCENT_FROZEN);
    if (lua_type(L, -1) != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushvalue(L, index);
    if (lua_rawget(L, -2) != LUA_TTABLE) {
        lua_pop(L, 2);
        return 0;
    }
    lua_remove(L, -2);
    return 1;
}

static int readonly_newindex(lua_State *L) {
    return luaL_error(L, "attempt to modify a read-only table");
}

/* The real table behind a proxy: upvalue 1 of its __index closure. */
static void push_real(lua_State *L, int proxy) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, CRESCENT_FROZEN);
    lua_pushvalue(L, proxy);
    lua_rawget(L, -2);
    lua_remove(L, -2);
}

static int frozen_index(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 2);
    lua_gettable(L, -2);
    if (lua_type(L, -1) == LUA_TTABLE) crescent_push_frozen(L, -1);
    return 1;
}

static int frozen_len(lua_State *L) {
    push_real(L, 1);
    lua_len(L, -1);
    return 1;
}

static int frozen_next(lua_State *L) {
    push_real(L, 1);
    lua_settop(L, 3);
    lua_rotate(L, 2, 1); /* proxy, real, key */
    if (!lua_next(L, 2)) return 0;
    if (lua_type(L, -1) == LUA_TTABLE) {
        crescent_push_frozen(L, -1);
        lua_remove(L, -2);
    }
    return 2;
}

static int frozen_pairs(lua_State *L) {
    lua_pushcfunction(L, frozen_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Creates the proxy for the table at `index`; `shallow` lets the proxy
 * index the real table directly (fast; only for tables of functions). */
void crescent_push_proxy(lua_State *L, int index, int shallow) {
    index = lua_absindex(L, index);
    lua_newtable(L); /* proxy */
    lua_createtable(L, 0, 5); /* its metatable */
    if (shallow) {
        lua_pushvalue(L, index);
    } else {
        lua_pushvalue(L, index);
        lua_pushcclosure(L, frozen_index, 1);
    }
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, frozen_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, frozen_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushliteral(L, "read-only table");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    /* remember proxy -> real and real -> proxy */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, CRESCENT_FROZEN);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, index);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, "crescent.memo");
    lua_pushvalue(L, index);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

void crescent_push_frozen(lua_State *L, int index) {
    index = lua_absindex(L, index);
    if (lua_type(L, index) != LUA_TTABLE || crescent_is_frozen(L, index)) {
        lua_pushvalue(L, index);
        return;
    }
    luaL_getsubtable(L, LUA_REGISTRYINDEX, "crescent.memo");
    lua_pushvalue(L, index);
    if (lua_rawget(L, -2) == LUA_TTABLE) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 2);
    crescent_push_proxy(L, index, 0);
}

/* Weak-keyed registry tables: host-made, so __mode is fine here. */
void crescent_make_weak_registry_table(lua_State *L, const char *name, const char *mode) {
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, name);
}

