#ifndef CRESCENT_PAGE_CACHE_H
#define CRESCENT_PAGE_CACHE_H

/// Installs, once per process and before SQLite is initialized, a page
/// cache (done when the program loads; calling it again is harmless) that wraps SQLite's own (pcache1) and spares each commit a scan of
/// the whole cache.
///
/// When a B-tree page splits, SQLite 3.40 renumbers pages through a
/// temporary number, the lock-byte page's (262,145 with 4 KiB pages). The
/// cache then holds a page number above the database's size, and at the end
/// of the transaction SQLite asks the cache to drop every page above the
/// size: pcache1 does it by walking its whole hash table, every page in the
/// cache (16,384 with 64 MiB), once per commit that split a page. This
/// wrapper keeps the largest page number it has seen other than the
/// lock-byte page's; when nothing but that page can be above the limit, it
/// drops that one page instead.
///
/// Returns an SQLite result code: SQLITE_OK when installed (now or before),
/// SQLITE_MISUSE when SQLite was initialized first (SQLite's own cache then
/// stays, which is correct, only slower).
int crescent_page_cache_install(void);

/// Whole-cache scans this wrapper avoided so far (for benchmarks and tests).
long long crescent_page_cache_saved_scans(void);

#endif
