/* sim_gateways: many gateways in one process, to see how many tunnels one relay holds, what
 * each costs it, how fast a fleet comes back after a relay restart, and what the relay
 * moves for many tunnels at once (bench/scale.sh). Each simulated gateway is the gateway's
 * own protocol code on a kernel socket: TLS client with its certificate (tls_client, full
 * 16 KiB records as the firmware's), yamux client, hello on the first stream; then it answers
 * the relay's keepalive pings and serves the streams the relay opens.
 *
 *   sim_gateways --relay ADDR:PORT --ca ANCHOR.der --name RELAYNAME --key KEY.pem
 *                --certs DIR --count N [--first K] [--conc C] [--secs S]
 *                [--src A.B.C.D --nsrc M]
 *
 * Gateway i (K <= i < K + N) presents DIR/sim<i>.pem (leaf, then intermediate) and says
 * hello as location "sim<i>"; all share KEY.pem. --src binds gateway i to source address
 * A.B.C.D + (i mod M) (loopback: 127.0.0.0/8 needs no set-up), as gateways behind many
 * NATs, not one. At most C handshakes are in flight while the fleet first comes up; after
 * that every gateway on its own follows the firmware's reconnect rule (firmware/tunnel.c):
 * after a lost tunnel or a failed attempt, wait a time drawn from [d/2, d], d = 1 s doubling
 * per consecutive failure up to 60 s, and reset by a tunnel that comes up.
 *
 * Streams the relay opens carry a SOCKS5 request (the relay forwards it as the client sent
 * it): port 7 is an echo, port 9 a source of bytes until the stream is closed; anything
 * else gets 0x02.
 *
 * Output (stdout, line-buffered):
 *   "tunnels up=K refused=R secs=T"     when the first ramp is done
 *   "t=SECS up=K connecting=C waiting=W" once a second
 *   "storm: all K back S s after the first loss (attempts A, failed F)" when every tunnel
 *                                       is up again after some were lost
 *   "lost N" per lost tunnel while nothing is being counted as a storm
 * until SIGTERM or S seconds (default 300). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "hello_delivery.h"
#include "log.h"
#include "pem.h"
#include "random.h"
#include "socks5.h"
#include "tls_client.h"
#include "trust.h"
#include "yamux.h"

#define SIM_MAX 20000
#define SIM_CHAIN_MAX 4
#define SIM_DER_MAX 4096
/* Per simulated gateway: struct tls_client (~39 KiB) + this yamux block (~110 KiB of
 * address space, touched as used) + the chain. */
#define SIM_STREAMS 16
#define SIM_RX_POOL (64u * 1024)
#define SIM_OUT (48u * 1024)
#define BACKOFF_MIN_MS 1000          /* firmware/tunnel.h: TUNNEL_BACKOFF_MIN_MS */
#define BACKOFF_MAX_MS 60000         /* ... TUNNEL_BACKOFF_MAX_MS */
#define HANDSHAKE_MS 20000           /* the firmware gives up on a dial after this */

enum sim_state { SIM_WAIT, SIM_CONNECT, SIM_HANDSHAKE, SIM_HELLO, SIM_UP };

/* A relay-opened stream. */
enum svc_kind { SVC_REQUEST, SVC_ECHO, SVC_SOURCE, SVC_CLOSING };
struct svc {
    enum svc_kind kind;
    struct yamux_stream *st;
    uint8_t buf[4096];
    size_t len, off;
};

struct sim {
    enum sim_state state;
    int fd;
    unsigned idx, failures;
    int ever_up, counted, busy;
    uint64_t retry_at, deadline;
    struct tls_client ts;
    struct yamux_session ys;
    void *ymem;
    struct yamux_stream *hello_st;
    uint8_t hin[HELLO_MSG_MAX];
    size_t hin_len;
    br_x509_certificate chain[SIM_CHAIN_MAX];
    size_t chain_len;
    uint8_t der[SIM_DER_MAX];
};

