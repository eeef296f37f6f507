/* A lean open-loop HTTP/1.1 load generator for `make bench`: requests sent
 * at a fixed rate over keep-alive connections from one thread, so the
 * client takes little of the two cores it shares with the server (the
 * benchmark's AsyncHTTPClient checkout used about 320 µs of CPU a request). */
#ifndef CRESCENT_FIXED_RATE_H
#define CRESCENT_FIXED_RATE_H

#include <stddef.h>

/* What happened to one request. */
typedef struct {
    /* When it was due, in seconds from the start. */
    double scheduled_s;
    /* From when it was due to its whole answer, in milliseconds (a request
     * that waited for a free connection counts the wait). */
    double latency_ms;
    /* The answer's `Server-Timing` `total;dur=`, in milliseconds, or -1. */
    double server_ms;
    /* The HTTP status, or 0 when no answer came. */
    int status;
} crescent_load_result;

/* Opens `connections` connections to 127.0.0.1:`port` and sends warm-up
 * request k (warmups[k], warmup_lengths[k] bytes) on connection k, waiting
 * for every answer; then sends request i (requests[i], lengths[i] bytes: a
 * whole HTTP/1.1 request, keep-alive) when it is due, at i / `rate` seconds
 * from the start, on a connection with no request in flight (or as soon as
 * one is free), and records it in results[i]. A request unanswered 30 s after
 * the last is due fails (status 0). A `rate` of 0 or less sends as fast as
 * the connections are answered (a closed loop: each connection a sender
 * with one request in flight); then 30 s without any answer fails.
 * `cpu_seconds` gets the CPU time the generator's thread used from the
 * start of the clock. Returns 0, or -1 with a message in `error` when a
 * connection cannot be opened or breaks, or a warm-up is not answered 200. */
int crescent_load_fixed_rate(int port, int connections, double rate,
                             const char *const *warmups, const size_t *warmup_lengths,
                             const char *const *requests, const size_t *lengths, int count,
                             crescent_load_result *results, double *cpu_seconds, char *error, size_t error_size);

#endif
