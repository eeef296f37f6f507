/*
 * string.find, string.match, string.gmatch and string.gsub over the bounded
 * matcher in pattern_match.c.
 */
#define _GNU_SOURCE
#include "pattern_match.h"

#include <ctype.h>
#include <string.h>

#define SPECIALS "^$*+?.([%-"

static size_t start_position(lua_Integer pos, size_t len) {
    if (pos > 0) return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len) return 1;
    return len + (size_t)pos + 1;
}

static int has_specials(const char *p, size_t lp) {
    for (size_t i = 0; i < lp; i++)
        if (p[i] != '\0' && strchr(SPECIALS, p[i]) != NULL) return 1;
    return 0;
}

static int find_or_match(lua_State *L, int find) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_position(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        lua_pushnil(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        const char *hit = lp == 0 ? s + init : memmem(s + init, ls - init, p, lp);
        if (hit != NULL) {
            lua_pushinteger(L, (hit - s) + 1);
            lua_pushinteger(L, (lua_Integer)((hit - s) + lp));
            return 2;
        }
        lua_pushnil(L);
        return 1;
    }
    Matcher m;
    const char *s1 = s + init;
    int anchor = (*p == '^');
    if (anchor) {
        p++;
        lp--;
    }
    pm_prepare(&m, L, s, ls, p, lp);
    do {
        pm_restart(&m);
        const char *e = pm_match(&m, s1, p);
        if (e != NULL) {
            pm_settle(&m);
            if (find) {
                lua_pushinteger(L, (s1 - s) + 1);
                lua_pushinteger(L, e - s);
                return pm_push_captures(&m, NULL, NULL) + 2;
            }
            return pm_push_captures(&m, s1, e);
        }
    } while (s1++ < m.src_end && !anchor);
    pm_settle(&m);
    lua_pushnil(L);
    return 1;
}

static int bounded_find(lua_State *L) { return find_or_match(L, 1); }
static int bounded_match(lua_State *L) { return find_or_match(L, 0); }

typedef struct {
    const char *src, *p, *last_match;
    Matcher m;
} GmatchState;

static int gmatch_next(lua_State *L) {
    GmatchState *gm = (GmatchState *)lua_touserdata(L, lua_upvalueindex(3));
    gm->m.L = L;
    gm->m.steps = 0;
    for (const char *src = gm->src; src <= gm->m.src_end; src++) {
        pm_restart(&gm->m);
        const char *e = pm_match(&gm->m, src, gm->p);
        if (e != NULL && e != gm->last_match) {
            gm->src = gm->last_match = e;
            pm_settle(&gm->m);
            return pm_push_captures(&gm->m, src, e);
        }
    }
    pm_settle(&gm->m);
    return 0;
}

static int bounded_gmatch(lua_State *L) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_position(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2);
    GmatchState *gm = (GmatchState *)lua_newuserdatauv(L, sizeof(GmatchState), 0);
    if (init > ls) init = ls + 1;
    pm_prepare(&gm->m, L, s, ls, p, lp);
    gm->src = s + init;
    gm->p = p;
    gm->last_match = NULL;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

static void add_string_replacement(Matcher *m, luaL_Buffer *b, const char *s, const char *e) {
    lua_State *L = m->L;
    size_t l;
    const char *news = lua_tolstring(L, 3, &l);
    const char *p;
    while ((p = memchr(news, '%', l)) != NULL) {
        luaL_addlstring(b, news, (size_t)(p - news));
        p++;
        if (*p == '%') {
            luaL_addchar(b, *p);
        } else if (isdigit(uchar(*p))) {
            if (*p == '0') {
                luaL_addlstring(b, s, (size_t)(e - s));
            } else {
                pm_push_one_capture(m, *p - '1', s, e);
                luaL_tolstring(L, -1, NULL);
                lua_remove(L, -2);
                luaL_addvalue(b);
            }
        } else {
            luaL_error(L, "invalid use of '%%' in replacement string");
        }
        l -= (size_t)(p + 1 - news);
        news = p + 1;
    }
    luaL_addlstring(b, news, l);
}

static void add_replacement(Matcher *m, luaL_Buffer *b, const char *s, const char *e, int kind) {
    lua_State *L = m->L;
    if (kind == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = pm_push_captures(m, s, e);
        lua_call(L, n, 1);
    } else if (kind == LUA_TTABLE) {
        pm_push_one_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_string_replacement(m, b, s, e);
        return;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    } else {
        luaL_addvalue(b);
    }
}

static int bounded_gsub(lua_State *L) {
    size_t srcl, lp;
    const char *src = luaL_checklstring(L, 1, &srcl);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *last_match = NULL;
    int kind = lua_type(L, 3);
    lua_Integer max_n = luaL_optinteger(L, 4, (lua_Integer)srcl + 1);
    int anchor = (*p == '^');
    lua_Integer n = 0;
    luaL_argexpected(L, kind == LUA_TNUMBER || kind == LUA_TSTRING || kind == LUA_TFUNCTION ||
                            kind == LUA_TTABLE, 3, "string/function/table");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (anchor) {
        p++;
        lp--;
    }
    Matcher m;
    pm_prepare(&m, L, src, srcl, p, lp);
    while (n < max_n) {
        pm_restart(&m);
        const char *e = pm_match(&m, src, p);
        if (e != NULL && e != last_match) {
            n++;
            add_replacement(&m, &b, src, e, kind);
            src = last_match = e;
        } else if (src < m.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor) break;
    }
    pm_settle(&m);
    luaL_addlstring(&b, src, (size_t)(m.src_end - src));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}

void crescent_open_patterns(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"find", bounded_find},
        {"match", bounded_match},
        {"gmatch", bounded_gmatch},
        {"gsub", bounded_gsub},
        {NULL, NULL},
    };
    luaL_setfuncs(L, functions, 0);
}
