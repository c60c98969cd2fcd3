/* relay tunnels: accept, TLS handshake with a required client certificate whose CN is a
 * configured location, a yamux server session, hello on the first gateway-opened stream,
 * then streams both ways. One log line per tunnel event. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"
#include "tls_err.h"
#include "tls_io_fd.h"
#include "x509_info.h"

/* The hello stream's receiver. */
struct hello_rx {
    enum stream_kind kind;       /* SK_HELLO, first */
    struct yamux_stream *st;
    uint8_t buf[HELLO_MSG_MAX];
    size_t len;
    int answered;
    uint8_t answer[HELLO_MSG_MAX];   /* queued until the stream takes it all, then FIN */
    size_t answer_len, answer_off;
};

static struct relay_ev listen_ev;
static struct tunnel *tunnels[RELAY_TUNNELS_MAX];
static struct tunnel *dirty_head;
static unsigned next_serial;

static const char *const state_names[] = { "handshake", "hello", "ready", "dead" };

/* ---- life and death ---- */

static void tunnel_free(void *p)
{
    struct tunnel *t = p;
    if (t->tls) {
        memset(t->tls, 0, sizeof *t->tls);      /* session keys */
        free(t->tls);
    }
    free(t->ymem);
    free(t);
}

static void owner_gone(void *owner)
{
    switch (*(enum stream_kind *)owner) {
    case SK_HELLO:
        free(owner);
        break;
    case SK_SOCKS:
        socks_on_tunnel_gone(owner);
        break;
    case SK_DELIVERY:
        delivery_on_tunnel_gone(owner);
        break;
    }
}

/* Pushes what yamux has queued into TLS, and TLS to the socket, as far as they go now. */
static int push_output(struct tunnel *t)
{
    const uint8_t *p;
    size_t n;
    int moved = 0;
    while ((n = yamux_out_peek(&t->ys, &p)) > 0) {
        long w = tls_server_write(t->tls, p, n);
        if (w <= 0) {
            return w < 0 ? -1 : moved;
        }
        yamux_out_consume(&t->ys, (size_t)w);
        moved = 1;
    }
    return moved;
}

static void tunnel_close(struct tunnel *t, const char *why)
{
    uint64_t now = relay_now_ms();
    if (t->state == TUN_DEAD) {
        return;
    }
    if (t->state == TUN_HANDSHAKE || t->state == TUN_HELLO) {
        relay_m.handshakes_pending--;
    }
    if (t->state == TUN_READY) {
        struct location *loc = t->loc;
        for (unsigned i = 0; i < loc->nlive; i++) {
            if (loc->live[i] == t) {
                loc->live[i] = loc->live[--loc->nlive];
                break;
            }
        }
        log_info("tunnel down: location=%s tunnel=%u peer=%s reason=\"%s\" up=%.1fs "
                 "streams=%llu live=%u", loc->id, t->serial, t->peer, why,
                 (double)(now - t->opened_ms) / 1000.0, (unsigned long long)t->streams_total,
                 loc->nlive);
    } else {
        log_info("tunnel refused: peer=%s tunnel=%u stage=%s%s%s reason=\"%s\"", t->peer,
                 t->serial, state_names[t->state], t->loc ? " location=" : "",
                 t->loc ? t->loc->id : "", why);
    }
    if (t->ymem) {
        for (unsigned i = 0; i < t->ys.cfg.max_streams; i++) {
            struct yamux_stream *st = &t->ys.streams[i];
            if (st->state != YAMUX_S_IDLE && st->user) {
                void *owner = st->user;
                st->user = NULL;
                owner_gone(owner);
            }
        }
        relay_m.yamux_violations += t->ys.stats.violations;
        relay_m.yamux_pool_resets += t->ys.stats.pool_resets;
        if (t->tls->engine.state == TLS_ST_OPEN) {
            yamux_goaway(&t->ys, YAMUX_GOAWAY_NORMAL);
            push_output(t);
        }
    }
    if (t->tls && t->tls->engine.state == TLS_ST_OPEN) {
        tls_server_close(t->tls);
    }
    (void)tls_io_fd_buf_flush(&t->io);      /* GoAway and close_notify, as far as they go */
    relay_ev_del(&t->ev);
    t->state = TUN_DEAD;
    relay_m.tunnels_open--;
    relay_m.tunnel_closes++;
    for (unsigned i = 0; i < RELAY_TUNNELS_MAX; i++) {
        if (tunnels[i] == t) {
            tunnels[i] = NULL;
        }
    }
    relay_defer_free(t, tunnel_free);
}

