/* scale_load: many tunnels moving data at once through one relay (bench/scale.sh), with the
 * simulated gateways of sim_gateways serving the far ends.
 *
 *   scale_load --socks ADDR:PORT --pass PASS --first K --tunnels N --secs S
 *              --echo-user USER [--echoes M]
 *
 * Opens one SOCKS5 stream per location simK .. simK+N-1 (each location has one tunnel) to
 * "source:9", which the simulated gateway answers with bytes until the stream is closed,
 * and reads them all for S seconds. Meanwhile a thread sends 1-byte echoes through location
 * USER ("echo:7"), one at a time. Before the load the same echoes run on an idle relay.
 * Prints:
 *   "idle rtt n=M p50_us=.. p99_us=.."
 *   "load tunnels=N secs=S gbit_s=.. per_tunnel_mbit_s min=.. p50=.. max=.. jain=.."
 *   "load rtt n=M p50_us=.. p99_us=.. added_p99_us=.."
 * Jain's index (sum x)^2 / (n sum x^2) is 1 when every tunnel moved the same, 1/n when one
 * moved everything: no tunnel starves another when it is close to 1 and min is not 0.
 * Everything is bounded: S <= 120, N <= 4096, M <= 100000, 10 s timeouts on blocking I/O. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TUNNELS_MAX 4096
#define ECHOES_MAX 100000

static struct sockaddr_in proxy;
static const char *pass, *echo_user;
static unsigned echoes = 2000;
static volatile int load_on, load_done;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "scale_load: %s\n", what);
    exit(2);
}

static int full(int fd, uint8_t *p, size_t n, int rd)
{
    while (n > 0) {
        ssize_t k = rd ? recv(fd, p, n, 0) : send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) {
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* A blocking SOCKS5 stream to HOST:PORT as user; -1 on any failure. */
static int socks_open(const char *user, const char *host, uint16_t port)
{
    uint8_t b[600];
    size_t ul = strlen(user), pl = strlen(pass), hl = strlen(host);
    struct timeval tv = { 10, 0 };
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&proxy, sizeof proxy) != 0) {
        goto fail;
    }
    memcpy(b, "\x05\x01\x02", 3);
    if (full(fd, b, 3, 0) || full(fd, b, 2, 1) || b[1] != 2) {
        goto fail;
    }
    size_t n = 0;
    b[n++] = 1;
    b[n++] = (uint8_t)ul;
    memcpy(b + n, user, ul);
    n += ul;
    b[n++] = (uint8_t)pl;
    memcpy(b + n, pass, pl);
    n += pl;
    if (full(fd, b, n, 0) || full(fd, b, 2, 1) || b[1] != 0) {
        goto fail;
    }
    n = 0;
    b[n++] = 5;
    b[n++] = 1;
    b[n++] = 0;
    b[n++] = 3;
    b[n++] = (uint8_t)hl;
    memcpy(b + n, host, hl);
    n += hl;
    b[n++] = (uint8_t)(port >> 8);
    b[n++] = (uint8_t)port;
    if (full(fd, b, n, 0) || full(fd, b, 10, 1) || b[1] != 0) {
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, unsigned n, unsigned p)
{
    return v[(size_t)n * p / 100 < n ? (size_t)n * p / 100 : n - 1];
}

/* M 1-byte echoes on one stream (after 50 to warm up); percentiles in ns into out[0..1]. */
static int echo_run(uint64_t out[2])
{
    static uint64_t t[ECHOES_MAX];
    uint8_t c = 'x';
    int fd = socks_open(echo_user, "echo", 7);
    if (fd < 0) {
        return -1;
    }
    for (unsigned i = 0; i < echoes + 50; i++) {
        uint64_t a = now_ns();
        if (full(fd, &c, 1, 0) || full(fd, &c, 1, 1)) {
            close(fd);
            return -1;
        }
        if (i >= 50) {
            t[i - 50] = now_ns() - a;
        }
    }
    close(fd);
    qsort(t, echoes, sizeof t[0], cmp_u64);
    out[0] = pct(t, echoes, 50);
    out[1] = pct(t, echoes, 99);
    return 0;
}

static uint64_t loaded_rtt[2];
static int loaded_ok = -1;

static void *echo_thread(void *arg)
{
    (void)arg;
    while (!load_on) {
        usleep(1000);
    }
    usleep(300000);                      /* the downloads are at full speed by now */
    loaded_ok = echo_run(loaded_rtt);
    return NULL;
}

