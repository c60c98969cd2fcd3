/* A fake gateway for the relay tests, made of the gateway's own protocol code (tls_client
 * client with a client certificate, yamux client, hello, SOCKS5 codec, delivery header)
 * over kernel sockets instead of lwIP:
 *
 *   test_relay_gw --relay ADDR:PORT --ca ROOT.der --name RELAYNAME --cert CHAIN.pem
 *                 --key KEY.pem [--location ID] [--map VHOST:VPORT=PORT]...
 *                 [--deliver FILE]... [--folder NAME] [--exit-after-deliveries] [--reconnect]
 *                 [--stall-after BYTES] [--hostname TEXT] [--delivery-version N]
 *                 [--bad-trailer] [--in-flight N]
 *
 * It dials the relay, says hello, then serves relay-opened streams like the gateway will:
 * the RFC 1928 request is checked against the --map list (exact host, case-insensitive, and
 * port; anything else gets 0x02, and nothing is dialled), the mapped target on 127.0.0.1 is
 * connected (refused: 0x05, 5 s: 0x06), then bytes are spliced with half-close both ways.
 * --deliver sends each FILE as a mail delivery (from folder NAME, default INBOX) and prints
 * the relay's answer; --stall-after stops each delivery's body after BYTES (the stream stays
 * open: a gateway that hangs mid-message). --delivery-version 2 offers delivery version 2 in
 * hello and, when the relay agrees, delivers with the SHA-256 in a trailer after the body
 * (--bad-trailer sends a wrong one); --in-flight N keeps up to N deliveries open at once,
 * as the gateway's pipeline does (default 1: each after the last one's answer); without it the hello says nothing, as a gateway from
 * before version 2 did, and deliveries are version 1. With --reconnect it dials again (backoff 100 ms doubling to 2 s)
 * whenever the tunnel is lost.
 * Lines on stdout ("tunnel up", "tunnel lost: ...", "delivery FILE: stored ...") are what
 * the test scripts wait for; SIGUSR1 prints every open stream's state (for a stuck test). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
#include "tls_io_fd.h"
#include "trust.h"
#include "yamux.h"

#define CONNS_MAX 1100
#define MAPS_MAX 16
#define DELIVERIES_MAX 32
#define BUF 16384

struct map {
    char host[SOCKS5_NAME_MAX + 1];
    uint16_t port, target;
};

enum conn_state { C_REQ, C_CONNECTING, C_SPLICE, C_CLOSING };

struct conn {
    int used;
    enum conn_state state;
    struct yamux_stream *st;
    int fd;
    size_t req_len, up_off, up_len, dn_off, dn_len;
    int st_eof, fd_eof, fin_sent, shut_wr;
    uint64_t deadline;
    /* buffers last: a new stream clears everything above */
    uint8_t req[SOCKS5_REQUEST_MAX];
    uint8_t up[BUF], dn[BUF];                /* up: stream -> target; dn: target -> stream */
};

struct delivery_tx {
    const char *file;
    uint8_t *data;
    size_t len, off;
    uint8_t hdr[HELLO_MSG_MAX];
    size_t hdr_len, hdr_off;
    struct yamux_stream *st;
    uint8_t ans[HELLO_MSG_MAX];
    size_t ans_len;
    uint8_t trailer[DELIVERY_TRAILER_LEN];   /* version 2: after the body */
    size_t trailer_len, trailer_off;
    int done;
};

static struct map maps[MAPS_MAX];
static unsigned nmaps;
static struct conn conns[CONNS_MAX];
static struct delivery_tx dl[DELIVERIES_MAX];
static unsigned ndl, dl_next, in_flight = 1;
static int exit_after, reconnect;
static long stall_after = -1;     /* --stall-after: body bytes sent, then nothing */
static const char *relay_addr, *ca_file, *relay_name, *cert_file, *key_file;
static const char *hello_hostname = "fake-gateway";     /* --hostname: hello's text */
static const char *folder = "INBOX";
static uint8_t offer_version;     /* --delivery-version: hello's offer (0: none, as before) */
static uint8_t agreed_version = 1;    /* the relay's answer */
static int bad_trailer;
static char location[HELLO_LOCATION_MAX + 1];

