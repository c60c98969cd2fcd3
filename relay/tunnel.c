/* relay tunnels: a connection admitted with its ClientHello (admit.c) gets a tunnel: TLS
 * with a required client certificate, run to its end by a handshake thread (hspool.c);
 * back in the loop, the certificate's CN must be a configured location, then a yamux
 * server session, hello on the first gateway-opened stream (the certificate's purpose and
 * the hello: tunnel_hello.c), then streams both ways. One log line per tunnel event.
 *
 * Memory. Each tunnel is one anonymous mapping (MAP_NORESERVE), laid out so that the parts
 * an idle tunnel touches share as few pages as possible, and the rest is committed by the
 * kernel only while used:
 *
 *   struct tunnel (TLS engine state, yamux session; ~5.6 KiB)   always
 *   yamux stream table (streams x 80 B), receive pool, output queue
 *       the table always; the pool's and queue's pages as data passes through them
 *   the chain checker (7,360 B)      during the handshake; its pages are given back then
 *   TLS input buffer (16,709 B), output buffer (16,469 B), each on pages of its own
 *
 * A tunnel that only says hello and answers pings touches the first page of each TLS buffer
 * (test_relay_tls); one moving data (the gateway sends full 16 KiB records) uses them whole
 * until the trim below. The socket's read-ahead and gathered records (97 KiB) are taken
 * from a pool only while they hold bytes (iobuf.c). And once a tunnel has been quiet for a
 * second after moving data, the pages of its TLS buffers, its yamux output queue and (when
 * no stream holds any) its receive pool are given back (MADV_DONTNEED), all but the first
 * page of each, which keepalive pings touch anyway (trim). What an idle tunnel then costs
 * is the struct and stream table, a page of the pool, one of the output queue and one of
 * each TLS buffer: about 28 KiB with the default limits (bench/results.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tunnel_int.h"
#include "text_escape.h"
#include "tls_io_fd.h"

#define TRIM_MIN 4096                /* bytes moved since the last trim worth a trim */
#define TIMER_SLICES 10              /* tunnel_timers (every 100 ms) visits a tenth of them */
#define INPUT_CHUNKS_PER_ROUND 8     /* TLS records fed to yamux per round before the
                                        streams are served */
#define SERVICE_ROUNDS 32            /* rounds per service: at most ~1 MiB of records, then
                                        the tunnel waits for its next turn (fairness and the
                                        echo latency of the others, bench/results.md) */

static struct tunnel *head;          /* hello and ready tunnels */
static struct tunnel *cursor;        /* the next one tunnel_timers visits */
static unsigned nlisted;
static struct tunnel *dirty_head;
static struct tunnel *blocked_head;  /* input cut short by a full pool: feed again soon */
static unsigned next_serial;

static const char *const state_names[] = { "handshake", "hello", "ready", "dead" };

/* ---- memory layout (set once by tunnel_init) ---- */

static size_t page;
static struct yamux_config ycfg;
static size_t off_ymem, ymem_len, off_check, off_ibuf, off_obuf, map_len;

static size_t page_up(size_t n)
{
    return (n + page - 1) & ~(page - 1);
}

static size_t page_down(size_t n)
{
    return n & ~(page - 1);
}

static size_t page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

static struct yamux_config yamux_for(const struct relay_limits *lim)
{
    unsigned streams = lim->location_streams + lim->location_deliveries;
    size_t pool = (size_t)streams * YAMUX_INITIAL_WINDOW;
    return (struct yamux_config){
        .client = 0,
        /* every stream the location may have on this one tunnel, the hello stream and one
         * to answer a delivery beyond the limit with "quota"; 80 B each, all committed */
        .max_streams = streams + 2,
        .window = YAMUX_INITIAL_WINDOW,
        /* a window per stream: no stream waits for another's reader until the pool policy
         * steps in; bounded, and an unused pool costs address space only */
        .rx_pool = pool < RELAY_YAMUX_POOL_MAX ? pool : RELAY_YAMUX_POOL_MAX,
        .out_cap = RELAY_YAMUX_OUT,
        .keepalive_ms = RELAY_KEEPALIVE_MS,
        .dead_ms = RELAY_DEAD_MS,
    };
}