/* ---- handshake and hello ---- */

/* "serverAuth, codeSigning" for a log line. */
static void eku_names(unsigned bits, char *out, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        { X509_EKU_SERVER_AUTH, "serverAuth" }, { X509_EKU_CLIENT_AUTH, "clientAuth" },
        { X509_EKU_CODE_SIGNING, "codeSigning" }, { X509_EKU_EMAIL, "emailProtection" },
        { X509_EKU_TIME_STAMPING, "timeStamping" }, { X509_EKU_OCSP_SIGNING, "OCSPSigning" },
        { X509_EKU_ANY, "anyExtendedKeyUsage" },
    };
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (bits & names[i].bit) {
            len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? ", " : "", names[i].name);
            bits &= ~names[i].bit;
        }
        if (len >= cap) {
            return;
        }
    }
    if (bits) {
        snprintf(out + len, cap - len, "%sanother purpose", len ? ", " : "");
    }
}

/* The gateway's leaf (kept whole by tls_server: its CN was read from it) may open a tunnel:
 * not revoked, and meant for TLS clients. The CA signs certificates for other purposes
 * too; a server certificate from it must not pass for a gateway. 0, or -1 with why. */
static int certificate_allowed(struct tunnel *t, char *why, size_t cap)
{
    const struct tls_peer_check *pc = &t->tls->check;
    struct x509_parts x;
    char hex[65], names[120];
    unsigned bits;
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, pc->leaf, pc->leaf_len);
    br_sha256_out(&h, t->cert_sha256);
    relay_hex(t->cert_sha256, 32, hex);
    if (relay_revoked(&relay_cfg, t->cert_sha256)) {
        snprintf(why, cap, "certificate sha256=%s is revoked", hex);
        return -1;
    }
    int r = x509_split(pc->leaf, pc->leaf_len, &x) == 0 ? x509_eku(&x, &bits) : TLS_EDER;
    if (r < 0) {
        snprintf(why, cap, "certificate sha256=%s: malformed extended key usage", hex);
        return -1;
    }
    if (r == 1 && !(bits & (X509_EKU_CLIENT_AUTH | X509_EKU_ANY))) {
        eku_names(bits, names, sizeof names);
        snprintf(why, cap, "certificate sha256=%s is not for TLS clients (extended key usage: "
                 "%s; a gateway needs clientAuth)", hex, names);
        return -1;
    }
    return 0;
}

static int handshake_done(struct tunnel *t)
{
    const char *cn = tls_server_peer_cn(t->tls);
    struct location *loc = hello_location_valid(cn, strlen(cn)) ? relay_location(cn) : NULL;
    char name[YAMUX_NAME_MAX], why[300];
    if (certificate_allowed(t, why, sizeof why) != 0) {
        relay_m.tunnels_refused++;
        tunnel_close(t, why);
        return -1;
    }
    if (loc == NULL) {
        snprintf(why, sizeof why, "certificate CN \"%s\" is not a configured location", cn);
        relay_m.tunnels_refused++;
        tunnel_close(t, why);
        return -1;
    }
    t->loc = loc;
    snprintf(name, sizeof name, "%s tunnel %u", loc->id, t->serial);
    struct yamux_config yc = {
        .client = 0, .max_streams = RELAY_STREAMS_PER_TUNNEL, .window = YAMUX_INITIAL_WINDOW,
        .rx_pool = RELAY_YAMUX_POOL, .out_cap = RELAY_YAMUX_OUT,
        .keepalive_ms = RELAY_KEEPALIVE_MS, .dead_ms = RELAY_DEAD_MS, .name = name,
    };
    t->ymem_len = yamux_mem_size(&yc);
    t->ymem = malloc(t->ymem_len);     /* lazily committed: see yamux.h */
    if (t->ymem == NULL
        || yamux_init(&t->ys, &yc, t->ymem, t->ymem_len, (uint32_t)relay_now_ms()) != 0) {
        tunnel_close(t, "out of memory for the yamux session");
        return -1;
    }
    t->state = TUN_HELLO;
    return 0;
}