static int fd = -1;
static struct tls_client ts;
static struct yamux_session ys;
static void *ymem;
static struct yamux_stream *hello_st;
static uint8_t hello_in[HELLO_MSG_MAX];
static size_t hello_in_len;
static int hello_ok;
static uint64_t streams_served;

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void die(const char *what)
{
    fprintf(stderr, "test_relay_gw: %s\n", what);
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

/* ---- identity ---- */

static br_x509_trust_anchor ta[2];
static uint8_t arena[2 * TRUST_ARENA_PER_ANCHOR];
static struct trust_store store;
static br_x509_certificate chain[4];
static size_t chain_len;
static br_skey_decoder_context skey;

static void skey_push(void *ctx, const void *p, size_t len)
{
    br_skey_decoder_push(ctx, p, len);
}

static void load_identity(void)
{
    static struct pem_decoder d;
    static uint8_t der[16384];
    static struct pem_cert certs[4];
    size_t len;
    uint8_t *p = slurp(ca_file, &len);
    trust_init(&store, ta, 2, arena, sizeof arena);
    if (p == NULL || trust_add_der(&store, p, len) < 0) {
        die("cannot load --ca (DER)");
    }
    free(p);
    p = slurp(cert_file, &len);
    int n = p ? pem_decode_certs(&d, p, len, der, sizeof der, certs, 4) : -1;
    if (n <= 0) {
        die("cannot load --cert");
    }
    for (int i = 0; i < n; i++) {
        chain[i].data = (unsigned char *)(uintptr_t)certs[i].der;
        chain[i].data_len = certs[i].len;
    }
    chain_len = (size_t)n;
    free(p);
    p = slurp(key_file, &len);
    if (p == NULL) {
        die("cannot load --key");
    }
    br_pem_decoder_context pc;
    br_pem_decoder_init(&pc);
    int in_key = 0;
    for (size_t off = 0; off < len;) {
        off += br_pem_decoder_push(&pc, p + off, len - off);
        int ev = br_pem_decoder_event(&pc);
        if (ev == BR_PEM_BEGIN_OBJ) {
            in_key = strstr(br_pem_decoder_name(&pc), "PRIVATE KEY") != NULL;
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

/* ---- the tunnel ---- */

/* Why the last dial failed, for its log line (a bench run once failed to dial a relay that
 * had just said it listens, and the log could not say how). */
static char dial_why[320];

static int dial(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    char host[64];
    const char *colon = strrchr(relay_addr, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - relay_addr), relay_addr);
    a.sin_port = htons((uint16_t)atoi(colon + 1));
    inet_pton(AF_INET, host, &a.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(dial_why, sizeof dial_why, "%s %s: %s", fd < 0 ? "socket" : "connect",
                 relay_addr, strerror(errno));
        close(fd);
        fd = -1;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct tls_client_config cfg = {
        .host = relay_name, .anchors = store.ta, .anchors_num = store.count,
        .now = (int64_t)time(NULL), .client_chain = chain, .client_chain_len = chain_len,
        .client_key = br_skey_decoder_get_ec(&skey),
    };
    static const struct tls_io io = { tls_io_fd_send, tls_io_fd_recv, &fd };
    if (tls_client_start(&ts, &cfg, &io) != 0) {
        snprintf(dial_why, sizeof dial_why, "TLS client cannot start");
        return -1;
    }
    uint64_t end = now_ms() + 10000;
    while (tls_client_pump(&ts) == TLS_ST_HANDSHAKE && now_ms() < end) {
        unsigned w = tls_client_wants(&ts);
        struct pollfd p = { fd, (short)((w & TLS_WANT_READ ? POLLIN : 0)
                                        | (w & TLS_WANT_WRITE ? POLLOUT : 0)), 0 };
        poll(&p, 1, 50);
    }
    if (ts.engine.state != TLS_ST_OPEN) {
        printf("tunnel failed: %s\n", ts.engine.verdict);
        snprintf(dial_why, sizeof dial_why, "TLS handshake: %s", ts.engine.verdict);
        return -1;
    }
    struct yamux_config yc = {
        .client = 1, .max_streams = CONNS_MAX + 16, .window = YAMUX_INITIAL_WINDOW,
        .rx_pool = 32u << 20, .out_cap = 256u * 1024, .keepalive_ms = 1000, .dead_ms = 4000,
        .name = "fake gateway",
    };
    if (ymem == NULL) {
        ymem = malloc(yamux_mem_size(&yc));
    }
    yamux_init(&ys, &yc, ymem, yamux_mem_size(&yc), (uint32_t)now_ms());
    struct hello h = { .firmware = "test" };
    snprintf(h.hostname, sizeof h.hostname, "%s", hello_hostname);
    snprintf(h.location, sizeof h.location, "%s", location);
    h.delivery_version = offer_version;
    uint8_t msg[HELLO_MSG_MAX];
    long n = hello_encode(msg, sizeof msg, &h);
    hello_st = yamux_open(&ys);
    yamux_write(hello_st, msg, (size_t)n);
    yamux_close(hello_st);
    hello_in_len = 0;
    hello_ok = 0;
    return 0;
}

static void tunnel_drop(const char *why)
{
    printf("tunnel lost: %s\n", why);
    for (unsigned i = 0; i < CONNS_MAX; i++) {
        if (conns[i].used) {
            if (conns[i].fd >= 0) {
                close(conns[i].fd);
            }
            conns[i].used = 0;
        }
    }
    for (unsigned i = 0; i < ndl; i++) {
        if (!dl[i].done) {
            dl[i].st = NULL;
        }
    }
    dl_next = 0;
    while (dl_next < ndl && dl[dl_next].done) {
        dl_next++;
    }
    hello_st = NULL;
    close(fd);
    fd = -1;
}

/* ---- relay-opened streams ---- */

/* The reply goes through dn like any byte for the stream: the output queue may be full
 * (200 streams at once), and a write that takes nothing must be retried, not dropped. */
static void reply(struct conn *c, uint8_t rep)
{
    socks5_reply_encode(c->dn, rep, NULL, 0);
    c->dn_off = 0;
    c->dn_len = SOCKS5_REPLY_LEN;
    c->state = rep == SOCKS5_REP_OK ? C_SPLICE : C_CLOSING;
}

static void conn_end(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->st->user = NULL;
    yamux_release(c->st);
    c->used = 0;
}

static void request_step(struct conn *c)
{
    struct socks5_request r;
    long n = socks5_request_parse(c->req, c->req_len, &r);
    if (n == 0) {
        return;
    }
    if (n < 0) {
        reply(c, socks5_err_reply(n));
        return;
    }
    const struct map *m = NULL;
    for (unsigned i = 0; i < nmaps && !m; i++) {
        if (strcasecmp(maps[i].host, r.host) == 0 && maps[i].port == r.port) {
            m = &maps[i];
        }
    }
    if (m == NULL) {
        printf("refused %s:%u: no mapping\n", r.host, r.port);
        reply(c, SOCKS5_REP_NO_MAPPING);
        return;
    }
    memcpy(c->up, c->req + n, c->req_len - (size_t)n);   /* early client bytes */
    c->up_len = c->req_len - (size_t)n;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(m->target),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        reply(c, errno == ECONNREFUSED ? SOCKS5_REP_REFUSED : SOCKS5_REP_UNREACHABLE);
        return;
    }
    c->state = C_CONNECTING;
    c->deadline = now_ms() + 5000;
}

static int conn_pump(struct conn *c, short revents)
{
    int moved = 0;
    long n;
    if (c->state == C_REQ) {
        n = yamux_read(c->st, c->req + c->req_len, sizeof c->req - c->req_len);
        if (n < 0) {
            conn_end(c);
            return 0;
        }
        c->req_len += (size_t)n;
        if (n > 0 || c->req_len == sizeof c->req) {
            request_step(c);
        }
        return n > 0;
    }
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (revents & (POLLOUT | POLLERR | POLLHUP)) {
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            reply(c, err == 0 ? SOCKS5_REP_OK : err == ECONNREFUSED ? SOCKS5_REP_REFUSED
                                                                    : SOCKS5_REP_UNREACHABLE);
            return 1;
        }
        if (now_ms() > c->deadline) {
            reply(c, SOCKS5_REP_TIMEOUT);
        }
        return 0;
    }
    if (c->state == C_CLOSING) {
        uint8_t sink[512];
        if (c->dn_off < c->dn_len) {
            n = yamux_write(c->st, c->dn + c->dn_off, c->dn_len - c->dn_off);
            c->dn_off += n > 0 ? (size_t)n : 0;
        }
        if (c->dn_off == c->dn_len && !c->fin_sent) {
            yamux_close(c->st);
            c->fin_sent = 1;
        }
        while ((n = yamux_read(c->st, sink, sizeof sink)) > 0) {
        }
        if (n < 0 && c->st->state != YAMUX_S_LOCAL_CLOSED) {
            conn_end(c);
        } else if (c->st->state == YAMUX_S_CLOSED || c->st->state == YAMUX_S_RESET) {
            conn_end(c);
        }
        return 0;
    }
    /* splice: stream -> target */
    if (c->up_len == 0 && !c->st_eof) {
        n = yamux_read(c->st, c->up, sizeof c->up);
        if (n == YAMUX_EOF) {
            c->st_eof = 1;
        } else if (n < 0) {
            conn_end(c);
            return 0;
        } else {
            c->up_off = 0;
            c->up_len = (size_t)n;
        }
        moved |= n != 0;
    }
    if (c->up_off < c->up_len) {
        ssize_t w = send(c->fd, c->up + c->up_off, c->up_len - c->up_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            c->up_off += (size_t)w;
            moved = 1;
            if (c->up_off == c->up_len) {
                c->up_off = c->up_len = 0;
            }
        } else if (w < 0 && errno != EAGAIN) {
            conn_end(c);
            return 0;
        }
    }
    if (c->st_eof && c->up_len == 0 && !c->shut_wr) {
        shutdown(c->fd, SHUT_WR);
        c->shut_wr = 1;
        moved = 1;
    }
    /* target -> stream */
    if (c->dn_len == 0 && !c->fd_eof) {
        ssize_t r = recv(c->fd, c->dn, sizeof c->dn, MSG_DONTWAIT);
        if (r == 0) {
            c->fd_eof = 1;
            moved = 1;
        } else if (r > 0) {
            c->dn_off = 0;
            c->dn_len = (size_t)r;
            moved = 1;
        } else if (errno != EAGAIN) {
            conn_end(c);
            return 0;
        }
    }
    if (c->dn_off < c->dn_len) {
        n = yamux_write(c->st, c->dn + c->dn_off, c->dn_len - c->dn_off);
        if (n < 0) {
            conn_end(c);
            return 0;
        }
        c->dn_off += (size_t)n;
        moved |= n > 0;
        if (c->dn_off == c->dn_len) {
            c->dn_off = c->dn_len = 0;
        }
    }
    if (c->fd_eof && c->dn_len == 0 && !c->fin_sent) {
        yamux_close(c->st);
        c->fin_sent = 1;
        moved = 1;
    }
    if (c->fin_sent && c->shut_wr) {
        conn_end(c);
        return 0;
    }
    return moved;
}

/* Pumps until nothing moves (bounded); returns whether anything did. */
static int conn_run(struct conn *c, short revents)
{
    int any = 0;
    for (int k = 0; k < 4096 && c->used && conn_pump(c, revents); k++) {
        any = 1;
    }
    return any;
}

/* ---- hello and deliveries (gateway-opened streams) ---- */

static void hello_step(void)
{
    long n;
    struct hello_answer a;
    while (hello_st && (n = yamux_read(hello_st, hello_in + hello_in_len,
                                       sizeof hello_in - hello_in_len)) > 0) {
        hello_in_len += (size_t)n;
    }
    if (hello_st == NULL || hello_ok) {
        return;
    }
    n = answer_parse(hello_in, hello_in_len, HELLO_K_HELLO_ANSWER, &a);
    if (n > 0) {
        if (a.status != HELLO_ST_OK) {
            printf("hello refused: %s\n", a.text);
            exit(3);
        }
        hello_ok = 1;
        agreed_version = a.delivery_version == 2 ? 2 : 1;
        printf("tunnel up: %s (delivery version %u)\n", a.text, agreed_version);
    }
}

static void delivery_step_one(struct delivery_tx *d)
{
    if (d->st == NULL) {
        struct delivery h = { .length = d->len, .uidvalidity = 1700000000u,
                              .uid = (uint32_t)(d - dl) + 1 };
        br_sha256_context sha;
        br_sha256_init(&sha);
        br_sha256_update(&sha, d->data, d->len);
        br_sha256_out(&sha, h.sha256);
        snprintf(h.folder, sizeof h.folder, "%s", folder);
        h.version = agreed_version;
        memcpy(d->trailer, h.sha256, sizeof d->trailer);
        d->trailer[0] ^= (uint8_t)bad_trailer;
        d->trailer_len = agreed_version == 2 ? sizeof d->trailer : 0;
        d->hdr_len = (size_t)delivery_encode(d->hdr, sizeof d->hdr, &h);
        d->hdr_off = d->off = d->ans_len = d->trailer_off = 0;
        d->st = yamux_open(&ys);
        if (d->st == NULL) {
            return;
        }
    }
    long n;
    if (d->hdr_off < d->hdr_len && (n = yamux_write(d->st, d->hdr + d->hdr_off,
                                                    d->hdr_len - d->hdr_off)) > 0) {
        d->hdr_off += (size_t)n;
    }
    size_t upto = stall_after >= 0 && (size_t)stall_after < d->len ? (size_t)stall_after : d->len;
    while (d->hdr_off == d->hdr_len && d->off < upto
           && (n = yamux_write(d->st, d->data + d->off, upto - d->off)) > 0) {
        d->off += (size_t)n;
    }
    while (d->off == d->len && d->trailer_off < d->trailer_len
           && (n = yamux_write(d->st, d->trailer + d->trailer_off,
                               d->trailer_len - d->trailer_off)) > 0) {
        d->trailer_off += (size_t)n;
    }
    if (d->hdr_off == d->hdr_len && d->off == d->len && d->trailer_off == d->trailer_len) {
        yamux_close(d->st);
    }
    while ((n = yamux_read(d->st, d->ans + d->ans_len, sizeof d->ans - d->ans_len)) > 0) {
        d->ans_len += (size_t)n;
    }
    struct hello_answer a;
    if (answer_parse(d->ans, d->ans_len, HELLO_K_DELIVERY_ANSWER, &a) > 0) {
        static const char *const st[] = { "stored", "already have it", "error", "rejected" };
        printf("delivery %s: %s (%s)\n", d->file, a.status < 4 ? st[a.status] : "?", a.text);
        yamux_close(d->st);
        yamux_release(d->st);     /* the relay closed its side after answering */
        d->st = NULL;
        d->done = 1;
        while (dl_next < ndl && dl[dl_next].done) {
            dl_next++;
        }
        if (dl_next == ndl && exit_after) {
            fflush(stdout);
            exit(0);
        }
    } else if (n < 0 && n != YAMUX_EOF) {
        printf("delivery %s: stream reset\n", d->file);
        exit(4);
    }
}

/* The first in_flight deliveries not yet answered, each a step further. */
static void delivery_step(void)
{
    if (!hello_ok) {
        return;
    }
    for (unsigned i = dl_next, open = 0; i < ndl && open < in_flight; i++) {
        if (!dl[i].done) {
            open++;
            delivery_step_one(&dl[i]);
        }
    }
}

static volatile sig_atomic_t dump_wanted;
static void on_usr1(int sig)
{
    (void)sig;
    dump_wanted = 1;
}

static void dump(void)
{
    for (unsigned i = 0; i < CONNS_MAX; i++) {
        struct conn *c = &conns[i];
        if (c->used) {
            printf("conn %u: state %d stream %u %s rx %u credit %u ww %d ev %u up %zu/%zu dn %zu/%zu "
                   "st_eof %d fd_eof %d fin %d shut %d\n", i, c->state, c->st->id,
                   yamux_state_name(c->st->state), c->st->rx_buffered, c->st->tx_credit,
                   c->st->want_write, c->st->events, c->up_off, c->up_len, c->dn_off, c->dn_len,
                   c->st_eof, c->fd_eof, c->fin_sent, c->shut_wr);
        }
    }
    printf("session: out %zu streams %u\n", yamux_out_pending(&ys), yamux_stream_count(&ys));
}

/* ---- the loop ---- */

static int serve(void)
{
    static uint8_t in[16384];
    static struct pollfd pfd[CONNS_MAX + 1];
    static struct conn *pc[CONNS_MAX + 1];
    for (;;) {
        if (yamux_tick(&ys, (uint32_t)now_ms()) != YAMUX_OK) {
            tunnel_drop("no ping reply: link dead");
            return -1;
        }
        int progress = 1;
        for (int round = 0; round < 64 && progress; round++) {
            progress = 0;
            tls_client_pump(&ts);
            long n = tls_client_read(&ts, in, sizeof in);
            if (n < 0) {
                tunnel_drop(n == TLS_IO_EOF ? "closed by the relay" : ts.engine.verdict);
                return -1;
            }
            for (long off = 0; off < n;) {
                long k = yamux_input(&ys, in + off, (size_t)(n - off));
                if (k < 0) {
                    tunnel_drop("yamux protocol error");
                    return -1;
                }
                if (k == 0) {           /* pool full: cannot happen at this size */
                    tunnel_drop("receive pool full");
                    return -1;
                }
                off += k;
            }
            progress |= n > 0;
            struct yamux_stream *st;
            while ((st = yamux_accept(&ys)) != NULL) {
                unsigned i = 0;
                while (i < CONNS_MAX && conns[i].used) {
                    i++;
                }
                if (i == CONNS_MAX) {
                    yamux_release(st);
                    continue;
                }
                struct conn *c = &conns[i];
                memset(c, 0, offsetof(struct conn, req));
                c->used = 1;
                c->fd = -1;
                c->st = st;
                st->user = c;
                streams_served++;
            }
            unsigned ev;
            while ((st = yamux_poll(&ys, &ev)) != NULL) {
                progress |= st->user && conn_run(st->user, 0);
            }
            hello_step();
            delivery_step();
            const uint8_t *p;
            size_t len;
            while ((len = yamux_out_peek(&ys, &p)) > 0) {
                long w = tls_client_write(&ts, p, len);
                if (w < 0) {
                    tunnel_drop(ts.engine.verdict);
                    return -1;
                }
                if (w == 0) {
                    break;
                }
                yamux_out_consume(&ys, (size_t)w);
                progress = 1;
            }
        }
        unsigned np = 0;
        unsigned w = tls_client_wants(&ts);
        pfd[np] = (struct pollfd){ fd, (short)((w & TLS_WANT_READ ? POLLIN : 0)
                                               | (w & TLS_WANT_WRITE ? POLLOUT : 0)), 0 };
        pc[np++] = NULL;
        for (unsigned i = 0; i < CONNS_MAX; i++) {
            struct conn *c = &conns[i];
            if (!c->used || c->fd < 0) {
                continue;
            }
            short e = 0;
            if (c->state == C_CONNECTING) {
                e = POLLOUT;
            } else if (c->state == C_SPLICE) {
                e = (short)((c->dn_len == 0 && !c->fd_eof ? POLLIN : 0)
                            | (c->up_off < c->up_len ? POLLOUT : 0));
            }
            pfd[np] = (struct pollfd){ c->fd, e, 0 };
            pc[np++] = c;
        }
        /* A record completed by the last pump waits decrypted: read it now, not in 20 ms. */
        poll(pfd, np, tls_client_readable(&ts) > 0 ? 0 : 20);
        if (dump_wanted) {
            dump_wanted = 0;
            dump();
        }
        for (unsigned i = 1; i < np; i++) {
            if (pc[i]->used && pfd[i].revents) {
                conn_run(pc[i], pfd[i].revents);
            }
        }
        /* A sweep: connect deadlines, and anything a bounded run left for later. */
        for (unsigned i = 0; i < CONNS_MAX; i++) {
            if (conns[i].used) {
                conn_run(&conns[i], 0);
            }
        }
    }
}

/* The value after option i. */
static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        die("an option is missing its value");
    }
    return argv[++*i];
}