static struct sim *sims;
static unsigned nsim, first, conc = 64, secs = 300, nsrc;
static const char *relay_addr, *ca_file, *relay_name, *key_file, *cert_dir;
static struct sockaddr_in raddr;
static uint32_t src_base;
static br_x509_trust_anchor ta[2];
static uint8_t arena[2 * TRUST_ARENA_PER_ANCHOR];
static struct trust_store store;
static br_skey_decoder_context skey;
static unsigned n_up, n_connecting, n_refused, n_ramp;
static uint64_t attempts, failures_total;
static int ep;
static uint8_t pattern[16384];

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void die(const char *what)
{
    fprintf(stderr, "sim_gateways: %s\n", what);
    exit(2);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    *len = fread(p, 1, (size_t)n, f);
    fclose(f);
    return p;
}

static void skey_push(void *ctx, const void *p, size_t len)
{
    br_skey_decoder_push(ctx, p, len);
}

static void load_key(void)
{
    size_t len;
    uint8_t *p = slurp(key_file, &len);
    if (p == NULL) {
        die("cannot read --key");
    }
    br_pem_decoder_context pc;
    br_pem_decoder_init(&pc);
    for (size_t off = 0; off < len;) {
        off += br_pem_decoder_push(&pc, p + off, len - off);
        if (br_pem_decoder_event(&pc) == BR_PEM_BEGIN_OBJ) {
            int in_key = strstr(br_pem_decoder_name(&pc), "PRIVATE KEY") != NULL;
            if (in_key) {
                br_skey_decoder_init(&skey);
            }
            br_pem_decoder_setdest(&pc, in_key ? skey_push : NULL, &skey);
        }
    }
    free(p);
    if (br_skey_decoder_key_type(&skey) != BR_KEYTYPE_EC) {
        die("--key: not an EC private key");
    }
}

static void load_sim(struct sim *s, unsigned i)
{
    static struct pem_decoder d;
    struct pem_cert certs[SIM_CHAIN_MAX];
    char path[1024];
    size_t len;
    s->idx = i;
    snprintf(path, sizeof path, "%s/sim%u.pem", cert_dir, i);
    uint8_t *p = slurp(path, &len);
    int n = p ? pem_decode_certs(&d, p, len, s->der, sizeof s->der, certs, SIM_CHAIN_MAX) : -1;
    free(p);
    if (n <= 0) {
        fprintf(stderr, "sim_gateways: cannot load %s\n", path);
        exit(2);
    }
    for (int k = 0; k < n; k++) {
        s->chain[k].data = (unsigned char *)(uintptr_t)certs[k].der;
        s->chain[k].data_len = certs[k].len;
    }
    s->chain_len = (size_t)n;
    s->fd = -1;
}

static long sock_send(void *arg, const uint8_t *p, size_t len)
{
    ssize_t n = send(((struct sim *)arg)->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
        return errno == EAGAIN || errno == EINTR ? 0 : TLS_IO_ERROR;
    }
    return n;
}

static long sock_recv(void *arg, uint8_t *p, size_t len)
{
    ssize_t n = recv(((struct sim *)arg)->fd, p, len, MSG_DONTWAIT);
    if (n == 0) {
        return TLS_IO_EOF;
    }
    if (n < 0) {
        return errno == EAGAIN || errno == EINTR ? 0 : TLS_IO_ERROR;
    }
    return n;
}

/* ---- one simulated gateway ---- */

/* The firmware's rule: [d/2, d], d doubling from 1 s per consecutive failure, up to 60 s. */
static uint64_t backoff_ms(unsigned failures)
{
    uint32_t d = BACKOFF_MIN_MS;
    for (unsigned i = 1; i < failures && d < BACKOFF_MAX_MS; i++) {
        d *= 2;
    }
    if (d > BACKOFF_MAX_MS) {
        d = BACKOFF_MAX_MS;
    }
    return d / 2 + rng_u32() % (d / 2 + 1);
}

static void svc_drop(struct svc *v)
{
    v->st->user = NULL;
    yamux_release(v->st);
    free(v);
}