/* Writes what the stream takes of the answer; FIN once all of it went. */
static void hello_flush(struct hello_rx *h)
{
    while (h->answer_off < h->answer_len) {
        long w = yamux_write(h->st, h->answer + h->answer_off, h->answer_len - h->answer_off);
        if (w <= 0) {
            return;
        }
        h->answer_off += (size_t)w;
    }
    yamux_close(h->st);
}

static void hello_answer(struct hello_rx *h, uint8_t status, const char *txt)
{
    long n = answer_encode(h->answer, sizeof h->answer, HELLO_K_HELLO_ANSWER, status, txt);
    h->answer_len = n > 0 ? (size_t)n : 0;
    h->answer_off = 0;
    h->answered = 1;
    hello_flush(h);
}

static void hello_service(struct tunnel *t, struct hello_rx *h)
{
    struct hello hl;
    char why[200];
    long n;
    if (h->answered) {
        uint8_t sink[256];
        hello_flush(h);
        while ((n = yamux_read(h->st, sink, sizeof sink)) > 0) {
        }
        if (n < 0) {
            h->st->user = NULL;
            yamux_release(h->st);
            t->hello = NULL;
            free(h);
        }
        return;
    }
    while (h->len < sizeof h->buf
           && (n = yamux_read(h->st, h->buf + h->len, sizeof h->buf - h->len)) > 0) {
        h->len += (size_t)n;
    }
    long m = hello_parse(h->buf, h->len, &hl);
    if (m == 0 && h->len < sizeof h->buf && h->st->state != YAMUX_S_REMOTE_CLOSED
        && h->st->state != YAMUX_S_CLOSED && h->st->state != YAMUX_S_RESET) {
        return;                                   /* more to come */
    }
    if (m <= 0) {
        if (m == HELLO_EVERSION) {
            snprintf(why, sizeof why, "hello version %u not supported (this relay speaks %d)",
                     h->len > 1 ? h->buf[1] : 0, HELLO_VERSION);
        } else {
            snprintf(why, sizeof why, "bad hello: %s",
                     m == 0 ? "stream ended early" : hello_strerror(m));
        }
    } else if (strcmp(hl.location, t->loc->id) != 0) {
        snprintf(why, sizeof why, "hello names location \"%s\" but the certificate says \"%s\"",
                 hl.location, t->loc->id);
    } else {
        why[0] = 0;
    }
    if (why[0]) {
        hello_answer(h, HELLO_ST_REFUSED, why);
        push_output(t);
        relay_m.tunnels_refused++;
        tunnel_close(t, why);
        return;
    }
    if (t->loc->nlive == RELAY_TUNNELS_PER_LOC) {
        snprintf(why, sizeof why, "location already has %d live tunnels", RELAY_TUNNELS_PER_LOC);
        hello_answer(h, HELLO_ST_REFUSED, why);
        push_output(t);
        relay_m.tunnels_refused++;
        tunnel_close(t, why);
        return;
    }
    snprintf(t->hostname, sizeof t->hostname, "%s", hl.hostname);
    snprintf(t->firmware, sizeof t->firmware, "%s", hl.firmware);
    hello_answer(h, HELLO_ST_OK, "welcome");
    t->state = TUN_READY;
    t->opened_ms = relay_now_ms();
    relay_m.handshakes_pending--;
    relay_m.tunnels_up++;
    t->loc->live[t->loc->nlive++] = t;
    char cert[65];
    relay_hex(t->cert_sha256, 32, cert);
    log_info("tunnel up: location=%s tunnel=%u peer=%s host=\"%s\" firmware=\"%s\" live=%u "
             "cert=%s", t->loc->id, t->serial, t->peer, t->hostname, t->firmware,
             t->loc->nlive, cert);
}