static void log_to_stderr(enum log_level level, const char *line, size_t len)
{
    (void)level;
    if (write(2, line, len) < 0) {
        return;
    }
}

static void on_term(int sig)
{
    (void)sig;
    printf("streams served: %llu\n", (unsigned long long)streams_served);
    fflush(stdout);
    _exit(0);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    log_set_sink(log_to_stderr);
    signal(SIGUSR1, on_usr1);
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
        } else if (strcmp(a, "--cert") == 0) {
            cert_file = value(argc, argv, &i);
        } else if (strcmp(a, "--key") == 0) {
            key_file = value(argc, argv, &i);
        } else if (strcmp(a, "--location") == 0) {
            snprintf(location, sizeof location, "%s", value(argc, argv, &i));
        } else if (strcmp(a, "--map") == 0 && nmaps < MAPS_MAX) {
            const char *m = value(argc, argv, &i);
            unsigned vport, tport;
            char host[SOCKS5_NAME_MAX + 1];
            if (sscanf(m, "%255[^:]:%u=%u", host, &vport, &tport) != 3) {
                die("--map VHOST:VPORT=PORT");
            }
            snprintf(maps[nmaps].host, sizeof maps[nmaps].host, "%s", host);
            maps[nmaps].port = (uint16_t)vport;
            maps[nmaps++].target = (uint16_t)tport;
        } else if (strcmp(a, "--deliver") == 0 && ndl < DELIVERIES_MAX) {
            dl[ndl].file = value(argc, argv, &i);
            dl[ndl].data = slurp(dl[ndl].file, &dl[ndl].len);
            if (dl[ndl++].data == NULL) {
                die("--deliver: cannot read the file");
            }
        } else if (strcmp(a, "--folder") == 0) {
            folder = value(argc, argv, &i);
        } else if (strcmp(a, "--stall-after") == 0) {
            stall_after = atol(value(argc, argv, &i));
        } else if (strcmp(a, "--exit-after-deliveries") == 0) {
            exit_after = 1;
        } else if (strcmp(a, "--reconnect") == 0) {
            reconnect = 1;
        } else if (strcmp(a, "--delivery-version") == 0) {
            offer_version = (uint8_t)atoi(value(argc, argv, &i));
        } else if (strcmp(a, "--in-flight") == 0) {
            in_flight = (unsigned)atoi(value(argc, argv, &i));
            in_flight = in_flight < 1 ? 1 : in_flight > DELIVERIES_MAX ? DELIVERIES_MAX : in_flight;
        } else if (strcmp(a, "--bad-trailer") == 0) {
            bad_trailer = 1;
        } else if (strcmp(a, "--hostname") == 0) {
            hello_hostname = value(argc, argv, &i);
        } else {
            die("unknown option");
        }
    }
    if (!relay_addr || !ca_file || !relay_name || !cert_file || !key_file || !location[0]) {
        die("usage: --relay ADDR:PORT --ca ROOT.der --name NAME --cert CHAIN.pem --key KEY.pem "
            "--location ID [--map VHOST:VPORT=PORT]... [--deliver FILE]... [--reconnect]");
    }
    load_identity();
    unsigned backoff = 100;
    for (;;) {
        if (dial() == 0) {
            backoff = 100;
            serve();
        } else {
            printf("dial failed: %s\n", dial_why);
            if (fd >= 0) {
                close(fd);
                fd = -1;
            }
        }
        if (!reconnect) {
            return 1;
        }
        usleep(backoff * 1000u);
        backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
    }
}
