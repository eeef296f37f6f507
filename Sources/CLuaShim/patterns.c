/*
 * Bounded Lua patterns: string.find, string.match, string.gmatch and
 * string.gsub with Lua 5.4's pattern syntax, written for Crescent so that
 * every matching step is counted. A call may take at most
 * max(pattern_min_steps, 32 x subject length) steps, and its steps are
 * charged to the instruction budget (which also checks the deadline), so a
 * backtracking pattern such as ("a?"):rep(28)..("a"):rep(28) ends in
 * milliseconds with "pattern too complex" instead of running for minutes.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <ctype.h>
#include <string.h>

#define MAX_CAPTURES 32
#define MAX_DEPTH 200
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)
#define SPECIALS "^$*+?.([%-"

typedef struct {
    const char *src_init, *src_end, *p_end;
    lua_State *L;
    int depth, level;
    long long steps, step_limit, uncharged;
    struct {
        const char *init;
        ptrdiff_t len;
    } capture[MAX_CAPTURES];
} Matcher;

#define uchar(c) ((unsigned char)(c))

static const char *match(Matcher *m, const char *s, const char *p);

static void step(Matcher *m) {
    if (++m->steps > m->step_limit)
        luaL_error(m->L, "pattern too complex (more than %I matching steps)",
                   (lua_Integer)m->step_limit);
    if (++m->uncharged >= 4096) {
        crescent_charge(m->L, m->uncharged);
        m->uncharged = 0;
    }
}

static void prepare(Matcher *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp) {
    long long floor = crescent_rt(L)->pattern_min_steps;
    long long scaled = (long long)ls * 32;
    m->L = L;
    m->src_init = s;
    m->src_end = s + ls;
    m->p_end = p + lp;
    m->steps = 0;
    m->uncharged = 0;
    m->step_limit = scaled > floor ? scaled : floor;
}

static void restart(Matcher *m) {
    m->level = 0;
    m->depth = MAX_DEPTH;
}

static void settle(Matcher *m) {
    if (m->uncharged > 0) crescent_charge(m->L, m->uncharged);
    m->uncharged = 0;
}

static const char *class_end(Matcher *m, const char *p) {
    char c = *p++;
    if (c == '%') {
        if (p >= m->p_end) luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (*p == '^') p++;
        do {
            if (p >= m->p_end) luaL_error(m->L, "malformed pattern (missing ']')");
            c = *p++;
            if (c == '%' && p < m->p_end) p++;
        } while (*p != ']');
        return p + 1;
    }
    return p;
}

static int match_class(int c, int cl) {
    int res;
    switch (tolower(cl)) {
    case 'a': res = isalpha(c); break;
    case 'c': res = iscntrl(c); break;
    case 'd': res = isdigit(c); break;
    case 'g': res = isgraph(c); break;
    case 'l': res = islower(c); break;
    case 'p': res = ispunct(c); break;
    case 's': res = isspace(c); break;
    case 'u': res = isupper(c); break;
    case 'w': res = isalnum(c); break;
    case 'x': res = isxdigit(c); break;
    default: return cl == c;
    }
    if (isupper(cl)) res = !res;
    return res;
}

/* p points at '[', last at the closing ']'. */
static int match_bracket(int c, const char *p, const char *last) {
    int accept = 1;
    if (*(p + 1) == '^') {
        accept = 0;
        p++;
    }
    while (++p < last) {
        if (*p == '%') {
            p++;
            if (match_class(c, uchar(*p))) return accept;
        } else if (*(p + 1) == '-' && p + 2 < last) {
            p += 2;
            if (uchar(*(p - 2)) <= c && c <= uchar(*p)) return accept;
        } else if (uchar(*p) == c) {
            return accept;
        }
    }
    return !accept;
}

static int single_match(Matcher *m, const char *s, const char *p, const char *ep) {
    if (s >= m->src_end) return 0;
    int c = uchar(*s);
    switch (*p) {
    case '.': return 1;
    case '%': return match_class(c, uchar(*(p + 1)));
    case '[': return match_bracket(c, p, ep - 1);
    default: return uchar(*p) == c;
    }
}

static const char *match_balance(Matcher *m, const char *s, const char *p) {
    if (p + 1 >= m->p_end) luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->src_end || *s != *p) return NULL;
    int open = *p, close = *(p + 1), depth = 1;
    while (++s < m->src_end) {
        step(m);
        if (*s == close) {
            if (--depth == 0) return s + 1;
        } else if (*s == open) {
            depth++;
        }
    }
    return NULL;
}

static const char *max_expand(Matcher *m, const char *s, const char *p, const char *ep) {
    ptrdiff_t i = 0;
    while (single_match(m, s + i, p, ep)) {
        i++;
        step(m);
    }
    for (; i >= 0; i--) {
        const char *res = match(m, s + i, ep + 1);
        if (res) return res;
    }
    return NULL;
}

static const char *min_expand(Matcher *m, const char *s, const char *p, const char *ep) {
    for (;;) {
        const char *res = match(m, s, ep + 1);
        if (res) return res;
        if (!single_match(m, s, p, ep)) return NULL;
        s++;
    }
}

static const char *start_capture(Matcher *m, const char *s, const char *p, int what) {
    if (m->level >= MAX_CAPTURES) luaL_error(m->L, "too many captures");
    m->capture[m->level].init = s;
    m->capture[m->level].len = what;
    m->level++;
    const char *res = match(m, s, p);
    if (res == NULL) m->level--;
    return res;
}

