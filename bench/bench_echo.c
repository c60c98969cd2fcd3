/* bench_echo: the echo service and the clients that measure a path with it (bench/run.sh).
 *
 *   bench_echo serve PORT                       echo server on PORT, any address (epoll)
 *   bench_echo rtt  [SOCKS] HOST PORT N         N 1-byte echoes on one connection:
 *                                               "rtt n=N p50_us=.. p99_us=.. mean_us=.."
 *   bench_echo rate [SOCKS] HOST PORT SECS CONC new connections per second, CONC at once,
 *                                               each: connect (+ SOCKS5), 1-byte echo, close:
 *                                               "rate conns=.. secs=.. per_s=.. failed=.."
 *   bench_echo hold [SOCKS] HOST PORT N         open N connections, echo 1 byte on each,
 *                                               print "holding N", keep them until SIGTERM
 *   SOCKS = --socks ADDR:PORT USER PASS         reach HOST:PORT through a SOCKS5 proxy
 *                                               (RFC 1928 domain name, RFC 1929 auth);
 *                                               without it HOST is an IPv4 address
 *
 * Everything is bounded: SECS and N are capped, every blocking call has a 10 s timeout. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ECHO_CONNS_MAX 8192      /* server: connections at once (~16 KiB each when busy) */
#define ECHO_BUF 16384
#define RTT_MAX 100000
#define HOLD_MAX 5000
#define RATE_SECS_MAX 60
#define RATE_CONC_MAX 256
#define IO_TIMEOUT_S 10

struct socks {
    const char *addr, *user, *pass;
};

static const struct socks *socks;
static const char *host;
static uint16_t port;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int parse_addr(const char *s, struct sockaddr_in *a)
{
    char h[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof h) {
        return -1;
    }
    snprintf(h, sizeof h, "%.*s", (int)(colon - s), s);
    *a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
    return inet_pton(AF_INET, h, &a->sin_addr) == 1 ? 0 : -1;
}

static int read_full(int fd, uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* RFC 1928 greeting, RFC 1929 auth, CONNECT to a domain name, each after the previous
 * answer (as curl does); blocking. */
static int socks_connect(int fd, const char *dhost, uint16_t dport)
{
    uint8_t b[600];
    size_t ul = strlen(socks->user), pl = strlen(socks->pass), hl = strlen(dhost), n = 0;
    if (ul > 255 || pl > 255 || hl > 255) {
        return -1;
    }
    static const uint8_t greeting[3] = { 5, 1, 2 };
    if (write_full(fd, greeting, 3) != 0 || read_full(fd, b, 2) != 0 || b[1] != 2) {
        return -1;
    }
    b[n++] = 1, b[n++] = (uint8_t)ul;
    memcpy(b + n, socks->user, ul), n += ul;
    b[n++] = (uint8_t)pl;
    memcpy(b + n, socks->pass, pl), n += pl;
    if (write_full(fd, b, n) != 0 || read_full(fd, b, 2) != 0 || b[1] != 0) {
        return -1;
    }
    n = 0;
    b[n++] = 5, b[n++] = 1, b[n++] = 0, b[n++] = 3, b[n++] = (uint8_t)hl;
    memcpy(b + n, dhost, hl), n += hl;
    b[n++] = (uint8_t)(dport >> 8), b[n++] = (uint8_t)dport;
    if (write_full(fd, b, n) != 0 || read_full(fd, b, 4) != 0 || b[1] != 0) {
        return -1;
    }
    size_t rest = b[3] == 1 ? 6 : b[3] == 4 ? 18 : 0;
    if (b[3] == 3) {
        if (read_full(fd, b, 1) != 0) {
            return -1;
        }
        rest = (size_t)b[0] + 2;
    }
    return rest > 0 && read_full(fd, b, rest) == 0 ? 0 : -1;
}

/* A connected, ready-to-echo socket to the target (through SOCKS5 when asked), or -1. */
static int open_path(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (socks ? parse_addr(socks->addr, &a) != 0 : inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct timeval tv = { IO_TIMEOUT_S, 0 };
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0
        || (socks && socks_connect(fd, host, port) != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int echo1(int fd)
{
    uint8_t c = 'x';
    return write_full(fd, &c, 1) == 0 && read_full(fd, &c, 1) == 0 && c == 'x' ? 0 : -1;
}

/* ---- server ---- */

struct econn {
    int fd;
    size_t off, len;
    uint8_t *buf;              /* only while bytes wait for the peer to read */
};

static void econn_close(int ep, struct econn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->buf);
    free(c);
}

/* Echo what arrives; bytes the peer does not take yet wait, and reading pauses. */
static void econn_run(int ep, struct econn *c)
{
    static uint8_t tmp[ECHO_BUF];
    for (int k = 0; k < 64; k++) {
        if (c->off < c->len) {
            ssize_t w = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && errno != EAGAIN) {
                econn_close(ep, c);
                return;
            }
            c->off += w > 0 ? (size_t)w : 0;
            if (c->off < c->len) {
                struct epoll_event e = { .events = EPOLLOUT, .data.ptr = c };
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                return;
            }
            free(c->buf);
            c->buf = NULL;
            c->off = c->len = 0;
            struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
        }
        ssize_t n = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            econn_close(ep, c);
            return;
        }
        if (n < 0) {
            return;
        }
        ssize_t w = send(c->fd, tmp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno != EAGAIN) {
            econn_close(ep, c);
            return;
        }
        w = w < 0 ? 0 : w;
        if (w < n) {
            c->buf = malloc((size_t)(n - w));
            memcpy(c->buf, tmp + w, (size_t)(n - w));
            c->off = 0;
            c->len = (size_t)(n - w);
        }
    }
}

/* SIGTERM/SIGINT: the server and hold end (make bench stops its servers this way). */
static volatile sig_atomic_t stop;

static int serve(void)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    /* any address: the gateway path reaches it on the TAP's host side (namespace only) */
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 4096) != 0) {
        perror("bench_echo: listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &e);
    printf("serving on port %u\n", port);
    fflush(stdout);
    while (!stop) {                  /* a signal ends epoll_wait with EINTR */
        struct epoll_event ev[256];
        int n = epoll_wait(ep, ev, 256, -1);
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == NULL) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct econn *c = calloc(1, sizeof *c);
                    c->fd = fd;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event ce = { .events = EPOLLIN, .data.ptr = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
                }
                continue;
            }
            econn_run(ep, ev[i].data.ptr);
        }
    }
    return 0;
}

