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
#include "pattern_match.h"

#include <ctype.h>
#include <string.h>


const char *pm_match(Matcher *m, const char *s, const char *p);

static void step(Matcher *m) {
    if (++m->steps > m->step_limit)
        luaL_error(m->L, "pattern too complex (more than %I matching steps)",
                   (lua_Integer)m->step_limit);
    if (++m->uncharged >= 4096) {
        crescent_charge(m->L, m->uncharged);
        m->uncharged = 0;
    }
}

void pm_prepare(Matcher *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp) {
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

void pm_restart(Matcher *m) {
    m->level = 0;
    m->depth = MAX_DEPTH;
}

void pm_settle(Matcher *m) {
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
        const char *res = pm_match(m, s + i, ep + 1);
        if (res) return res;
    }
    return NULL;
}

static const char *min_expand(Matcher *m, const char *s, const char *p, const char *ep) {
    for (;;) {
        const char *res = pm_match(m, s, ep + 1);
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
    const char *res = pm_match(m, s, p);
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
    const char *res = pm_match(m, s, p);
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

const char *pm_match(Matcher *m, const char *s, const char *p) {
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
                    const char *res = pm_match(m, s + 1, ep + 1);
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

void pm_push_one_capture(Matcher *m, int i, const char *s, const char *e) {
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

int pm_push_captures(Matcher *m, const char *s, const char *e) {
    int n = (m->level == 0 && s != NULL) ? 1 : m->level;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++) pm_push_one_capture(m, i, s, e);
    return n;
}

