/* Declarations shared by the shim's C files; not part of the public header. */
#ifndef CRESCENT_SHIM_INTERNAL_H
#define CRESCENT_SHIM_INTERNAL_H

#include <stddef.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "crescent_shim.h"

/* Registry keys. */
#define CRESCENT_BASE "crescent.base"
#define CRESCENT_FROZEN "crescent.frozen"
#define CRESCENT_LOADED "crescent.loaded"
#define CRESCENT_FROZEN_MT "crescent.frozen_mt"
#define CRESCENT_GUARD_MT "crescent.guard_mt"

const char *crescent_kill_message(crescent_runtime *rt, char *buf, size_t n);
int crescent_raise_kill(lua_State *L);
void crescent_install_hook(lua_State *L);
int crescent_is_frozen(lua_State *L, int index);
/* Pushes a read-only proxy of the table at `index`; `shallow` proxies index
 * the real table directly (only for tables of functions and numbers). */
void crescent_push_proxy(lua_State *L, int index, int shallow);
void crescent_make_weak_registry_table(lua_State *L, const char *name, const char *mode);
lua_Hook crescent_hook_function(void);

#endif