/* ---- clients ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int rtt(unsigned n)
{
    int fd = open_path();
    if (fd < 0) {
        printf("rtt failed: cannot open the path\n");
        return 1;
    }
    static uint64_t t[RTT_MAX];
    uint64_t sum = 0;
    for (unsigned i = 0; i < 50; i++) {          /* warm up */
        if (echo1(fd) != 0) {
            printf("rtt failed: echo\n");
            return 1;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        if (echo1(fd) != 0) {
            printf("rtt failed: echo %u\n", i);
            return 1;
        }
        t[i] = now_ns() - t0;
        sum += t[i];
    }
    qsort(t, n, sizeof t[0], cmp_u64);
    printf("rtt n=%u p50_us=%.1f p99_us=%.1f mean_us=%.1f\n", n, t[n / 2] / 1e3,
           t[(size_t)n * 99 / 100] / 1e3, (double)sum / n / 1e3);
    close(fd);
    return 0;
}

static uint64_t rate_end;
static unsigned long rate_ok[RATE_CONC_MAX], rate_fail[RATE_CONC_MAX];

static void *rate_worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    while (now_ns() < rate_end) {
        int fd = open_path();
        if (fd >= 0 && echo1(fd) == 0) {
            rate_ok[id]++;
        } else {
            rate_fail[id]++;
        }
        if (fd >= 0) {
            close(fd);
        }
    }
    return NULL;
}

static int rate(unsigned secs, unsigned conc)
{
    pthread_t th[RATE_CONC_MAX];
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 * 1024);
    uint64_t t0 = now_ns();
    rate_end = t0 + (uint64_t)secs * 1000000000u;
    for (unsigned i = 0; i < conc; i++) {
        pthread_create(&th[i], &at, rate_worker, (void *)(uintptr_t)i);
    }
    unsigned long ok = 0, fail = 0;
    for (unsigned i = 0; i < conc; i++) {
        pthread_join(th[i], NULL);
        ok += rate_ok[i];
        fail += rate_fail[i];
    }
    double el = (now_ns() - t0) / 1e9;
    printf("rate conns=%lu secs=%.2f per_s=%.0f failed=%lu conc=%u\n", ok, el, ok / el, fail, conc);
    return ok > 0 ? 0 : 1;
}

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int hold(unsigned n)
{
    static int fds[HOLD_MAX];
    unsigned k = 0;
    for (; k < n; k++) {
        fds[k] = open_path();
        if (fds[k] < 0 || echo1(fds[k]) != 0) {
            printf("hold failed after %u connections\n", k);
            fflush(stdout);
            break;
        }
    }
    printf("holding %u\n", k);
    fflush(stdout);
    while (!stop) {
        pause();
    }
    return k == n ? 0 : 1;
}

static unsigned arg_u(const char *s, unsigned max)
{
    unsigned long v = strtoul(s, NULL, 10);
    return v == 0 ? 1 : v > max ? max : (unsigned)v;
}

int main(int argc, char **argv)
{
    static struct socks sk;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 3 && strcmp(argv[1], "serve") == 0) {
        port = (uint16_t)atoi(argv[2]);
        return serve();
    }
    int i = 2;
    if (argc > 5 && strcmp(argv[2], "--socks") == 0) {
        sk = (struct socks){ argv[3], argv[4], argv[5] };
        socks = &sk;
        struct sockaddr_in a;
        if (parse_addr(sk.addr, &a) != 0) {
            fprintf(stderr, "bench_echo: --socks ADDR:PORT\n");
            return 2;
        }
        i = 6;
    }
    if (argc < i + 3) {
        fprintf(stderr, "usage: bench_echo serve PORT | rtt|rate|hold [--socks A:P USER PASS] "
                        "HOST PORT N|SECS [CONC]\n");
        return 2;
    }
    host = argv[i];
    port = (uint16_t)atoi(argv[i + 1]);
    if (strcmp(argv[1], "rtt") == 0) {
        return rtt(arg_u(argv[i + 2], RTT_MAX));
    }
    if (strcmp(argv[1], "rate") == 0) {
        return rate(arg_u(argv[i + 2], RATE_SECS_MAX),
                    argc > i + 3 ? arg_u(argv[i + 3], RATE_CONC_MAX) : 8);
    }
    if (strcmp(argv[1], "hold") == 0) {
        return hold(arg_u(argv[i + 2], HOLD_MAX));
    }
    fprintf(stderr, "bench_echo: unknown mode %s\n", argv[1]);
    return 2;
}
