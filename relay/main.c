/* relay: command line, the epoll loop, its log (log.h on stderr) and socket helpers.
 *
 *   relay --config FILE            run; SIGHUP reads FILE again (reload.c), SIGTERM stops
 *   relay --check --config FILE    "configuration OK", or the file, line and reason
 *   relay token ID                 a new token for location ID and the line to add */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "log.h"
#include "random.h"
#include "relay.h"
#include "secure_wipe.h"

struct tls_server_identity relay_id;
struct relay_metrics relay_m;

/* ---- log.h's stamp and sink for the relay: UTC time first, one line per event on stderr
 * (the line stays within PIPE_BUF, so journald and a pipe get it in one piece) ---- */

static size_t log_stamp(char *out, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(out, cap, "%s.%03ldZ relay: ", when, ts.tv_nsec / 1000000);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static void log_sink(enum log_level level, const char *line, size_t len)
{
    (void)level;
    if (write(2, line, len) < 0) {
        return;              /* nowhere else to say it */
    }
}

/* The relay's entropy: the kernel's (seeds are 32 bytes: one getentropy call). */
static int entropy(void *buf, size_t len)
{
    return getentropy(buf, len) == 0 ? 0 : -1;
}

/* ---- the loop ---- */

static int epfd = -1;
static volatile sig_atomic_t stopping, reload_wanted;

struct deferred {
    void *p;
    void (*fn)(void *);
};
static struct deferred *deferred;
static size_t ndeferred, deferred_cap;

/* see relay.h */
uint64_t relay_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* see relay.h */
int relay_thread_start(pthread_t *th, void *(*fn)(void *), void *arg, size_t stack)
{
    sigset_t all, old;
    pthread_attr_t attr;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);       /* the thread inherits the mask */
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack);
    int err = pthread_create(th, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

/* see relay.h */
int relay_ev_add(struct relay_ev *ev, int fd, uint32_t mask)
{
    struct epoll_event e = { .events = mask, .data.ptr = ev };
    ev->fd = fd;
    ev->mask = mask;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
}

/* see relay.h */
void relay_ev_mask(struct relay_ev *ev, uint32_t mask)
{
    if (ev->fd >= 0 && mask != ev->mask) {
        struct epoll_event e = { .events = mask, .data.ptr = ev };
        ev->mask = mask;
        epoll_ctl(epfd, EPOLL_CTL_MOD, ev->fd, &e);
    }
}

/* see relay.h */
void relay_ev_forget(struct relay_ev *ev)
{
    if (ev->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, ev->fd, NULL);
        ev->fd = -1;
        ev->mask = 0;
    }
}

/* see relay.h */
void relay_ev_del(struct relay_ev *ev)
{
    if (ev->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, ev->fd, NULL);
        close(ev->fd);
        ev->fd = -1;
    }
}

/* see relay.h */
void relay_defer_free(void *p, void (*fn)(void *))
{
    if (ndeferred == deferred_cap) {
        deferred_cap = deferred_cap ? 2 * deferred_cap : 64;
        deferred = realloc(deferred, deferred_cap * sizeof *deferred);
        if (deferred == NULL) {
            abort();
        }
    }
    deferred[ndeferred++] = (struct deferred){ p, fn };
}

static void run_deferred(void)
{
    for (size_t i = 0; i < ndeferred; i++) {
        deferred[i].fn(deferred[i].p);
    }
    ndeferred = 0;
}

/* ---- sockets ---- */

