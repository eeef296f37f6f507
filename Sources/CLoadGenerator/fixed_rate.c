#define _GNU_SOURCE
#include "fixed_rate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { BUFFER_SIZE = 1 << 16 };

/* One keep-alive connection and the answer it is reading. */
typedef struct {
    int fd;
    int request;          /* the request in flight, -1 none, -2 a warm-up */
    size_t filled;
    char buffer[BUFFER_SIZE];
} connection;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int fail(char *error, size_t size, const char *what) {
    snprintf(error, size, "%s: %s", what, strerror(errno));
    return -1;
}

/* Finds `name` (lower case, with its colon) in the header block, case-insensitively. */
static const char *header(const char *headers, size_t length, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i + n <= length; i++) {
        if ((i == 0 || headers[i - 1] == '\n') && strncasecmp(headers + i, name, n) == 0) return headers + i + n;
    }
    return NULL;
}

/* Whether the buffer holds a whole answer; if so its status and Server-Timing total. */
static int complete(connection *c, int *status, double *server_ms) {
    c->buffer[c->filled] = 0;
    char *end = strstr(c->buffer, "\r\n\r\n");
    if (!end) return 0;
    size_t head = (size_t)(end - c->buffer) + 4;
    const char *length = header(c->buffer, head, "content-length:");
    if (length) {
        if (c->filled < head + strtoul(length, NULL, 10)) return 0;
    } else if (header(c->buffer, head, "transfer-encoding:")) {
        if (!strstr(c->buffer + head - 2, "\r\n0\r\n\r\n")) return 0;
    }
    *status = (int)strtol(c->buffer + 9, NULL, 10);
    *server_ms = -1;
    const char *timing = header(c->buffer, head, "server-timing:");
    if (timing) {
        const char *total = strstr(timing, "total;dur=");
        if (total && total < c->buffer + head) *server_ms = strtod(total + 10, NULL);
    }
    return 1;
}

static int send_all(int fd, const char *bytes, size_t length) {
    while (length > 0) {
        ssize_t sent = write(fd, bytes, length);
        if (sent < 0) {
            if (errno != EAGAIN && errno != EINTR) return -1;
            struct pollfd out = { .fd = fd, .events = POLLOUT };
            poll(&out, 1, 100);
            continue;
        }
        bytes += sent;
        length -= (size_t)sent;
    }
    return 0;
}

int crescent_load_fixed_rate(int port, int connections, double rate,
                             const char *const *warmups, const size_t *warmup_lengths,
                             const char *const *requests, const size_t *lengths, int count,
                             crescent_load_result *results, double *cpu_seconds, char *error, size_t error_size) {
    connection *all = calloc((size_t)connections, sizeof(connection));
    struct pollfd *polled = calloc((size_t)connections, sizeof(struct pollfd));
    int *idle = calloc((size_t)connections, sizeof(int));
    int result = 0, opened = 0, idle_count = 0;
    if (!all || !polled || !idle) { result = fail(error, error_size, "memory"); goto done; }
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (; opened < connections; opened++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        if (fd < 0) { result = fail(error, error_size, "socket"); goto done; }
        all[opened].fd = fd;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) { result = fail(error, error_size, "connect"); goto done; }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        polled[opened] = (struct pollfd){ .fd = fd, .events = POLLIN };
        all[opened].request = -2;
        if (send_all(fd, warmups[opened], warmup_lengths[opened]) < 0) { opened++; result = fail(error, error_size, "send"); goto done; }
    }
    /* A rate of 0 or less: every request is due at the start (a closed loop over the connections). */
    int closed_loop = rate <= 0;
    for (int i = 0; i < count; i++) results[i] = (crescent_load_result){ .scheduled_s = closed_loop ? 0 : i / rate, .server_ms = -1 };
    double begin = 0, deadline = 0, cpu_begin = 0;
    *cpu_seconds = 0;
    int warming = connections, due = 0, sent = 0, answered = 0;
    while (warming > 0 || answered < count) {
        double now = now_s();
        if (warming == 0) {
            if (begin == 0) { begin = now; deadline = begin + (closed_loop ? 0 : count / rate) + 30; cpu_begin = cpu_s(); }
            if (now > deadline) break;
            if (closed_loop) due = count;
            while (due < count && begin + due / rate <= now) due++;
            while (sent < due && idle_count > 0) {
                connection *c = &all[idle[--idle_count]];
                c->request = sent;
                if (send_all(c->fd, requests[sent], lengths[sent]) < 0) { result = fail(error, error_size, "send"); goto done; }
                sent++;
            }
        }
        /* Sleep until the next request is due or an answer arrives. */
        double wait = warming > 0 || due >= count ? 0.1 : begin + due / rate - now;
        if (wait < 0) wait = 0;
        struct timespec timeout = { .tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9) };
        int ready = ppoll(polled, (nfds_t)connections, &timeout, NULL);
        if (ready < 0 && errno != EINTR) { result = fail(error, error_size, "poll"); goto done; }
        for (int k = 0; ready > 0 && k < connections; k++) {
            if (!(polled[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            connection *c = &all[k];
            ssize_t got = read(c->fd, c->buffer + c->filled, BUFFER_SIZE - 1 - c->filled);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
                errno = got == 0 ? ECONNRESET : errno;
                result = fail(error, error_size, "read");
                goto done;
            }
            if (got < 0) continue;
            c->filled += (size_t)got;
            int status;
            double server_ms;
            if (!complete(c, &status, &server_ms)) continue;
            double at = now_s();
            if (c->request >= 0) {
                crescent_load_result *r = &results[c->request];
                r->latency_ms = (at - begin - r->scheduled_s) * 1000;
                r->server_ms = server_ms;
                r->status = status;
                answered++;
                if (closed_loop) deadline = at + 30; /* 30 s without an answer fails */
            } else {
                if (status != 200) {
                    snprintf(error, error_size, "a warm-up request was answered with status %d", status);
                    result = -1;
                    goto done;
                }
                warming--;
            }
            c->request = -1;
            c->filled = 0;
            idle[idle_count++] = k;
        }
    }
    *cpu_seconds = cpu_s() - cpu_begin;
done:
    for (int k = 0; k < opened; k++) close(all[k].fd);
    free(all);
    free(polled);
    free(idle);
    return result;
}