/* ---- the service routine ---- */

static void accept_streams(struct tunnel *t)
{
    struct yamux_stream *st;
    if (t->state == TUN_HELLO && t->hello == NULL && (st = yamux_accept(&t->ys)) != NULL) {
        struct hello_rx *h = calloc(1, sizeof *h);
        if (h == NULL) {
            yamux_release(st);
            return;
        }
        h->kind = SK_HELLO;
        h->st = st;
        st->user = h;
        t->hello = h;
        hello_service(t, h);
    }
    while (t->state == TUN_READY && (st = yamux_accept(&t->ys)) != NULL) {
        t->streams_total++;
        delivery_start(t, st);
    }
}

static void dispatch(struct tunnel *t)
{
    struct yamux_stream *st;
    unsigned ev;
    while (t->state != TUN_DEAD && (st = yamux_poll(&t->ys, &ev)) != NULL) {
        void *owner = st->user;
        if (owner == NULL) {
            continue;
        }
        switch (*(enum stream_kind *)owner) {
        case SK_HELLO:
            hello_service(t, owner);
            break;
        case SK_SOCKS:
            socks_on_stream(owner, ev);
            break;
        case SK_DELIVERY:
            delivery_on_stream(owner, ev);
            break;
        }
    }
}

/* Sends the gathered records, then waits for what the engine and the buffer need. */
static void set_mask(struct tunnel *t)
{
    if (tls_io_fd_buf_flush(&t->io) < 0) {
        tunnel_close(t, "connection lost while sending");
        return;
    }
    unsigned w = tls_server_wants(t->tls);
    if (tls_io_fd_buf_pending(&t->io) > 0) {
        w |= TLS_WANT_WRITE;
    }
    relay_ev_mask(&t->ev, (w & TLS_WANT_READ ? EPOLLIN : 0u) | (w & TLS_WANT_WRITE ? EPOLLOUT : 0u));
}

/* TLS reads fed to yamux per service round before the streams are served. */
#define INPUT_CHUNKS_PER_ROUND 4

/* Decrypted bytes wait in the engine and yamux has taken everything read before. */
static int input_ready(const struct tunnel *t)
{
    return t->in_off == t->in_len && tls_server_readable(t->tls) > 0;
}

