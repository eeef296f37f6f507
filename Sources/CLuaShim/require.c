/*
 * `require` for rules: only Lua text files under the plugin folder, each in
 * its own environment over the frozen base; the result is shared read-only.
 */
#include "internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int valid_module_name(const char *name) {
    int start = 1;
    if (*name == '\0') return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        int digit = c >= '0' && c <= '9';
        if (c == '.') {
            if (start) return 0;
            start = 1;
        } else if (alpha || (digit && !start)) {
            start = 0;
        } else {
            return 0;
        }
    }
    return !start;
}

static int inside(const char *root, const char *path) {
    size_t n = strlen(root);
    return strncmp(root, path, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

int crescent_require(lua_State *L) {
    crescent_runtime *rt = crescent_rt(L);
    const char *name = luaL_checkstring(L, 1);
    if (!valid_module_name(name))
        return luaL_error(L, "module '%s' not found: module names are dotted identifiers "
                             "naming files under the plugin folder", name);
    lua_settop(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, CRESCENT_LOADED); /* 2 */
    lua_pushvalue(L, 1);
    int t = lua_rawget(L, 2);
    if (t == LUA_TLIGHTUSERDATA)
        return luaL_error(L, "module '%s' requires itself (require loop)", name);
    if (t != LUA_TNIL) return 1;
    lua_pop(L, 1);
    if (rt->plugin_dir[0] == '\0')
        return luaL_error(L, "module '%s' not found: no plugin folder is configured", name);

    char relative[PATH_MAX], path[PATH_MAX], real_root[PATH_MAX], real_file[PATH_MAX];
    snprintf(relative, sizeof relative, "%s", name);
    for (char *p = relative; *p; p++)
        if (*p == '.') *p = '/';
    snprintf(path, sizeof path, "%s/%s.lua", rt->plugin_dir, relative);
    struct stat st;
    if (realpath(rt->plugin_dir, real_root) == NULL || realpath(path, real_file) == NULL ||
        stat(real_file, &st) != 0 || !S_ISREG(st.st_mode))
        return luaL_error(L, "module '%s' not found: no file '%s'", name, path);
    if (!inside(real_root, real_file))
        return luaL_error(L, "module '%s' not found: '%s' leaves the plugin folder", name, path);
    if (rt->max_source_bytes && (size_t)st.st_size > rt->max_source_bytes)
        return luaL_error(L, "module '%s': file '%s' is too large (%I bytes; the limit is %I)",
                          name, path, (lua_Integer)st.st_size, (lua_Integer)rt->max_source_bytes);

    if (luaL_loadfilex(L, path, "t") != LUA_OK) return lua_error(L); /* 3 */
    crescent_push_environment(L);
    lua_setupvalue(L, 3, 1);
    lua_pushvalue(L, 1);
    lua_pushlightuserdata(L, (void *)&crescent_require); /* loading marker */
    lua_rawset(L, 2);
    lua_pushvalue(L, 1);
    int status = lua_pcall(L, 1, 1, 0);
    if (status != LUA_OK) {
        lua_pushvalue(L, 1);
        lua_pushnil(L);
        lua_rawset(L, 2);
        if (rt->killed) return crescent_raise_kill(L);
        return lua_error(L);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    crescent_push_frozen(L, -1);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -2);
    lua_rawset(L, 2);
    return 1;
}
