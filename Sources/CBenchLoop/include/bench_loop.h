/* The reference for `make bench`: the same rule call done directly through
 * Lua's C API, with no bridge, as the upper limit LuaKit is measured against. */
#ifndef CRESCENT_BENCH_LOOP_H
#define CRESCENT_BENCH_LOOP_H

#include <lua.h>

/* Calls the function in registry slot `ref` `iterations` times, each time
 * with a fresh 10-field event table; returns how many calls returned true,
 * or -1 on the first error. */
long long crescent_bench_c_loop(lua_State *L, int ref, long long iterations);

/* Returns the heap the allocator keeps free to the system (jemalloc's
 * arena purge, or glibc's malloc_trim), so a later peak of the resident set
 * is a phase's own. */
void crescent_bench_trim_heap(void);

#endif