static void service(struct tunnel *t)
{
    char why[VERDICT_MAX + 40];
    enum tls_state ts = tls_server_pump(t->tls);
    if (t->state == TUN_HANDSHAKE) {
        if (ts == TLS_ST_HANDSHAKE) {
            set_mask(t);
            return;
        }
        if (ts != TLS_ST_OPEN) {
            relay_m.handshake_failures++;
            tunnel_close(t, tls_server_verdict(t->tls));
            return;
        }
        if (handshake_done(t) != 0) {
            return;
        }
    }
    if (yamux_tick(&t->ys, (uint32_t)relay_now_ms()) != YAMUX_OK) {
        tunnel_close(t, t->ys.state == YAMUX_SS_DEAD ? "link dead: no ping reply"
                                                     : "yamux protocol error");
        return;
    }
    for (int round = 0; round < 256 && t->state != TUN_DEAD; round++) {
        int progress = 0;
        /* Several records' plaintext into yamux before its streams are served: a SOCKS5
         * client then gets one send() per 16 KiB, not one per 4 KiB record. */
        for (int chunk = 0; chunk < INPUT_CHUNKS_PER_ROUND; chunk++) {
            if (t->in_off < t->in_len) {
                long k = yamux_input(&t->ys, t->in + t->in_off, t->in_len - t->in_off);
                if (k < 0) {
                    push_output(t);             /* the GoAway */
                    tunnel_close(t, "yamux protocol error from the gateway");
                    return;
                }
                t->in_off += (size_t)k;
                progress |= k > 0;
                if (t->in_off < t->in_len) {
                    break;                      /* the receive pool is full */
                }
            }
            long n = tls_server_read(t->tls, t->in, sizeof t->in);
            if (n < 0) {
                snprintf(why, sizeof why, "%s", n == TLS_IO_EOF ? "closed by the gateway"
                         : tls_server_verdict(t->tls));
                tunnel_close(t, why);
                return;
            }
            if (n == 0) {
                break;
            }
            t->in_len = (size_t)n;
            t->in_off = 0;
            progress = 1;
        }
        accept_streams(t);
        dispatch(t);
        if (t->state == TUN_DEAD) {
            return;
        }
        int pushed = push_output(t);
        if (pushed < 0) {
            tunnel_close(t, tls_server_verdict(t->tls));
            return;
        }
        progress |= pushed;
        if (tls_server_pump(t->tls) == TLS_ST_FAILED) {
            tunnel_close(t, tls_server_verdict(t->tls));
            return;
        }
        /* The round's records leave together, now: a WindowUpdate held to the end of a
         * long service would stall the gateway's sender (measured: downloads -18 %). */
        if (tls_io_fd_buf_flush(&t->io) < 0) {
            tunnel_close(t, "connection lost while sending");
            return;
        }
        /* The pump may have completed a record: the engine then asks for no reads until the
         * record's plaintext is taken, so sleeping on the socket now would stall (until the
         * next timer tick, up to 100 ms: measured, every few ms under a download). */
        progress |= input_ready(t);
        if (!progress) {
            break;
        }
    }
    if (input_ready(t)) {
        tunnel_mark_dirty(t);                   /* the round limit was reached */
    }
    set_mask(t);
}

/* see relay.h */
void tunnel_mark_dirty(struct tunnel *t)
{
    if (t && !t->dirty && t->state != TUN_DEAD) {
        t->dirty = 1;
        t->next_dirty = dirty_head;
        dirty_head = t;
    }
}

/* see relay.h */
int tunnel_dirty_pending(void)
{
    return dirty_head != NULL;
}

/* see relay.h */
void tunnel_run_dirty(void)
{
    for (int round = 0; round < 64 && dirty_head; round++) {
        struct tunnel *list = dirty_head;
        dirty_head = NULL;
        while (list) {
            struct tunnel *t = list;
            list = t->next_dirty;
            t->dirty = 0;
            if (t->state != TUN_DEAD) {
                service(t);
            }
        }
    }
}

static void on_tunnel_event(struct relay_ev *ev, uint32_t events)
{
    struct tunnel *t = (struct tunnel *)(void *)ev;   /* ev is the first member */
    (void)events;
    service(t);
}

/* see relay.h */
void tunnel_timers(uint64_t now)
{
    for (unsigned i = 0; i < RELAY_TUNNELS_MAX; i++) {
        struct tunnel *t = tunnels[i];
        if (t == NULL) {
            continue;
        }
        if ((t->state == TUN_HANDSHAKE || t->state == TUN_HELLO) && now >= t->deadline_ms) {
            relay_m.handshake_failures++;
            tunnel_close(t, t->state == TUN_HANDSHAKE ? "handshake deadline passed"
                                                      : "no hello before the deadline");
        } else if (t->state != TUN_HANDSHAKE) {
            tunnel_mark_dirty(t);                   /* keepalive */
        }
    }
}