/* see relay.h */
int tunnel_sizes(const struct relay_limits *lim, size_t *map, size_t *idle)
{
    size_t pg = page_size();
    struct yamux_config yc = yamux_for(lim);
    size_t ylen = yamux_mem_size(&yc);
    if (ylen == 0) {
        return -1;
    }
    size_t up = pg - 1, oym = (sizeof(struct tunnel) + 7u) & ~(size_t)7u;
    size_t ochk = (oym + ylen + up) & ~up;
    size_t oin = (ochk + sizeof(struct tls_peer_check) + up) & ~up;
    size_t oout = (oin + TLS_SERVER_IBUF + up) & ~up;
    *map = (oout + TLS_SERVER_OBUF + up) & ~up;
    /* the struct, the stream table and the pool's first chunk (hello); a page of the
     * output queue and of each TLS buffer */
    size_t hot = oym + (size_t)yc.max_streams * sizeof(struct yamux_stream) + YAMUX_CHUNK;
    *idle = ((hot + up) & ~up) + 3 * pg;
    return 0;
}

/* see relay.h */
int tunnel_init(void)
{
    size_t idle;
    page = page_size();
    ycfg = yamux_for(&relay_cfg.lim);
    if (tunnel_sizes(&relay_cfg.lim, &map_len, &idle) != 0) {
        return -1;
    }
    ymem_len = yamux_mem_size(&ycfg);
    off_ymem = (sizeof(struct tunnel) + 7u) & ~(size_t)7u;
    off_check = page_up(off_ymem + ymem_len);
    off_ibuf = page_up(off_check + sizeof(struct tls_peer_check));
    off_obuf = page_up(off_ibuf + TLS_SERVER_IBUF);
    return 0;
}

/* Gives [from, to) back to the kernel, rounded inwards to whole pages. */
static void give_back(const uint8_t *from, const uint8_t *to)
{
    size_t a = page_up((size_t)(uintptr_t)from), b = page_down((size_t)(uintptr_t)to);
    if (b > a) {
        madvise((void *)(uintptr_t)a, b - a, MADV_DONTNEED);
    }
}

/* ---- the socket under TLS (any thread: the tunnel's owner) ---- */

/* see relay.h */
long tunnel_io_send(void *arg, const uint8_t *p, size_t len)
{
    struct tunnel *t = arg;
    if (t->iob == NULL && (t->iob = iobuf_get()) == NULL) {
        return 0;                            /* no memory now: the records wait */
    }
    t->iob->fd = t->ev.fd;
    long n = tls_io_fd_buf_send(t->iob, p, len);
    t->moved += n > 0 ? (uint64_t)n : 0;
    return n;
}

/* see relay.h */
long tunnel_io_recv(void *arg, uint8_t *p, size_t len)
{
    struct tunnel *t = arg;
    long n;
    /* Each record sent pumps the engine, which asks for input: a socket epoll has not
     * called readable since a read came back empty is not asked again (under an upload
     * two recv() in three failed). Read-ahead already buffered is still given. */
    int buffered = t->iob && t->iob->roff < t->iob->rlen;
    if (t->rx_dry && !buffered && t->state != TUN_HANDSHAKE) {
        return 0;
    }
    if (t->iob == NULL && len >= TLS_IO_FD_RBUF) {
        n = tls_io_fd_recv(&t->ev.fd, p, len);      /* as large: no read-ahead needed */
    } else if (t->iob == NULL && (t->iob = iobuf_get()) == NULL) {
        n = tls_io_fd_recv(&t->ev.fd, p, len);
    } else {
        t->iob->fd = t->ev.fd;
        n = tls_io_fd_buf_recv(t->iob, p, len);
    }
    t->moved += n > 0 ? (uint64_t)n : 0;
    t->rx_dry = n == 0;
    return n;
}

