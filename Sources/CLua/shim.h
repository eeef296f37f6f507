#ifndef CRESCENT_CLUA_SHIM_H
#define CRESCENT_CLUA_SHIM_H
#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>
#endif