/* Down: the tunnel was lost or the attempt failed; try again after the backoff. */
static void sim_down(struct sim *s)
{
    if (s->state == SIM_UP) {
        n_up--;
        if (s->ymem) {
            for (unsigned i = 0; i < s->ys.cfg.max_streams; i++) {
                struct yamux_stream *st = &s->ys.streams[i];
                if (st->state != YAMUX_S_IDLE && st->user) {
                    free(st->user);
                    st->user = NULL;
                }
            }
        }
    } else if (s->state != SIM_WAIT) {
        n_connecting--;
        failures_total++;
        if (!s->counted) {
            s->counted = 1;
            n_refused++;
            n_ramp--;
        }
    }
    if (s->fd >= 0) {
        close(s->fd);               /* leaves the epoll set with it */
    }
    s->fd = -1;
    s->hello_st = NULL;
    s->failures++;
    s->state = SIM_WAIT;
    s->retry_at = now_ms() + backoff_ms(s->failures);
}

static void sim_start(struct sim *s)
{
    int one = 1;
    attempts++;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    n_connecting++;
    s->state = SIM_CONNECT;
    s->deadline = now_ms() + HANDSHAKE_MS;
    if (s->fd < 0) {
        sim_down(s);
        return;
    }
    if (nsrc) {
        struct sockaddr_in a = { .sin_family = AF_INET };
        a.sin_addr.s_addr = htonl(src_base + s->idx % nsrc);
        setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0) {
            sim_down(s);
            return;
        }
    }
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s->fd, (struct sockaddr *)&raddr, sizeof raddr) != 0 && errno != EINPROGRESS) {
        sim_down(s);
        return;
    }
    struct epoll_event e = { .events = EPOLLOUT, .data.ptr = s };
    epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &e);
}

static void sim_tls(struct sim *s)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        sim_down(s);
        return;
    }
    struct tls_client_config cfg = {
        .host = relay_name, .anchors = store.ta, .anchors_num = store.count,
        .now = (int64_t)time(NULL), .client_chain = s->chain, .client_chain_len = s->chain_len,
        .client_key = br_skey_decoder_get_ec(&skey),
    };
    if (tls_client_start(&s->ts, &cfg, &(struct tls_io){ sock_send, sock_recv, s }) != 0) {
        sim_down(s);
        return;
    }
    s->state = SIM_HANDSHAKE;
}

static void sim_hello(struct sim *s)
{
    struct yamux_config yc = {
        .client = 1, .max_streams = SIM_STREAMS, .window = YAMUX_INITIAL_WINDOW,
        .rx_pool = SIM_RX_POOL, .out_cap = SIM_OUT, .keepalive_ms = 0, .dead_ms = 0,
        .name = "sim",
    };
    size_t need = yamux_mem_size(&yc);
    if (s->ymem == NULL && (s->ymem = malloc(need)) == NULL) {
        die("out of memory");
    }
    yamux_init(&s->ys, &yc, s->ymem, need, (uint32_t)now_ms());
    struct hello h = { .hostname = "sim-gateway", .firmware = "bench" };
    snprintf(h.location, sizeof h.location, "sim%u", s->idx);
    uint8_t msg[HELLO_MSG_MAX];
    long n = hello_encode(msg, sizeof msg, &h);
    s->hello_st = yamux_open(&s->ys);
    yamux_write(s->hello_st, msg, (size_t)n);
    yamux_close(s->hello_st);
    s->hin_len = 0;
    s->state = SIM_HELLO;
}