/* see relay.h */
long tunnel_io_flush(struct tunnel *t)
{
    return t->iob ? tls_io_fd_buf_flush(t->iob) : 0;
}

/* see relay.h */
void tunnel_io_release(struct tunnel *t)
{
    struct tls_io_fd_buf *b = t->iob;
    if (b && b->roff == b->rlen && tls_io_fd_buf_pending(b) == 0) {
        iobuf_put(b);
        t->iob = NULL;
    }
}

/* ---- life and death ---- */

static void tunnel_free(void *p)
{
    struct tunnel *t = p;
    if (t->dirty) {                          /* closed after it was marked: unlink */
        for (struct tunnel **pp = &dirty_head; *pp; pp = &(*pp)->next_dirty) {
            if (*pp == t) {
                *pp = t->next_dirty;
                break;
            }
        }
    }
    if (t->blocked) {
        for (struct tunnel **pp = &blocked_head; *pp; pp = &(*pp)->next_blocked) {
            if (*pp == t) {
                *pp = t->next_blocked;
                break;
            }
        }
    }
    iobuf_put(t->iob);
    /* Session keys and all: the pages go back to the kernel, which zeroes them. */
    munmap(t, t->map_len);
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

/* see tunnel_int.h: as far as they go now */
int tunnel_push_output(struct tunnel *t)
{
    const uint8_t *p;
    size_t n;
    int moved = 0;
    while ((n = yamux_out_peek(&t->ys, &p)) > 0) {
        long w = tls_server_write(&t->tls, p, n);
        if (w <= 0) {
            return w < 0 ? -1 : moved;
        }
        yamux_out_consume(&t->ys, (size_t)w);
        moved = 1;
    }
    return moved;
}

static void unlist(struct tunnel *t)
{
    if (cursor == t) {
        cursor = t->next;
    }
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        head = t->next;
    }
    if (t->next) {
        t->next->prev = t->prev;
    }
    t->prev = t->next = NULL;
    nlisted--;
}

/* Closes t and logs why: `tunnel down` for a tunnel that was up, else `tunnel refused`,
 * every time, or (rf < RF_COUNT: a refusal anyone can cause) counted under rf and logged
 * at most once a second. */
void tunnel_close(struct tunnel *t, const char *why, enum refusal rf)
{
    uint64_t now = relay_now_ms();
    if (t->state == TUN_DEAD) {
        return;
    }
    if (t->unauthenticated) {
        t->unauthenticated = 0;
        admit_release(t->src);
    }
    if (t->state == TUN_READY) {
        struct location *loc = t->loc;
        for (unsigned i = 0; i < loc->nlive; i++) {
            if (loc->live[i] == t) {
                loc->live[i] = loc->live[--loc->nlive];
                break;
            }
        }
        relay_m.tunnels_ready--;
        log_info("tunnel down: location=%s tunnel=%u peer=%s reason=\"%s\" up=%.1fs "
                 "streams=%llu live=%u", loc->id, t->serial, t->peer, why,
                 (double)(now - t->opened_ms) / 1000.0, (unsigned long long)t->streams_total,
                 loc->nlive);
    } else {
        unsigned n = rf < RF_COUNT ? refusal(rf) : 1;
        if (n > 1) {
            log_info("tunnel refused: peer=%s tunnel=%u stage=%s%s%s reason=\"%s\" (%u like it "
                     "since the last such line)", t->peer, t->serial, state_names[t->state],
                     t->loc ? " location=" : "", t->loc ? t->loc->id : "", why, n);
        } else if (n == 1) {
            log_info("tunnel refused: peer=%s tunnel=%u stage=%s%s%s reason=\"%s\"", t->peer,
                     t->serial, state_names[t->state], t->loc ? " location=" : "",
                     t->loc ? t->loc->id : "", why);
        }
    }
    if (t->state == TUN_HELLO || t->state == TUN_READY) {
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
        if (t->tls.engine.state == TLS_ST_OPEN) {
            yamux_goaway(&t->ys, YAMUX_GOAWAY_NORMAL);
            tunnel_push_output(t);
        }
        unlist(t);
    }
    if (t->tls.engine.state == TLS_ST_OPEN) {
        tls_server_close(&t->tls);
    }
    (void)tunnel_io_flush(t);                /* GoAway and close_notify, as far as they go */
    relay_ev_del(&t->ev);
    t->state = TUN_DEAD;
    relay_m.tunnels_open--;
    relay_m.tunnel_closes++;
    relay_defer_free(t, tunnel_free);
}

