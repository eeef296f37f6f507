// A VFS shim that coalesces the writes SQLite makes to WAL files.
// See include/wal_buffer.h for what it guarantees.
#include "wal_buffer.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The unix VFS writes at most 128 KiB - 1 per call (it masks larger sizes),
// so the buffer stays below that: 31 pages of 4 KiB.
enum { BUFFER_CAPACITY = 31 * 4096, FRAME_HEADER_SIZE = 24, LOG_HEADER_SIZE = 32 };

typedef struct BufferedFile BufferedFile;
struct BufferedFile {
    sqlite3_file base;          // pMethods: ours (or NULL when the open failed)
    sqlite3_file *real;         // the wrapped file, stored right after this struct
    int isWal;
    BufferedFile *wal;          // a database file: its connection's open log, if any
    BufferedFile *db;           // a log: the database file it belongs to
    unsigned char *buffer;      // a log: writes not yet passed on, contiguous from bufferStart
    sqlite3_int64 bufferStart;
    int bufferLength;
    int commitFrame;            // a log: the last write was the header of a transaction's commit frame
};

static sqlite3_vfs *parent;
static sqlite3_vfs shim;
static sqlite3_io_methods methods;
static atomic_llong savedWrites;

long long crescent_wal_buffer_saved_writes(void) { return atomic_load(&savedWrites); }

/// Passes the gathered writes on in one call.
static int flush(BufferedFile *f) {
    if (f == NULL || f->bufferLength == 0) return SQLITE_OK;
    int length = f->bufferLength;
    f->bufferLength = 0;
    return f->real->pMethods->xWrite(f->real, f->buffer, length, f->bufferStart);
}

static int flushLog(BufferedFile *db) { return db->wal ? flush(db->wal) : SQLITE_OK; }