/* A relay-opened stream: the SOCKS5 request, then echo or source. */
static void svc_run(struct svc *v)
{
    long n;
    if (v->kind == SVC_REQUEST) {
        struct socks5_request r;
        n = yamux_read(v->st, v->buf + v->len, sizeof v->buf - v->len);
        if (n < 0) {
            svc_drop(v);
            return;
        }
        v->len += (size_t)n;
        long k = socks5_request_parse(v->buf, v->len, &r);
        if (k == 0) {
            return;
        }
        uint8_t rep[SOCKS5_REPLY_LEN];
        int ok = k > 0 && (r.port == 7 || r.port == 9);
        socks5_reply_encode(rep, ok ? SOCKS5_REP_OK : SOCKS5_REP_NO_MAPPING, NULL, 0);
        yamux_write(v->st, rep, sizeof rep);
        v->kind = !ok ? SVC_CLOSING : r.port == 7 ? SVC_ECHO : SVC_SOURCE;
        v->len = v->off = 0;
        if (!ok) {
            yamux_close(v->st);
        }
    }
    if (v->kind == SVC_ECHO) {
        for (int i = 0; i < 16; i++) {
            if (v->off < v->len) {
                long w = yamux_write(v->st, v->buf + v->off, v->len - v->off);
                if (w < 0) {
                    svc_drop(v);
                    return;
                }
                v->off += (size_t)w;
                if (v->off < v->len) {
                    return;
                }
            }
            n = yamux_read(v->st, v->buf, sizeof v->buf);
            if (n < 0) {
                svc_drop(v);
                return;
            }
            if (n == 0) {
                return;
            }
            v->len = (size_t)n;
            v->off = 0;
        }
    } else if (v->kind == SVC_SOURCE) {
        uint8_t sink[4096];
        if (yamux_read(v->st, sink, sizeof sink) < 0) {
            svc_drop(v);
            return;
        }
        for (int i = 0; i < 4; i++) {
            long w = yamux_write(v->st, pattern, sizeof pattern);
            if (w <= 0) {
                if (w < 0) {
                    svc_drop(v);
                }
                return;
            }
        }
        v->st->events |= YAMUX_EV_WRITE;     /* come back: a source never runs dry */
    } else if (v->kind == SVC_CLOSING) {
        uint8_t sink[256];
        if (yamux_read(v->st, sink, sizeof sink) < 0) {
            svc_drop(v);
        }
    }
}

/* Returns 1 when work is left for another turn (a round limit, a source with window). */
static int sim_pump(struct sim *s)
{
    static uint8_t in[16384];
    if (s->state == SIM_CONNECT) {
        sim_tls(s);
        if (s->state != SIM_HANDSHAKE) {
            return 0;
        }
    }
    if (s->state == SIM_HANDSHAKE) {
        enum tls_state st = tls_client_pump(&s->ts);
        if (st == TLS_ST_OPEN) {
            sim_hello(s);
        } else if (st != TLS_ST_HANDSHAKE) {
            sim_down(s);
            return 0;
        }
    }
    if (s->state != SIM_HELLO && s->state != SIM_UP) {
        return 0;
    }
    int round;
    for (round = 0; round < 32; round++) {
        tls_client_pump(&s->ts);
        long n = tls_client_read(&s->ts, in, sizeof in);
        if (n < 0 || yamux_tick(&s->ys, (uint32_t)now_ms()) != YAMUX_OK) {
            sim_down(s);
            return 0;
        }
        for (long off = 0; off < n;) {
            long k = yamux_input(&s->ys, in + off, (size_t)(n - off));
            if (k <= 0) {
                sim_down(s);
                return 0;
            }
            off += k;
        }
        struct yamux_stream *st;
        while ((st = yamux_accept(&s->ys)) != NULL) {
            struct svc *v = calloc(1, sizeof *v);
            if (v == NULL || s->state != SIM_UP) {
                free(v);
                yamux_reset(st);
                yamux_release(st);
                continue;
            }
            v->st = st;
            st->user = v;
            svc_run(v);
        }
        unsigned ev;
        while ((st = yamux_poll(&s->ys, &ev)) != NULL) {
            if (st->user) {
                svc_run(st->user);
            }
        }
        long r;
        while (s->hello_st && (r = yamux_read(s->hello_st, s->hin + s->hin_len,
                                              sizeof s->hin - s->hin_len)) > 0) {
            s->hin_len += (size_t)r;
        }
        struct hello_answer a;
        if (s->state == SIM_HELLO
            && answer_parse(s->hin, s->hin_len, HELLO_K_HELLO_ANSWER, &a) > 0) {
            if (a.status != HELLO_ST_OK) {
                sim_down(s);
                return 0;
            }
            yamux_release(s->hello_st);
            s->hello_st = NULL;
            s->state = SIM_UP;
            s->failures = 0;
            s->ever_up = 1;
            n_connecting--;
            n_up++;
            if (!s->counted) {
                s->counted = 1;
                n_ramp--;
            }
        }
        const uint8_t *p;
        size_t len;
        int wrote = 0;
        while ((len = yamux_out_peek(&s->ys, &p)) > 0) {
            long w = tls_client_write(&s->ts, p, len);
            if (w < 0) {
                sim_down(s);
                return 0;
            }
            if (w == 0) {
                break;
            }
            yamux_out_consume(&s->ys, (size_t)w);
            wrote = 1;
        }
        if (n == 0 && !wrote) {
            break;
        }
    }
    /* A source stream that still has window, or the round limit: come back at once. */
    for (unsigned i = 0; s->state == SIM_UP && i < s->ys.cfg.max_streams; i++) {
        if (s->ys.streams[i].events && s->ys.streams[i].user) {
            return 1;
        }
    }
    return round == 32;
}

