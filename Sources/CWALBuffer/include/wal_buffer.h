#ifndef CRESCENT_WAL_BUFFER_H
#define CRESCENT_WAL_BUFFER_H

/// Registers, once and as the default, an SQLite VFS that wraps the
/// platform's and gathers the writes SQLite makes to a write-ahead log into
/// large `pwrite` calls. SQLite writes each WAL frame as two calls (a 24-byte
/// header, then the page), so a commit of N pages costs 2N system calls;
/// gathered, it costs about one per MiB.
///
/// Nothing gathered is ever visible to another connection before it is
/// written: the buffer is written before SQLite publishes new frames (the
/// database file's shared-memory barrier and locks), and before any read,
/// sync, size query, truncation or close of the log. Returns an SQLite
/// result code (SQLITE_OK when registered, now or before).
int crescent_wal_buffer_register(void);

/// The number of `pwrite` calls the buffer saved so far (for benchmarks).
long long crescent_wal_buffer_saved_writes(void);

#endif