/* see relay.h */
void tunnel_start(int fd, uint32_t src, const char *peer, uint64_t deadline_ms)
{
    void *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        if (refusal(RF_MEMORY)) {
            log_warnx("tunnel refused: peer=%s stage=handshake reason=\"out of memory (%s)\"",
                      peer, strerror(errno));
        }
        close(fd);
        admit_release(src);
        return;
    }
    struct tunnel *t = m;                    /* the mapping is zeroed */
    uint8_t *base = m;
    t->map_len = map_len;
    t->ymem = base + off_ymem;
    t->ymem_len = ymem_len;
    t->check = (struct tls_peer_check *)(void *)(base + off_check);
    t->ibuf = base + off_ibuf;
    t->obuf = base + off_obuf;
    t->ev.fd = fd;
    t->ev.fn = NULL;                         /* not in the loop's set until it comes back */
    t->state = TUN_HANDSHAKE;
    t->serial = ++next_serial;
    t->src = src;
    t->unauthenticated = 1;
    snprintf(t->peer, sizeof t->peer, "%s", peer);
    t->deadline_ms = deadline_ms;
    const struct tls_io io = { tunnel_io_send, tunnel_io_recv, t };
    const struct tls_server_mem mem = { t->check, t->ibuf, t->obuf, TLS_SERVER_IBUF,
                                        TLS_SERVER_OBUF };
    relay_m.tunnels_open++;
    if (tls_server_start(&t->tls, &relay_id, (int64_t)time(NULL), &io, &mem) != 0) {
        log_err("%s: cannot start TLS: %s", __func__, tls_server_verdict(&t->tls));
        tunnel_close(t, tls_server_verdict(&t->tls), RF_COUNT);
        return;
    }
    hspool_submit(t);
}

/* ---- the handshake done (the certificate and the hello: tunnel_hello.c) ---- */

static int stopping;                         /* tunnel_goaway_all: the relay stops */

/* In the loop, the TLS handshake done: the certificate's location, the yamux session. */
static int handshake_done(struct tunnel *t)
{
    if (stopping) {
        relay_m.tunnels_refused++;
        tunnel_close(t, "the relay is stopping", RF_COUNT);
        return -1;
    }
    const char *cn = tls_server_peer_cn(&t->tls);
    struct location *loc = hello_location_valid(cn, strlen(cn)) ? relay_location(cn) : NULL;
    char name[YAMUX_NAME_MAX], why[300];
    int allowed = tunnel_certificate_allowed(t, why, sizeof why);
    /* The checker's pages are not needed again (no renegotiation). */
    tls_server_forget_check(&t->tls);
    give_back((const uint8_t *)t->check, t->ibuf);      /* its pages are its own */
    t->check = NULL;
    if (allowed != 0) {
        relay_m.tunnels_refused++;
        tunnel_close(t, why, RF_COUNT);
        return -1;
    }
    if (loc == NULL) {
        char q[TEXT_QUOTE_FIELD_SIZE(64)];       /* the CN as a field: its '"' as %22 */
        text_quote_field(q, sizeof q, cn, strlen(cn), NULL);
        snprintf(why, sizeof why, "certificate CN \"%.150s\" is not a configured location", q);
        relay_m.tunnels_refused++;
        tunnel_close(t, why, RF_COUNT);
        return -1;
    }
    t->loc = loc;
    snprintf(name, sizeof name, "%s tunnel %u", loc->id, t->serial);
    struct yamux_config yc = ycfg;
    yc.name = name;
    if (yamux_init(&t->ys, &yc, t->ymem, t->ymem_len, (uint32_t)relay_now_ms()) != 0) {
        tunnel_close(t, "cannot start the yamux session", RF_COUNT);
        return -1;
    }
    t->state = TUN_HELLO;
    t->next = head;
    if (head) {
        head->prev = t;
    }
    head = t;
    nlisted++;
    return 0;
}