/* see relay.h */
void relay_sock_tune(int fd)
{
    int one = 1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* see relay.h */
int relay_listen(const struct sockaddr_in *a)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* A deep backlog: after a restart the whole fleet dials at once, and a SYN dropped for
     * a full queue costs its gateway a second (the kernel caps it at somaxconn). */
    if (bind(fd, (const struct sockaddr *)a, sizeof *a) != 0 || listen(fd, 4096) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* see relay.h */
int relay_accept(int listen_fd, struct sockaddr_in *from)
{
    static int spare = -2;
    socklen_t len = sizeof *from;
    if (spare == -2) {
        spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    memset(from, 0, sizeof *from);
    int fd = accept4(listen_fd, (struct sockaddr *)from, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && spare >= 0) {
        close(spare);
        fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            close(fd);
        }
        spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
        unsigned n = refusal(RF_DESCRIPTORS);
        if (n) {
            log_warnx("%s: out of file descriptors: connection refused (%u like it since the "
                      "last such line)", __func__, n);
        }
        return -1;
    }
    return fd;
}

/* see relay.h */
void relay_addr_name(const struct sockaddr_in *a, char *out, size_t cap)
{
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(out, cap, "%s:%u", ip, ntohs(a->sin_port));
}

/* ---- commands ---- */

static int cmd_token(const char *id)
{
    uint8_t raw[24], sha[32];
    char token[BASE64_SIZE(sizeof raw)], hex[65];
    if (!hello_location_valid(id, strlen(id))) {
        fprintf(stderr, "relay: '%s' is not a Location ID (1..%d of A-Z a-z 0-9 . _ -)\n", id,
                HELLO_LOCATION_MAX);
        return 2;
    }
    if (rng_init(entropy) != 0) {
        fprintf(stderr, "relay: no entropy\n");
        return 1;
    }
    /* Never a leading '-': the token goes on command lines, where it would read as an
     * option (it cost a test run: argparse took "--token -x..." for two options). */
    do {
        rng_bytes(raw, sizeof raw);
        base64_encode(token, raw, sizeof raw, BASE64_URL);     /* 32 characters */
    } while (token[0] == '-');
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, token, 32);
    br_sha256_out(&h, sha);
    relay_hex(sha, 32, hex);
    printf("token for %s (give it to the cloud application; it is not stored): %s\n", id, token);
    printf("add to the relay's configuration:\nlocation %s token-sha256 %s\n", id, hex);
    secure_wipe(token, sizeof token);
    secure_wipe(raw, sizeof raw);
    return 0;
}

static void on_signal(int sig)
{
    if (sig == SIGHUP) {
        reload_wanted = 1;
    } else {
        stopping = stopping ? 2 : 1;         /* the second: at once */
    }
}

/* After SIGTERM: no new tunnel, SOCKS5 client or delivery (the tunnels get GoAway, and a
 * gateway sends its mail to another relay or waits), while the deliveries in flight are
 * answered, for up to stop-drain seconds; a second signal ends it. 1 while it goes on. */
static int draining(void)
{
    static uint64_t until;
    uint64_t now = relay_now_ms();
    if (stopping > 1 || relay_cfg.lim.stop_drain_s == 0) {
        return 0;
    }
    if (until == 0) {
        until = now + (uint64_t)relay_cfg.lim.stop_drain_s * 1000u;
        admit_stop();
        socks_listener_stop();
        unsigned n = tunnel_goaway_all();
        log_info("stopping: GoAway to %u tunnels, listeners closed; %u deliveries in flight, "
                 "waiting up to %u s for them (limit stop-drain)", n, relay_m.deliveries_open,
                 relay_cfg.lim.stop_drain_s);
    }
    if (relay_m.deliveries_open == 0) {
        return 0;
    }
    if (now >= until) {
        log_warnx("stopping: %u deliveries still in flight after %u s (limit stop-drain): cut, "
                  "each is sent again", relay_m.deliveries_open, relay_cfg.lim.stop_drain_s);
        return 0;
    }
    return 1;
}

/* To stdout with status 0 when asked (--help), else to stderr with status 2. */
static int usage(FILE *f, int ret)
{
    fprintf(f, "usage: relay --config FILE [--check]\n"
               "       relay token ID\n"
               "       relay --help\n"
               "  --config FILE  the relay's configuration (see relay(8))\n"
               "  --check        read and check it, say \"configuration OK\" or the line and\n"
               "                 the reason, and exit\n"
               "  token ID       make a new SOCKS5 token for location ID: prints it once and\n"
               "                 the configuration line holding its SHA-256\n");
    return ret;
}

static int serve(const char *config)
{
    char err[300];
    int lfd = relay_listen(&relay_cfg.listen), sfd = relay_listen(&relay_cfg.socks);
    int mfd = relay_cfg.has_metrics ? relay_listen(&relay_cfg.metrics) : -2;
    if (lfd < 0 || sfd < 0 || mfd == -1) {
        log_err("%s: cannot listen on the %s address: %s", __func__,
                lfd < 0 ? "tunnel" : sfd < 0 ? "socks" : "metrics", strerror(errno));
        return 1;
    }
    for (unsigned i = 0; i < relay_cfg.nlocs; i++) {
        if (spool_prepare(&relay_cfg.locs[i], err, sizeof err) != 0) {
            log_err("%s: %s", __func__, err);
            return 1;
        }
    }
    if (relay_cfg.lmtp) {
        log_info("spool: lmtp %s: each location's mail goes to its mailbox there, behind an "
                 RELAY_TRACE_HEADER " header", relay_cfg.lmtp_target);
    }
    /* A socket per SOCKS5 client and per tunnel: take all the descriptors we may. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* What --check would say about the limits: the relay runs, but an operator who did not
     * run --check learns here why connections will be refused before the limits. */
    static char fit[1600];
    if (relay_config_fits(&relay_cfg, fit, sizeof fit) != 0) {
        for (char *line = fit, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (nl == NULL) {
                break;
            }
            *nl = 0;
            log_warnx("limits cannot be reached: %s", line + strlen("relay: "));
        }
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGHUP, on_signal);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    int threads = hspool_start(relay_cfg.lim.handshake_threads);
    if (threads < 0 || tunnel_init() != 0 || socks_init() != 0) {
        log_err("%s: cannot start: %s", __func__, threads < 0 ? "no handshake threads"
                : "out of memory");
        return 1;
    }
    admit_start(lfd);
    socks_listener_start(sfd);
    if (mfd >= 0) {
        metrics_listener_start(mfd);
    }
    char a[3][INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &relay_cfg.listen.sin_addr, a[0], sizeof a[0]);
    inet_ntop(AF_INET, &relay_cfg.socks.sin_addr, a[1], sizeof a[1]);
    inet_ntop(AF_INET, &relay_cfg.metrics.sin_addr, a[2], sizeof a[2]);
    log_info("listening: tunnels %s:%u, socks %s:%u, metrics %s:%u, %u locations, "
             "%d handshake threads, up to %u tunnels", a[0],
             ntohs(relay_cfg.listen.sin_port), a[1], ntohs(relay_cfg.socks.sin_port),
             mfd >= 0 ? a[2] : "-", mfd >= 0 ? ntohs(relay_cfg.metrics.sin_port) : 0,
             relay_cfg.nlocs, threads, relay_cfg.lim.tunnels);
    uint64_t last_timers = 0;
    while (!stopping || draining()) {
        struct epoll_event evs[256];
        /* Tunnels still owing work (a busy stream yields after 64 passes) have no fd event
         * to wake us: look again at once instead of after the 100 ms timer tick. */
        int n = epoll_wait(epfd, evs, 256, tunnel_dirty_pending() ? 0 : 100);
        for (int i = 0; i < n; i++) {
            struct relay_ev *ev = evs[i].data.ptr;
            if (ev->fd >= 0) {
                ev->fn(ev, evs[i].events);
            }
        }
        tunnel_run_dirty();
        delivery_commit_pending();          /* this turn's deliveries, a group per location */
        uint64_t now = relay_now_ms();
        if (now - last_timers >= 100) {
            admit_timers(now);
            tunnel_timers(now);
            socks_timers(now);
            delivery_timers(now);
            lmtp_timers(now);
            metrics_timers(now);
            tunnel_run_dirty();
            last_timers = now;
        }
        run_deferred();
        if (reload_wanted) {
            reload_wanted = 0;
            relay_reload(config);
            run_deferred();                     /* the tunnels it closed */
        }
    }
    tunnel_run_dirty();                         /* the last answers */
    tunnel_close_all("the relay stopped");
    run_deferred();
    log_info("stopping");
    return 0;
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    int check = 0;
    char err[400];
    log_set_stamp(log_stamp);
    log_set_sink(log_sink);
    log_set_level(LOG_INFO);
    if (argc == 3 && strcmp(argv[1], "token") == 0) {
        return cmd_token(argv[2]);
    }
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        return usage(stdout, 0);
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "--check") == 0) {
            check = 1;
        } else {
            return usage(stderr, 2);
        }
    }
    if (config == NULL) {
        return usage(stderr, 2);
    }
    if (relay_config_load(&relay_cfg, config, err, sizeof err) != 0
        || relay_identity_load(&relay_cfg, &relay_id, err, sizeof err) != 0
        || (relay_config_reserve(&relay_cfg) != 0
            && snprintf(err, sizeof err, "%s: out of memory", config) > 0)) {
        fprintf(stderr, "relay: %s\n", err);
        return 1;
    }
    if (check) {
        if (relay_config_fits(&relay_cfg, err, sizeof err) != 0) {
            fprintf(stderr, "%s", err);
            return 1;
        }
        printf("configuration OK\n");
        return 0;
    }
    if (rng_init(entropy) != 0) {
        fprintf(stderr, "relay: no entropy: TLS unavailable\n");
        return 1;
    }
    return serve(config);
}