static unsigned arg_u(const char *s, unsigned max)
{
    unsigned long v = strtoul(s, NULL, 10);
    return v > max ? max : (unsigned)v;
}

int main(int argc, char **argv)
{
    unsigned first = 0, tunnels = 0, secs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--socks") == 0) {
            char h[64];
            const char *colon = strrchr(v, ':');
            if (colon == NULL || (size_t)(colon - v) >= sizeof h) {
                die("--socks ADDR:PORT");
            }
            snprintf(h, sizeof h, "%.*s", (int)(colon - v), v);
            proxy.sin_family = AF_INET;
            proxy.sin_port = htons((uint16_t)atoi(colon + 1));
            if (inet_pton(AF_INET, h, &proxy.sin_addr) != 1) {
                die("--socks ADDR:PORT");
            }
        } else if (strcmp(a, "--pass") == 0) {
            pass = v;
        } else if (strcmp(a, "--first") == 0) {
            first = arg_u(v, 1000000);
        } else if (strcmp(a, "--tunnels") == 0) {
            tunnels = arg_u(v, TUNNELS_MAX);
        } else if (strcmp(a, "--secs") == 0) {
            secs = arg_u(v, 120);
        } else if (strcmp(a, "--echo-user") == 0) {
            echo_user = v;
        } else if (strcmp(a, "--echoes") == 0) {
            echoes = arg_u(v, ECHOES_MAX);
        } else {
            die("unknown option");
        }
    }
    if (!proxy.sin_port || !pass || !echo_user || tunnels == 0 || secs == 0 || echoes == 0) {
        die("usage: --socks ADDR:PORT --pass PASS --first K --tunnels N --secs S "
            "--echo-user USER [--echoes M]");
    }
    uint64_t idle[2];
    if (echo_run(idle) != 0) {
        die("idle echo failed");
    }
    printf("idle rtt n=%u p50_us=%.1f p99_us=%.1f\n", echoes, idle[0] / 1e3, idle[1] / 1e3);
    static int fds[TUNNELS_MAX];
    static uint64_t got[TUNNELS_MAX];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (unsigned i = 0; i < tunnels; i++) {
        char user[32];
        snprintf(user, sizeof user, "sim%u", first + i);
        fds[i] = socks_open(user, "source", 9);
        if (fds[i] < 0) {
            fprintf(stderr, "scale_load: stream through %s failed\n", user);
            return 1;
        }
        struct epoll_event e = { .events = EPOLLIN, .data.u32 = i };
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
    }
    pthread_t th;
    pthread_create(&th, NULL, echo_thread, NULL);
    static uint8_t buf[1 << 18];
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)secs * 1000000000u;
    load_on = 1;
    while (now_ns() < end) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 100);
        for (int k = 0; k < n; k++) {
            unsigned i = evs[k].data.u32;
            ssize_t r = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT);
            if (r > 0) {
                got[i] += (uint64_t)r;
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                fprintf(stderr, "scale_load: stream %u ended early\n", i);
                epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
            }
        }
    }
    double dt = (now_ns() - t0) / 1e9;
    pthread_join(th, NULL);
    double sum = 0, sq = 0;
    static uint64_t sorted[TUNNELS_MAX];
    for (unsigned i = 0; i < tunnels; i++) {
        sum += (double)got[i];
        sq += (double)got[i] * (double)got[i];
        sorted[i] = got[i];
        close(fds[i]);
    }
    qsort(sorted, tunnels, sizeof sorted[0], cmp_u64);
    double mb = 8.0 / 1e6 / dt;
    printf("load tunnels=%u secs=%.1f gbit_s=%.2f per_tunnel_mbit_s min=%.1f p50=%.1f max=%.1f "
           "jain=%.3f\n", tunnels, dt, sum * 8 / 1e9 / dt, sorted[0] * mb,
           sorted[tunnels / 2] * mb, sorted[tunnels - 1] * mb,
           sq > 0 ? sum * sum / (tunnels * sq) : 0.0);
    if (loaded_ok != 0) {
        printf("load rtt failed\n");
        return 1;
    }
    printf("load rtt n=%u p50_us=%.1f p99_us=%.1f added_p99_us=%.1f\n", echoes,
           loaded_rtt[0] / 1e3, loaded_rtt[1] / 1e3, ((double)loaded_rtt[1] - idle[1]) / 1e3);
    return 0;
}