/* Simulated gateways with work left, pumped again before the loop sleeps. */
static struct sim **busy;
static unsigned nbusy;

static void mark(struct sim *s, int more)
{
    if (more && !s->busy && s->fd >= 0) {
        s->busy = 1;
        busy[nbusy++] = s;
    }
}

static void compact_busy(void)
{
    unsigned k = 0;
    for (unsigned i = 0; i < nbusy; i++) {
        if (busy[i]) {
            busy[k++] = busy[i];
        }
    }
    nbusy = k;
}

static void sim_wait_for(struct sim *s)
{
    unsigned w = s->state == SIM_CONNECT ? TLS_WANT_WRITE : tls_client_wants(&s->ts);
    struct epoll_event e = {
        .events = (w & TLS_WANT_READ ? EPOLLIN : 0u) | (w & TLS_WANT_WRITE ? EPOLLOUT : 0u),
        .data.ptr = s,
    };
    epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &e);
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void log_to_stderr(enum log_level level, const char *line, size_t len)
{
    (void)level;
    if (write(2, line, len) < 0) {
        return;
    }
}

static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        die("an option is missing its value");
    }
    return argv[++*i];
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    log_set_sink(log_to_stderr);
    log_set_level(LOG_ERR);
    if (rng_init(check_entropy) != 0) {
        fprintf(stderr, "no entropy\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--relay") == 0) {
            relay_addr = value(argc, argv, &i);
        } else if (strcmp(a, "--ca") == 0) {
            ca_file = value(argc, argv, &i);
        } else if (strcmp(a, "--name") == 0) {
            relay_name = value(argc, argv, &i);
        } else if (strcmp(a, "--key") == 0) {
            key_file = value(argc, argv, &i);
        } else if (strcmp(a, "--certs") == 0) {
            cert_dir = value(argc, argv, &i);
        } else if (strcmp(a, "--count") == 0) {
            nsim = (unsigned)atoi(value(argc, argv, &i));
        } else if (strcmp(a, "--first") == 0) {
            first = (unsigned)atoi(value(argc, argv, &i));
        } else if (strcmp(a, "--conc") == 0) {
            conc = (unsigned)atoi(value(argc, argv, &i));
        } else if (strcmp(a, "--secs") == 0) {
            secs = (unsigned)atoi(value(argc, argv, &i));
        } else if (strcmp(a, "--src") == 0) {
            struct in_addr in;
            if (inet_pton(AF_INET, value(argc, argv, &i), &in) != 1) {
                die("--src A.B.C.D");
            }
            src_base = ntohl(in.s_addr);
        } else if (strcmp(a, "--nsrc") == 0) {
            nsrc = (unsigned)atoi(value(argc, argv, &i));
        } else {
            die("unknown option");
        }
    }
    if (!relay_addr || !ca_file || !relay_name || !key_file || !cert_dir || nsim == 0
        || nsim > SIM_MAX || conc == 0 || (nsrc && !src_base)) {
        die("usage: --relay ADDR:PORT --ca ANCHOR.der --name NAME --key KEY.pem --certs DIR "
            "--count N (<= 20000) [--first K] [--conc C] [--secs S] [--src A.B.C.D --nsrc M]");
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char host[64];
    const char *colon = strrchr(relay_addr, ':');
    if (colon == NULL || (size_t)(colon - relay_addr) >= sizeof host) {
        die("--relay ADDR:PORT");
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - relay_addr), relay_addr);
    raddr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
    if (inet_pton(AF_INET, host, &raddr.sin_addr) != 1) {
        die("--relay ADDR:PORT");
    }
    size_t len;
    uint8_t *p = slurp(ca_file, &len);
    trust_init(&store, ta, 2, arena, sizeof arena);
    if (p == NULL || trust_add_der(&store, p, len) < 0) {
        die("cannot load --ca (DER)");
    }
    free(p);
    load_key();
    for (size_t i = 0; i < sizeof pattern; i++) {
        pattern[i] = (uint8_t)(i * 131 + 7);
    }
    sims = calloc(nsim, sizeof *sims);
    busy = calloc(2 * (size_t)nsim, sizeof *busy);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (sims == NULL || busy == NULL || ep < 0) {
        die("out of memory");
    }
    for (unsigned i = 0; i < nsim; i++) {
        load_sim(&sims[i], first + i);
    }
    uint64_t t0 = now_ms(), end = t0 + (uint64_t)secs * 1000u, next_status = t0 + 1000;
    uint64_t storm_start = 0, next_scan = 0;
    unsigned next = 0;
    int reported = 0, all_up = 0;
    n_ramp = nsim;
    while (!stop && now_ms() < end) {
        while (next < nsim && n_connecting < conc) {
            sim_start(&sims[next++]);
        }
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, nbusy ? 0 : 50);
        for (int i = 0; i < n; i++) {
            struct sim *s = evs[i].data.ptr;
            if (s->fd >= 0) {
                mark(s, sim_pump(s));
                if (s->fd >= 0) {
                    sim_wait_for(s);
                }
            }
        }
        /* The ones that had more to do, once each per turn. */
        for (unsigned i = 0, k = nbusy; i < k; i++) {
            struct sim *s = busy[i];
            s->busy = 0;
            busy[i] = NULL;
            if (s->fd >= 0) {
                mark(s, sim_pump(s));
                if (s->fd >= 0) {
                    sim_wait_for(s);
                }
            }
        }
        compact_busy();
        uint64_t now = now_ms();
        if (now >= next_scan) {
            next_scan = now + 100;
            for (unsigned i = 0; i < next; i++) {
                struct sim *s = &sims[i];
                if (s->state == SIM_WAIT && s->counted && now >= s->retry_at) {
                    sim_start(s);
                } else if ((s->state == SIM_CONNECT || s->state == SIM_HANDSHAKE
                            || s->state == SIM_HELLO) && now >= s->deadline) {
                    sim_down(s);
                }
            }
        }
        if (!reported && next == nsim && n_ramp == 0) {
            printf("tunnels up=%u refused=%u secs=%.2f\n", n_up, n_refused, (now - t0) / 1e3);
            reported = 1;
        }
        if (n_up == nsim && !storm_start) {
            all_up = 1;
        }
        if (all_up && storm_start == 0 && n_up < nsim) {
            storm_start = now;
            attempts = failures_total = 0;
        }
        if (storm_start && n_up == nsim) {
            printf("storm: all %u back %.1f s after the first loss (attempts %llu, failed "
                   "%llu)\n", n_up, (now - storm_start) / 1e3, (unsigned long long)attempts,
                   (unsigned long long)failures_total);
            storm_start = 0;
        }
        if (now >= next_status) {
            next_status += 1000;
            printf("t=%.0f up=%u connecting=%u waiting=%u\n", (now - t0) / 1e3, n_up,
                   n_connecting, nsim - n_up - n_connecting);
        }
    }
    printf("exit: up=%u\n", n_up);
    return 0;
}
