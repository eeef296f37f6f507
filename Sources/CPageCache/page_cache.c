// A page cache over SQLite's default one that avoids whole-cache scans when
// a transaction ends. See include/page_cache.h for why.
#include "page_cache.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// SQLite's PENDING_BYTE: the lock-byte page is the one holding it.
enum { PENDING_BYTE = 0x40000000 };

typedef struct WrappedCache WrappedCache;
struct WrappedCache {
    sqlite3_pcache *inner;
    unsigned lockPage;  // the lock-byte page's number for this page size
    unsigned maxKey;    // at least every key in the cache but lockPage (an over-estimate is safe)
};

static sqlite3_pcache_methods2 inner;
static atomic_llong savedScans;
static int installResult = SQLITE_OK;

long long crescent_page_cache_saved_scans(void) { return atomic_load(&savedScans); }

static int wrapInit(void *arg) { return inner.xInit ? inner.xInit(inner.pArg) : SQLITE_OK; }

static void wrapShutdown(void *arg) {
    if (inner.xShutdown) inner.xShutdown(inner.pArg);
}

static sqlite3_pcache *wrapCreate(int pageSize, int extraSize, int purgeable) {
    WrappedCache *cache = sqlite3_malloc(sizeof(WrappedCache));
    if (cache == NULL) return NULL;
    cache->inner = inner.xCreate(pageSize, extraSize, purgeable);
    if (cache->inner == NULL) {
        sqlite3_free(cache);
        return NULL;
    }
    cache->lockPage = pageSize > 0 ? (unsigned)(PENDING_BYTE / pageSize) + 1 : 0;
    cache->maxKey = 0;
    return (sqlite3_pcache *)cache;
}

static void wrapCachesize(sqlite3_pcache *p, int size) { inner.xCachesize(((WrappedCache *)p)->inner, size); }

static int wrapPagecount(sqlite3_pcache *p) { return inner.xPagecount(((WrappedCache *)p)->inner); }

static void noteKey(WrappedCache *cache, unsigned key) {
    if (key != cache->lockPage && key > cache->maxKey) cache->maxKey = key;
}

static sqlite3_pcache_page *wrapFetch(sqlite3_pcache *p, unsigned key, int create) {
    WrappedCache *cache = (WrappedCache *)p;
    sqlite3_pcache_page *page = inner.xFetch(cache->inner, key, create);
    if (page != NULL) noteKey(cache, key);
    return page;
}

static void wrapUnpin(sqlite3_pcache *p, sqlite3_pcache_page *page, int discard) {
    inner.xUnpin(((WrappedCache *)p)->inner, page, discard);
}

static void wrapRekey(sqlite3_pcache *p, sqlite3_pcache_page *page, unsigned oldKey, unsigned newKey) {
    WrappedCache *cache = (WrappedCache *)p;
    inner.xRekey(cache->inner, page, oldKey, newKey);
    noteKey(cache, newKey);
}

static void wrapTruncate(sqlite3_pcache *p, unsigned limit) {
    WrappedCache *cache = (WrappedCache *)p;
    if (cache->maxKey < limit) {
        // No page but (perhaps) the lock-byte page's is at or above the
        // limit: drop that one rather than let pcache1 walk every page.
        if (cache->lockPage >= limit) {
            sqlite3_pcache_page *page = inner.xFetch(cache->inner, cache->lockPage, 0);
            if (page != NULL) inner.xUnpin(cache->inner, page, 1);
            atomic_fetch_add(&savedScans, 1);
        }
        return;
    }
    inner.xTruncate(cache->inner, limit);
    cache->maxKey = limit > 0 ? limit - 1 : 0;
}

static void wrapDestroy(sqlite3_pcache *p) {
    WrappedCache *cache = (WrappedCache *)p;
    inner.xDestroy(cache->inner);
    sqlite3_free(cache);
}

static void wrapShrink(sqlite3_pcache *p) {
    if (inner.xShrink) inner.xShrink(((WrappedCache *)p)->inner);
}

static void install(void) {
    int rc = sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &inner);
    if (rc != SQLITE_OK || inner.xCreate == NULL) {
        installResult = rc != SQLITE_OK ? rc : SQLITE_ERROR;
        return;
    }
    static sqlite3_pcache_methods2 wrapper;
    wrapper.iVersion = 1;
    wrapper.pArg = NULL;
    wrapper.xInit = wrapInit;
    wrapper.xShutdown = wrapShutdown;
    wrapper.xCreate = wrapCreate;
    wrapper.xCachesize = wrapCachesize;
    wrapper.xPagecount = wrapPagecount;
    wrapper.xFetch = wrapFetch;
    wrapper.xUnpin = wrapUnpin;
    wrapper.xRekey = wrapRekey;
    wrapper.xTruncate = wrapTruncate;
    wrapper.xDestroy = wrapDestroy;
    wrapper.xShrink = inner.xShrink ? wrapShrink : NULL;
    installResult = sqlite3_config(SQLITE_CONFIG_PCACHE2, &wrapper);
}

int crescent_page_cache_install(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install);
    return installResult;
}

// Installed when the program loads, before anything can open a database
// (SQLite takes a page cache only before it initializes). Set
// CRESCENT_SQLITE_PAGE_CACHE=default to keep SQLite's own.
//
// Also before SQLite initializes: no per-connection mutex (GRDB hands each
// connection to one thread at a time through its own serial queue, and
// documents that it supports only this multi-thread mode), and no memory
// statistics (each allocation would take a global mutex to count itself).
// Together these were about 5% of the commit thread. Set
// CRESCENT_SQLITE_SERIALIZED=1 to keep SQLite's defaults.
__attribute__((constructor)) static void installAtLoad(void) {
    if (getenv("CRESCENT_SQLITE_SERIALIZED") == NULL) {
        sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    }
    const char *choice = getenv("CRESCENT_SQLITE_PAGE_CACHE");
    if (choice == NULL || strcmp(choice, "default") != 0) crescent_page_cache_install();
}
