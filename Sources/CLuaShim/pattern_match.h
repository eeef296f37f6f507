/* Crescent's bounded matcher for Lua 5.4 patterns (shared by pattern_match.c
 * and the string functions in pattern_lib.c). */
#ifndef CRESCENT_PATTERN_MATCH_H
#define CRESCENT_PATTERN_MATCH_H

#include "internal.h"

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

/* Sets up a matcher over subject `s` and pattern `p` (step limit included). */
void pm_prepare(Matcher *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp);
/* Resets captures and depth before each match attempt. */
void pm_restart(Matcher *m);
/* Charges the steps not yet counted against the budget. */
void pm_settle(Matcher *m);
/* Matches `p` at `s`; returns the end of the match or NULL. */
const char *pm_match(Matcher *m, const char *s, const char *p);
void pm_push_one_capture(Matcher *m, int i, const char *s, const char *e);
int pm_push_captures(Matcher *m, const char *s, const char *e);

#define uchar(c) ((unsigned char)(c))

#endif