static void service(struct tunnel *t);

static void on_tunnel_event(struct relay_ev *ev, uint32_t events)
{
    struct tunnel *t = (struct tunnel *)(void *)ev;   /* ev is the first member */
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        t->rx_dry = 0;
    }
    service(t);
}

/* see relay.h */
void tunnel_handshake_ended(struct tunnel *t)
{
    char why[VERDICT_MAX + 40];
    enum tls_state ts = t->tls.engine.state;
    if (t->hs_timeout > 0 || (ts == TLS_ST_HANDSHAKE && t->hs_timeout == 0)) {
        relay_m.handshake_failures++;
        snprintf(why, sizeof why, "handshake deadline passed (limit handshake: %u s)",
                 relay_cfg.lim.handshake_s);
        tunnel_close(t, why, RF_HANDSHAKE_TIME);
        return;
    }
    if (t->hs_timeout < 0 || ts != TLS_ST_OPEN) {
        relay_m.handshake_failures++;
        snprintf(why, sizeof why, "%s", ts == TLS_ST_OPEN || ts == TLS_ST_HANDSHAKE
                 ? "connection lost while sending" : tls_server_verdict(&t->tls));
        tunnel_close(t, why, RF_TLS);
        return;
    }
    relay_m.handshakes_done++;
    if (handshake_done(t) != 0) {
        return;
    }
    t->ev.fn = on_tunnel_event;
    if (relay_ev_add(&t->ev, t->ev.fd, EPOLLIN) != 0) {
        tunnel_close(t, "connection lost", RF_COUNT);
        return;
    }
    tunnel_mark_dirty(t);                    /* hello may be in already */
}

/* ---- the service routine ---- */

