#include <dlfcn.h>
#include <malloc.h>
#include <stddef.h>
#include "bench_loop.h"

#include <lauxlib.h>

long long crescent_bench_c_loop(lua_State *L, int ref, long long iterations) {
    long long hits = 0;
    for (long long i = 0; i < iterations; i++) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        lua_createtable(L, 0, 10);
        lua_pushnumber(L, (double)(i % 200) + 0.5);
        lua_setfield(L, -2, "amount");
        lua_pushstring(L, "EUR");
        lua_setfield(L, -2, "currency");
        lua_pushstring(L, "ES");
        lua_setfield(L, -2, "country");
        lua_pushstring(L, (i & 1) ? "ES" : "FR");
        lua_setfield(L, -2, "ip_country");
        lua_pushstring(L, "ana@example.com");
        lua_setfield(L, -2, "email");
        lua_pushinteger(L, i);
        lua_setfield(L, -2, "user_id");
        lua_pushstring(L, "card_4242");
        lua_setfield(L, -2, "card");
        lua_pushinteger(L, 3);
        lua_setfield(L, -2, "items");
        lua_pushstring(L, "web");
        lua_setfield(L, -2, "channel");
        lua_pushinteger(L, 1700000000 + i);
        lua_setfield(L, -2, "timestamp");
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
            lua_pop(L, 1);
            return -1;
        }
        hits += lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    return hits;
}

/* jemalloc's control call, when jemalloc is the allocator (found at run
 * time, so this file needs no jemalloc header). */
typedef int (*crescent_mallctl_fn)(const char *, void *, size_t *, void *, size_t);

void crescent_bench_trim_heap(void) {
    crescent_mallctl_fn mallctl = (crescent_mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
    if (mallctl) {
        /* Every arena (MALLCTL_ARENAS_ALL is 4096) hands its unused pages back now. */
        mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
        return;
    }
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}
