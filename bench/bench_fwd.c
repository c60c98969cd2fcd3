/* bench_fwd: a local TCP forwarder for tools that cannot speak SOCKS5 (iperf3).
 *
 *   bench_fwd PORT --to ADDR:PORT                        plain forwarder (its own cost)
 *   bench_fwd PORT --socks ADDR:PORT USER PASS HOST:PORT  each connection to 127.0.0.1:PORT
 *                                                        becomes a SOCKS5 CONNECT to HOST:PORT
 *
 * It must not be the bottleneck it measures: after the handshake each direction is one
 * thread moving bytes with splice(2) through a 1 MiB pipe, so no byte is copied to user
 * space. Half-close is forwarded (shutdown SHUT_WR at EOF). Prints "forwarding" when ready. */
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
#include <sys/socket.h>
#include <unistd.h>

#define FWD_PIPE (1u << 20)         /* bytes in flight per direction (pipe capacity) */
#define FWD_THREAD_STACK (64u * 1024)

static struct sockaddr_in up_addr;
static const char *s_user, *s_pass, *s_host;
static uint16_t s_port;
static int use_socks;

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

/* Greeting, auth, CONNECT, each after the previous answer (as curl does). */
static int socks_connect(int fd)
{
    uint8_t b[600];
    size_t ul = strlen(s_user), pl = strlen(s_pass), hl = strlen(s_host), n = 0;
    static const uint8_t greeting[3] = { 5, 1, 2 };
    if (send(fd, greeting, 3, MSG_NOSIGNAL) != 3 || read_full(fd, b, 2) != 0 || b[1] != 2) {
        return -1;
    }
    b[n++] = 1, b[n++] = (uint8_t)ul;
    memcpy(b + n, s_user, ul), n += ul;
    b[n++] = (uint8_t)pl;
    memcpy(b + n, s_pass, pl), n += pl;
    if (send(fd, b, n, MSG_NOSIGNAL) != (ssize_t)n || read_full(fd, b, 2) != 0 || b[1] != 0) {
        return -1;
    }
    n = 0;
    b[n++] = 5, b[n++] = 1, b[n++] = 0, b[n++] = 3, b[n++] = (uint8_t)hl;
    memcpy(b + n, s_host, hl), n += hl;
    b[n++] = (uint8_t)(s_port >> 8), b[n++] = (uint8_t)s_port;
    if (send(fd, b, n, MSG_NOSIGNAL) != (ssize_t)n || read_full(fd, b, 4) != 0 || b[1] != 0) {
        return -1;
    }
    size_t rest = b[3] == 1 ? 6 : b[3] == 4 ? 18 : 0;
    return rest > 0 && read_full(fd, b, rest) == 0 ? 0 : -1;
}

struct pump {
    int from, to;
    struct pump *other;
    int done;
    pthread_mutex_t *mu;
};

/* One direction: socket -> pipe -> socket, until EOF or error; then half-close. */
static void *pump_run(void *arg)
{
    struct pump *p = arg;
    int pp[2];
    if (pipe2(pp, O_CLOEXEC) == 0) {
        fcntl(pp[0], F_SETPIPE_SZ, FWD_PIPE);
        for (;;) {
            ssize_t n = splice(p->from, NULL, pp[1], NULL, FWD_PIPE, SPLICE_F_MOVE);
            if (n <= 0) {
                break;
            }
            while (n > 0) {
                ssize_t w = splice(pp[0], NULL, p->to, NULL, (size_t)n, SPLICE_F_MOVE);
                if (w <= 0) {
                    goto out;
                }
                n -= w;
            }
        }
out:
        close(pp[0]);
        close(pp[1]);
    }
    shutdown(p->to, SHUT_WR);
    pthread_mutex_lock(p->mu);
    p->done = 1;
    int last = p->other->done;
    pthread_mutex_unlock(p->mu);
    if (last) {                 /* both directions ended: this thread frees everything */
        close(p->from);
        close(p->to);
        pthread_mutex_destroy(p->mu);
        free(p->mu);
        free(p < p->other ? p : p->other);
    }
    return NULL;
}

static void *conn_run(void *arg)
{
    int cfd = (int)(intptr_t)arg, one = 1;
    int ufd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(ufd, (struct sockaddr *)&up_addr, sizeof up_addr) != 0
        || (use_socks && socks_connect(ufd) != 0)) {
        fprintf(stderr, "bench_fwd: upstream: %s\n", use_socks ? "SOCKS5 refused" : strerror(errno));
        close(ufd);
        close(cfd);
        return NULL;
    }
    struct pump *pp = calloc(2, sizeof *pp);
    pthread_mutex_t *mu = malloc(sizeof *mu);
    pthread_mutex_init(mu, NULL);
    pp[0] = (struct pump){ .from = cfd, .to = ufd, .other = &pp[1], .mu = mu };
    pp[1] = (struct pump){ .from = ufd, .to = cfd, .other = &pp[0], .mu = mu };
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, FWD_THREAD_STACK);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    pthread_create(&th, &at, pump_run, &pp[1]);
    pump_run(&pp[0]);
    return NULL;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc == 4 && strcmp(argv[2], "--to") == 0 && parse_addr(argv[3], &up_addr) == 0) {
        use_socks = 0;
    } else if (argc == 7 && strcmp(argv[2], "--socks") == 0 && parse_addr(argv[3], &up_addr) == 0
               && strrchr(argv[6], ':') != NULL && strlen(argv[4]) < 256 && strlen(argv[5]) < 256) {
        use_socks = 1;
        s_user = argv[4];
        s_pass = argv[5];
        static char h[256];
        char *colon = strrchr(argv[6], ':');
        snprintf(h, sizeof h, "%.*s", (int)(colon - argv[6]), argv[6]);
        s_host = h;
        s_port = (uint16_t)atoi(colon + 1);
    } else {
        fprintf(stderr, "usage: bench_fwd PORT --to ADDR:PORT | --socks ADDR:PORT USER PASS HOST:PORT\n");
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 1024) != 0) {
        perror("bench_fwd: listen");
        return 1;
    }
    printf("forwarding\n");
    fflush(stdout);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, FWD_THREAD_STACK);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t th;
        if (pthread_create(&th, &at, conn_run, (void *)(intptr_t)fd) != 0) {
            close(fd);
        }
    }
}