static void accept_streams(struct tunnel *t)
{
    struct yamux_stream *st;
    if (t->state == TUN_HELLO && t->hello == NULL && (st = yamux_accept(&t->ys)) != NULL) {
        tunnel_hello_start(t, st);
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
            tunnel_hello_service(t, owner);
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
    if (tunnel_io_flush(t) < 0) {
        tunnel_close(t, "connection lost while sending", RF_COUNT);
        return;
    }
    tunnel_io_release(t);
    unsigned w = tls_server_wants(&t->tls);
    if (t->iob && tls_io_fd_buf_pending(t->iob) > 0) {
        w |= TLS_WANT_WRITE;
    }
    relay_ev_mask(&t->ev,
                  (w & TLS_WANT_READ ? EPOLLIN : 0u) | (w & TLS_WANT_WRITE ? EPOLLOUT : 0u));
}

/* Decrypted bytes wait in the engine and yamux can take them. */
static int input_ready(struct tunnel *t)
{
    return tls_server_readable(&t->tls) > 0 && !yamux_input_blocked(&t->ys);
}

/* Plaintext from the TLS record buffer straight into yamux. Returns 1 when something was
 * taken, 0 when nothing, -1 when the tunnel was closed. */
static int feed_input(struct tunnel *t)
{
    char why[VERDICT_MAX + 40];
    int progress = 0;
    for (int chunk = 0; chunk < INPUT_CHUNKS_PER_ROUND; chunk++) {
        const uint8_t *p;
        size_t n = tls_server_peek(&t->tls, &p);
        if (n == 0) {
            enum tls_state ts = t->tls.engine.state;
            if (ts == TLS_ST_CLOSED || ts == TLS_ST_FAILED) {
                snprintf(why, sizeof why, "%s", ts == TLS_ST_CLOSED ? "closed by the gateway"
                         : tls_server_verdict(&t->tls));
                tunnel_close(t, why, RF_COUNT);
                return -1;
            }
            break;
        }
        long k = yamux_input(&t->ys, p, n);
        if (k < 0) {
            tunnel_push_output(t);                  /* the GoAway */
            tunnel_close(t, "yamux protocol error from the gateway", RF_COUNT);
            return -1;
        }
        tls_server_consume(&t->tls, (size_t)k);
        progress |= k > 0;
        if ((size_t)k < n) {
            break;                           /* the receive pool is full */
        }
    }
    return progress;
}

static void service(struct tunnel *t)
{
    tls_server_pump(&t->tls);
    if (yamux_tick(&t->ys, (uint32_t)relay_now_ms()) != YAMUX_OK) {
        tunnel_close(t, t->ys.state == YAMUX_SS_DEAD ? "link dead: no ping reply"
                                                     : "yamux protocol error", RF_COUNT);
        return;
    }
    for (int round = 0; round < SERVICE_ROUNDS && t->state != TUN_DEAD; round++) {
        int progress = feed_input(t);
        if (progress < 0) {
            return;
        }
        accept_streams(t);
        dispatch(t);
        if (t->state == TUN_DEAD) {
            return;
        }
        int pushed = tunnel_push_output(t);
        if (pushed < 0) {
            tunnel_close(t, tls_server_verdict(&t->tls), RF_COUNT);
            return;
        }
        progress |= pushed;
        if (tls_server_pump(&t->tls) == TLS_ST_FAILED) {
            tunnel_close(t, tls_server_verdict(&t->tls), RF_COUNT);
            return;
        }
        /* The round's records leave together, now: a WindowUpdate held to the end of a
         * long service would stall the gateway's sender (measured: downloads -18 %). */
        if (tunnel_io_flush(t) < 0) {
            tunnel_close(t, "connection lost while sending", RF_COUNT);
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
    if (t->tls.engine.state == TLS_ST_CLOSED && tls_server_readable(&t->tls) == 0) {
        /* A pump after this round's feed_input read the gateway's close (its FIN came
         * while we answered): the engine wants nothing from the socket any more, so no
         * event would ever come to notice it. feed_input says why and closes. */
        feed_input(t);
        return;
    }
    if (input_ready(t)) {
        tunnel_mark_dirty(t);                /* the round limit was reached */
    } else if (yamux_input_blocked(&t->ys) && !t->blocked) {
        /* The pool is full: room is made at input time (the pool policy), so input must be
         * fed again soon even if no stream's reader wakes the tunnel: at the next tick. */
        t->blocked = 1;
        t->next_blocked = blocked_head;
        blocked_head = t;
    }
    set_mask(t);
}

/* see relay.h */
void tunnel_mark_dirty(struct tunnel *t)
{
    if (t && !t->dirty && (t->state == TUN_HELLO || t->state == TUN_READY)) {
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
            t->next_dirty = NULL;
            if (t->state == TUN_HELLO || t->state == TUN_READY) {
                service(t);
            }
        }
    }
}

/* An idle tunnel's buffers back to the kernel (the header comment says which). */
static void trim(struct tunnel *t)
{
    struct yamux_session *ys = &t->ys;
    if (t->iob || !tls_server_quiescent(&t->tls) || yamux_out_pending(ys) > 0) {
        return;
    }
    give_back(t->ibuf + page, t->ibuf + TLS_SERVER_IBUF);
    give_back(t->obuf + page, t->obuf + TLS_SERVER_OBUF);
    give_back(ys->out + page, ys->out + ys->cfg.out_cap);
    if (ys->chunks_free == ys->nchunks) {
        /* No stream holds a chunk: the pool is taken back to the state yamux_init leaves
         * it in (nothing on the free list, every chunk fresh), so no freed chunk's link
         * lives on a page given back. The first chunks stay: keepalive and hello use them. */
        const uint8_t *pool = (const uint8_t *)ys->chunks;
        ys->free_chunk = YAMUX_NONE;
        ys->fresh_chunk = 0;
        give_back(pool + 2 * YAMUX_CHUNK, pool + (size_t)ys->nchunks * YAMUX_CHUNK);
    }
    relay_m.trims++;
}

static void visit(struct tunnel *t, uint64_t now)
{
    char why[120];
    if (t->state == TUN_HELLO && now >= t->deadline_ms) {
        relay_m.handshake_failures++;
        snprintf(why, sizeof why, "no hello before the deadline (limit handshake: %u s)",
                 relay_cfg.lim.handshake_s);
        tunnel_close(t, why, RF_HANDSHAKE_TIME);
        return;
    }
    /* Keepalive: a ping due, or the link found dead, is the service routine's to send or
     * to close; a tunnel with nothing to do is not woken. */
    if (yamux_tick(&t->ys, (uint32_t)now) != YAMUX_OK || yamux_out_pending(&t->ys) > 0) {
        tunnel_mark_dirty(t);
        return;
    }
    /* Quiet since the last visit, after moving data: its buffers can go back. */
    if (t->state == TUN_READY && t->moved >= TRIM_MIN && t->moved == t->moved_seen) {
        trim(t);
        t->moved = 0;
    }
    t->moved_seen = t->moved;
}

/* see relay.h */
void tunnel_timers(uint64_t now)
{
    /* A tenth of the tunnels each tick (every 100 ms): each is looked at once a second,
     * and 10,000 idle tunnels cost 10,000 visits a second, not 100,000. */
    unsigned quota = nlisted / TIMER_SLICES + 1;
    while (blocked_head) {
        struct tunnel *t = blocked_head;
        blocked_head = t->next_blocked;
        t->blocked = 0;
        t->next_blocked = NULL;
        tunnel_mark_dirty(t);
    }
    for (unsigned k = 0; k < quota && head; k++) {
        struct tunnel *t = cursor ? cursor : head;
        cursor = t->next;
        visit(t, now);
    }
}

/* see relay.h */
unsigned tunnel_recheck(void)
{
    char why[200], hex[65];
    unsigned closed = 0;
    for (struct tunnel *t = head, *next; t; t = next) {
        next = t->next;
        if (t->loc == NULL || t->state == TUN_DEAD) {
            continue;
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
        tunnel_close(t, why, RF_COUNT);
        closed++;
    }
    return closed;
}

/* see relay.h */
unsigned tunnel_goaway_all(void)
{
    unsigned n = 0;
    stopping = 1;
    for (struct tunnel *t = head; t; t = t->next) {
        if ((t->state == TUN_HELLO || t->state == TUN_READY) && t->ys.state == YAMUX_SS_OPEN) {
            yamux_goaway(&t->ys, YAMUX_GOAWAY_NORMAL);
            tunnel_mark_dirty(t);            /* its service sends it */
            n++;
        }
    }
    return n;
}

/* see relay.h */
void tunnel_close_all(const char *why)
{
    for (struct tunnel *t = head, *next; t; t = next) {
        next = t->next;
        tunnel_close(t, why, RF_COUNT);
    }
}

/* see relay.h */
struct tunnel *tunnel_pick(struct location *loc)
{
    for (unsigned k = 0; k < loc->nlive; k++) {
        struct tunnel *t = loc->live[(loc->rr + k) % loc->nlive];
        if (t->state == TUN_READY && yamux_can_open(&t->ys)) {
            loc->rr = (loc->rr + k + 1) % loc->nlive;
            return t;
        }
    }
    return NULL;
}