/* see relay.h */
unsigned tunnel_recheck(void)
{
    char why[200], hex[65];
    unsigned closed = 0;
    for (unsigned i = 0; i < RELAY_TUNNELS_MAX; i++) {
        struct tunnel *t = tunnels[i];
        if (t == NULL || t->loc == NULL || t->state == TUN_DEAD) {
            continue;                           /* still in the handshake: checked at its end */
        }
        relay_hex(t->cert_sha256, 32, hex);
        if (relay_revoked(&relay_cfg, t->cert_sha256)) {
            snprintf(why, sizeof why, "certificate sha256=%s is revoked", hex);
        } else if (t->loc->removed) {
            snprintf(why, sizeof why, "location removed from the configuration");
        } else {
            continue;
        }
        relay_m.tunnels_refused += t->state != TUN_READY;
        tunnel_close(t, why);
        closed++;
    }
    return closed;
}

/* see relay.h */
struct tunnel *tunnel_pick(struct location *loc)
{
    for (unsigned k = 0; k < loc->nlive; k++) {
        struct tunnel *t = loc->live[(loc->rr + k) % loc->nlive];
        if (t->state == TUN_READY && t->ys.state == YAMUX_SS_OPEN && t->ys.goaway_recv < 0
            && yamux_stream_count(&t->ys) < t->ys.cfg.max_streams) {
            loc->rr = (loc->rr + k + 1) % loc->nlive;
            return t;
        }
    }
    return NULL;
}

static void on_accept(struct relay_ev *ev, uint32_t events)
{
    static uint64_t last_warn;
    (void)events;
    for (int i = 0; i < 64; i++) {
        int fd = relay_accept(ev->fd);
        if (fd < 0) {
            return;
        }
        relay_m.tunnels_accepted++;
        unsigned slot = RELAY_TUNNELS_MAX;
        for (unsigned k = 0; k < RELAY_TUNNELS_MAX && slot == RELAY_TUNNELS_MAX; k++) {
            slot = tunnels[k] ? slot : k;
        }
        struct tunnel *t = NULL;
        if (relay_m.handshakes_pending >= RELAY_HANDSHAKES_MAX || slot == RELAY_TUNNELS_MAX
            || (t = calloc(1, sizeof *t)) == NULL || (t->tls = malloc(sizeof *t->tls)) == NULL) {
            uint64_t now = relay_now_ms();
            relay_m.handshakes_refused++;
            if (now - last_warn > 1000) {
                log_warnx("%s: %u handshakes pending, %u tunnels: connection refused",
                          __func__, relay_m.handshakes_pending, relay_m.tunnels_open);
                last_warn = now;
            }
            if (t) {
                free(t);
            }
            close(fd);
            continue;
        }
        relay_sock_tune(fd);
        t->serial = ++next_serial;
        relay_peer_name(fd, t->peer, sizeof t->peer);
        t->ev.fn = on_tunnel_event;
        t->state = TUN_HANDSHAKE;
        t->deadline_ms = relay_now_ms() + RELAY_HANDSHAKE_MS;
        struct tls_io io = { tls_io_fd_buf_send, tls_io_fd_buf_recv, &t->io };
        t->ev.fd = fd;
        t->io.fd = fd;
        if (tls_server_start(t->tls, &relay_id, (int64_t)time(NULL), &io) != 0
            || relay_ev_add(&t->ev, fd, EPOLLIN) != 0) {
            log_err("%s: cannot start TLS: %s", __func__, tls_server_verdict(t->tls));
            close(fd);
            free(t->tls);
            free(t);
            continue;
        }
        tunnels[slot] = t;
        relay_m.tunnels_open++;
        relay_m.handshakes_pending++;
        tunnel_mark_dirty(t);
    }
}

/* see relay.h */
void tunnel_listener_start(int fd)
{
    listen_ev.fn = on_accept;
    relay_ev_add(&listen_ev, fd, EPOLLIN);
}