/// Whether a write to a log is the header of a commit frame: SQLite writes
/// the frame's page next, then publishes the transaction.
static int isCommitFrameHeader(const void *data, int amount, sqlite3_int64 offset) {
    if (amount != FRAME_HEADER_SIZE || offset < LOG_HEADER_SIZE) return 0;
    const unsigned char *bytes = data;
    return (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0; // the database size after commit
}

static int xClose(sqlite3_file *file) {
    BufferedFile *f = (BufferedFile *)file;
    int rc = SQLITE_OK;
    if (f->isWal) {
        rc = flush(f);
        if (f->db && f->db->wal == f) f->db->wal = NULL;
        sqlite3_free(f->buffer);
        f->buffer = NULL;
    } else if (f->wal) {
        rc = flush(f->wal);
        f->wal->db = NULL;
        f->wal = NULL;
    }
    int closed = f->real->pMethods->xClose(f->real);
    return rc != SQLITE_OK ? rc : closed;
}

static int xRead(sqlite3_file *file, void *out, int amount, sqlite3_int64 offset) {
    BufferedFile *f = (BufferedFile *)file;
    if (f->isWal) {
        int rc = flush(f);
        if (rc != SQLITE_OK) return rc;
    }
    return f->real->pMethods->xRead(f->real, out, amount, offset);
}

static int xWrite(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset) {
    BufferedFile *f = (BufferedFile *)file;
    if (!f->isWal) return f->real->pMethods->xWrite(f->real, data, amount, offset);
    if (f->buffer == NULL) {
        f->buffer = sqlite3_malloc(BUFFER_CAPACITY);
        if (f->buffer == NULL) return f->real->pMethods->xWrite(f->real, data, amount, offset);
    }
    int contiguous = f->bufferLength > 0 && offset == f->bufferStart + f->bufferLength;
    if (!contiguous || f->bufferLength + amount > BUFFER_CAPACITY) {
        int rc = flush(f);
        if (rc != SQLITE_OK) return rc;
    }
    int completesCommit = f->commitFrame;
    f->commitFrame = isCommitFrameHeader(data, amount, offset);
    if (amount > BUFFER_CAPACITY) return f->real->pMethods->xWrite(f->real, data, amount, offset);
    if (f->bufferLength == 0) {
        f->bufferStart = offset;
    } else {
        atomic_fetch_add(&savedWrites, 1);
    }
    memcpy(f->buffer + f->bufferLength, data, (size_t)amount);
    f->bufferLength += amount;
    // The commit frame's page is the transaction's last write: pass it on
    // now, so that a failure fails the commit the way an unbuffered write would.
    return completesCommit ? flush(f) : SQLITE_OK;
}

static int xTruncate(sqlite3_file *file, sqlite3_int64 size) {
    BufferedFile *f = (BufferedFile *)file;
    int rc = f->isWal ? flush(f) : SQLITE_OK;
    return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int xSync(sqlite3_file *file, int flags) {
    BufferedFile *f = (BufferedFile *)file;
    int rc = f->isWal ? flush(f) : flushLog(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int xFileSize(sqlite3_file *file, sqlite3_int64 *size) {
    BufferedFile *f = (BufferedFile *)file;
    int rc = f->isWal ? flush(f) : SQLITE_OK;
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int xLock(sqlite3_file *file, int level) {
    BufferedFile *f = (BufferedFile *)file;
    int rc = f->isWal ? SQLITE_OK : flushLog(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xLock(f->real, level);
}

static int xUnlock(sqlite3_file *file, int level) {
    BufferedFile *f = (BufferedFile *)file;
    int rc = f->isWal ? SQLITE_OK : flushLog(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xUnlock(f->real, level);
}

static int xCheckReservedLock(sqlite3_file *file, int *out) {
    BufferedFile *f = (BufferedFile *)file;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int xFileControl(sqlite3_file *file, int op, void *arg) {
    BufferedFile *f = (BufferedFile *)file;
    int rc = f->isWal ? flush(f) : flushLog(f);
    if (rc != SQLITE_OK) return rc;
    if (op == SQLITE_FCNTL_VFSNAME) {
        rc = f->real->pMethods->xFileControl(f->real, op, arg);
        if (rc == SQLITE_OK && arg) {
            char *inner = *(char **)arg;
            *(char **)arg = sqlite3_mprintf("crescent-wal-buffer/%z", inner);
        }
        return rc;
    }
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int xSectorSize(sqlite3_file *file) {
    BufferedFile *f = (BufferedFile *)file;
    return f->real->pMethods->xSectorSize(f->real);
}

static int xDeviceCharacteristics(sqlite3_file *file) {
    BufferedFile *f = (BufferedFile *)file;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

// The shared-memory calls are made on the database file; SQLite publishes
// new log frames through them, so the log's buffer is written first.
static int xShmMap(sqlite3_file *file, int region, int size, int extend, void volatile **out) {
    BufferedFile *f = (BufferedFile *)file;
    int rc = flushLog(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xShmMap(f->real, region, size, extend, out);
}

static int xShmLock(sqlite3_file *file, int offset, int n, int flags) {
    BufferedFile *f = (BufferedFile *)file;
    int rc = flushLog(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void xShmBarrier(sqlite3_file *file) {
    BufferedFile *f = (BufferedFile *)file;
    // Normally empty: the commit frame's write flushed it. SQLite publishes
    // the frames right after this barrier and cannot be told of a failure
    // here, and a published frame missing from the log would be read as
    // whatever the file holds there. Stopping is the safe answer: the
    // half-written header makes the next open recover from the log itself.
    if (flushLog(f) != SQLITE_OK) {
        fprintf(stderr, "crescent: cannot write the SQLite write-ahead log; stopping before the commit is published\n");
        abort();
    }
    f->real->pMethods->xShmBarrier(f->real);
}

static int xShmUnmap(sqlite3_file *file, int deleteFlag) {
    BufferedFile *f = (BufferedFile *)file;
    int rc = flushLog(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xShmUnmap(f->real, deleteFlag);
}

static int xFetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **out) {
    BufferedFile *f = (BufferedFile *)file;
    int rc = f->isWal ? flush(f) : SQLITE_OK;
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFetch(f->real, offset, amount, out);
}

static int xUnfetch(sqlite3_file *file, sqlite3_int64 offset, void *p) {
    BufferedFile *f = (BufferedFile *)file;
    return f->real->pMethods->xUnfetch(f->real, offset, p);
}

static int xOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *outFlags) {
    (void)vfs;
    BufferedFile *f = (BufferedFile *)file;
    memset(f, 0, sizeof(BufferedFile));
    f->real = (sqlite3_file *)(f + 1);
    int rc = parent->xOpen(parent, name, f->real, flags, outFlags);
    if (f->real->pMethods == NULL) {
        f->base.pMethods = NULL;
        return rc;
    }
    f->base.pMethods = &methods;
    if (rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) && name) {
        sqlite3_file *db = sqlite3_database_file_object(name);
        if (db && db->pMethods == &methods) {
            f->isWal = 1;
            f->db = (BufferedFile *)db;
            f->db->wal = f;
        }
    }
    return rc;
}

// The rest of the VFS is the parent's.
static int xDelete(sqlite3_vfs *v, const char *n, int s) { (void)v; return parent->xDelete(parent, n, s); }
static int xAccess(sqlite3_vfs *v, const char *n, int fl, int *o) { (void)v; return parent->xAccess(parent, n, fl, o); }
static int xFullPathname(sqlite3_vfs *v, const char *n, int size, char *o) { (void)v; return parent->xFullPathname(parent, n, size, o); }
static void *xDlOpen(sqlite3_vfs *v, const char *n) { (void)v; return parent->xDlOpen(parent, n); }
static void xDlError(sqlite3_vfs *v, int n, char *m) { (void)v; parent->xDlError(parent, n, m); }
static void (*xDlSym(sqlite3_vfs *v, void *h, const char *s))(void) { (void)v; return parent->xDlSym(parent, h, s); }
static void xDlClose(sqlite3_vfs *v, void *h) { (void)v; parent->xDlClose(parent, h); }
static int xRandomness(sqlite3_vfs *v, int n, char *o) { (void)v; return parent->xRandomness(parent, n, o); }
static int xSleep(sqlite3_vfs *v, int us) { (void)v; return parent->xSleep(parent, us); }
static int xCurrentTime(sqlite3_vfs *v, double *o) { (void)v; return parent->xCurrentTime(parent, o); }
static int xGetLastError(sqlite3_vfs *v, int n, char *o) { (void)v; return parent->xGetLastError(parent, n, o); }
static int xCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *o) { (void)v; return parent->xCurrentTimeInt64(parent, o); }

static int registration = SQLITE_ERROR;

static void registerOnce(void) {
    if (sqlite3_initialize() != SQLITE_OK) return;
    parent = sqlite3_vfs_find(NULL);
    if (parent == NULL || parent->iVersion < 2) return;
    methods = (sqlite3_io_methods){
        .iVersion = 3, .xClose = xClose, .xRead = xRead, .xWrite = xWrite, .xTruncate = xTruncate, .xSync = xSync,
        .xFileSize = xFileSize, .xLock = xLock, .xUnlock = xUnlock, .xCheckReservedLock = xCheckReservedLock,
        .xFileControl = xFileControl, .xSectorSize = xSectorSize, .xDeviceCharacteristics = xDeviceCharacteristics,
        .xShmMap = xShmMap, .xShmLock = xShmLock, .xShmBarrier = xShmBarrier, .xShmUnmap = xShmUnmap,
        .xFetch = xFetch, .xUnfetch = xUnfetch,
    };
    shim = (sqlite3_vfs){
        .iVersion = 2, .szOsFile = (int)sizeof(BufferedFile) + parent->szOsFile, .mxPathname = parent->mxPathname,
        .zName = "crescent-wal-buffer", .xOpen = xOpen, .xDelete = xDelete, .xAccess = xAccess,
        .xFullPathname = xFullPathname, .xDlOpen = xDlOpen, .xDlError = xDlError, .xDlSym = xDlSym,
        .xDlClose = xDlClose, .xRandomness = xRandomness, .xSleep = xSleep, .xCurrentTime = xCurrentTime,
        .xGetLastError = xGetLastError, .xCurrentTimeInt64 = xCurrentTimeInt64,
    };
    registration = sqlite3_vfs_register(&shim, 1);
}

int crescent_wal_buffer_register(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, registerOnce);
    return registration;
}