static const char *end_capture(Matcher *m, const char *s, const char *p) {
    int l = -1;
    for (int i = m->level - 1; i >= 0; i--)
        if (m->capture[i].len == CAP_UNFINISHED) {
            l = i;
            break;
        }
    if (l < 0) luaL_error(m->L, "invalid pattern capture");
    m->capture[l].len = s - m->capture[l].init;
    const char *res = match(m, s, p);
    if (res == NULL) m->capture[l].len = CAP_UNFINISHED;
    return res;
}

static int capture_index(Matcher *m, int digit) {
    int l = digit - '1';
    if (l < 0 || l >= m->level || m->capture[l].len == CAP_UNFINISHED)
        luaL_error(m->L, "invalid capture index %%%d", l + 1);
    return l;
}

static const char *match_capture(Matcher *m, const char *s, int digit) {
    int l = capture_index(m, digit);
    size_t len = (size_t)m->capture[l].len;
    if ((size_t)(m->src_end - s) >= len && memcmp(m->capture[l].init, s, len) == 0)
        return s + len;
    return NULL;
}

static const char *match(Matcher *m, const char *s, const char *p) {
    if (m->depth-- == 0) luaL_error(m->L, "pattern too complex");
    step(m);
    while (p != m->p_end) {
        switch (*p) {
        case '(':
            if (*(p + 1) == ')')
                s = start_capture(m, s, p + 2, CAP_POSITION);
            else
                s = start_capture(m, s, p + 1, CAP_UNFINISHED);
            goto done;
        case ')':
            s = end_capture(m, s, p + 1);
            goto done;
        case '$':
            if (p + 1 != m->p_end) goto single;
            s = (s == m->src_end) ? s : NULL;
            goto done;
        case '%':
            switch (*(p + 1)) {
            case 'b':
                s = match_balance(m, s, p + 2);
                if (s != NULL) {
                    p += 4;
                    continue;
                }
                goto done;
            case 'f': {
                p += 2;
                if (*p != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
                const char *ep = class_end(m, p);
                int prev = (s == m->src_init) ? '\0' : uchar(*(s - 1));
                int cur = (s < m->src_end) ? uchar(*s) : '\0';
                if (!match_bracket(prev, p, ep - 1) && match_bracket(cur, p, ep - 1)) {
                    p = ep;
                    continue;
                }
                s = NULL;
                goto done;
            }
            case '0': case '1': case '2': case '3': case '4':
            case '5': case '6': case '7': case '8': case '9':
                s = match_capture(m, s, uchar(*(p + 1)));
                if (s != NULL) {
                    p += 2;
                    continue;
                }
                goto done;
            default:
                goto single;
            }
        default:
        single: {
            const char *ep = class_end(m, p);
            if (!single_match(m, s, p, ep)) {
                if (*ep == '*' || *ep == '?' || *ep == '-') {
                    p = ep + 1;
                    continue;
                }
                s = NULL;
            } else {
                switch (*ep) {
                case '?': {
                    const char *res = match(m, s + 1, ep + 1);
                    if (res != NULL) {
                        s = res;
                    } else {
                        p = ep + 1;
                        continue;
                    }
                    break;
                }
                case '+': s = max_expand(m, s + 1, p, ep); break;
                case '*': s = max_expand(m, s, p, ep); break;
                case '-': s = min_expand(m, s, p, ep); break;
                default:
                    s++;
                    p = ep;
                    continue;
                }
            }
            goto done;
        }
        }
    }
done:
    m->depth++;
    return s;
}

static void push_one_capture(Matcher *m, int i, const char *s, const char *e) {
    if (i >= m->level) {
        if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t len = m->capture[i].len;
    if (len == CAP_UNFINISHED) luaL_error(m->L, "unfinished capture");
    if (len == CAP_POSITION)
        lua_pushinteger(m->L, (m->capture[i].init - m->src_init) + 1);
    else
        lua_pushlstring(m->L, m->capture[i].init, (size_t)len);
}

static int push_captures(Matcher *m, const char *s, const char *e) {
    int n = (m->level == 0 && s != NULL) ? 1 : m->level;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++) push_one_capture(m, i, s, e);
    return n;
}

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
    prepare(&m, L, s, ls, p, lp);
    do {
        restart(&m);
        const char *e = match(&m, s1, p);
        if (e != NULL) {
            settle(&m);
            if (find) {
                lua_pushinteger(L, (s1 - s) + 1);
                lua_pushinteger(L, e - s);
                return push_captures(&m, NULL, NULL) + 2;
            }
            return push_captures(&m, s1, e);
        }
    } while (s1++ < m.src_end && !anchor);
    settle(&m);
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
        restart(&gm->m);
        const char *e = match(&gm->m, src, gm->p);
        if (e != NULL && e != gm->last_match) {
            gm->src = gm->last_match = e;
            settle(&gm->m);
            return push_captures(&gm->m, src, e);
        }
    }
    settle(&gm->m);
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
    prepare(&gm->m, L, s, ls, p, lp);
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
                push_one_capture(m, *p - '1', s, e);
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
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);
    } else if (kind == LUA_TTABLE) {
        push_one_capture(m, 0, s, e);
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
    prepare(&m, L, src, srcl, p, lp);
    while (n < max_n) {
        restart(&m);
        const char *e = match(&m, src, p);
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
    settle(&m);
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
