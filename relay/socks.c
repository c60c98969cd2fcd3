/* relay SOCKS5 entry: method negotiation, then the credentials (socks_auth.c: RFC 1929
 * with user = Location ID and password = token, or SAP's method 0x80 with a JWT). Then the
 * client's CONNECT request goes, byte for byte, onto a new yamux stream to a live tunnel of
 * that location; the gateway's reply comes back byte for byte (for a 0x80 client, SAP's
 * meaning of 0x05 is authentication failure, so a refused connection is passed on as
 * 0x04), then bytes are spliced both ways with half-close forwarded. Buffers are bounded:
 * a side whose peer cannot take more is not read. One log line per client; peer text in it
 * is quoted.
 *
 * Limits (relay.h): `socks` clients at once, of which `socks-per-source` not yet
 * authenticated from one address; greeting, authentication and request within
 * `socks-auth` seconds; `location-streams` streams per location over all its tunnels (one
 * location's token cannot take every slot); a stream with no byte either way for
 * `socks-idle` seconds is closed. An idle client costs ~1 KiB: its splice buffers are
 * taken only while they hold bytes (a 0x80 request's buffer likewise, socks_auth.c).
 * Refusals are counted and logged (refuse.c). Each session keeps what it authenticated
 * with (the token's hash, or the issuer line's id), so a reload that withdraws it closes
 * the session (socks_recheck). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include "log.h"
#include "socks_int.h"
#include "text_escape.h"

static struct relay_ev listen_ev;
static struct socks *head, *cursor;
static unsigned nclients;
static struct socks *held;       /* 0x80 clients whose reply goes out alone for a while */

/* SAP's clients (the Cloud SDK's mail client: socks 2.x, then nodemailer) lose whatever
 * arrives together with the CONNECT reply: the socks library re-emits it before the SMTP
 * code listens. An SMTP server greets at once, and the gateway sends its greeting right
 * behind the reply, so the relay sends a 0x80 client its reply alone, and what follows only
 * when the client has sent something or after RELAY_SAP_REPLY_HOLD_MS (the next timer
 * tick or two: 100 to 200 ms, once per connection). */
#define RELAY_SAP_REPLY_HOLD_MS 100

static void hold_release(struct socks *s)
{
    if (s->hold_until == 0) {
        return;
    }
    s->hold_until = 0;
    if (s->hprev) {
        s->hprev->hnext = s->hnext;
    } else {
        held = s->hnext;
    }
    if (s->hnext) {
        s->hnext->hprev = s->hprev;
    }
    s->hprev = s->hnext = NULL;
}

/* How far g2c may be sent now. */
static size_t send_limit(const struct socks *s)
{
    return s->hold_until ? s->hold_lim : s->g2c_len;
}
static struct srclimit sources;

#define TIMER_SLICES 10          /* socks_timers (every 100 ms) looks at a tenth of them */
#define PUMPS_PER_WAKE 16        /* pumps: a client's share of one loop turn (16 x 16 KiB up,
                                    at most 16 x 64 KiB down), so that 100 busy streams leave
                                    the loop within milliseconds */

/* ---- splice buffers: taken while they hold bytes, so an idle client costs ~1 KiB ---- */

struct spare_buf {
    struct spare_buf *next;
};
struct buf_pool {
    size_t size;
    unsigned kept;                       /* free buffers kept for reuse */
    unsigned n;
    struct spare_buf *spares;
};
/* Up (client to stream) 16 KiB; down 64 KiB: each send() to the client wakes it, and four
 * records per send() took a third off the relay's CPU per GB in `make bench`'s 1-stream
 * download (bench/README.md round 12). Up, 64 KiB saved nothing. Spares: 4 MiB each. */
static struct buf_pool pool_c2g = { RELAY_SPLICE_UP, 256, 0, NULL };
static struct buf_pool pool_g2c = { RELAY_SPLICE_DOWN, 64, 0, NULL };

static uint8_t *buf_get(struct buf_pool *pool, uint8_t **slot)
{
    if (*slot == NULL) {
        if (pool->spares) {
            *slot = (uint8_t *)pool->spares;
            pool->spares = pool->spares->next;
            pool->n--;
        } else {
            *slot = malloc(pool->size);
        }
    }
    return *slot;
}

static void buf_put(struct buf_pool *pool, uint8_t **slot)
{
    if (*slot && pool->n < pool->kept) {
        struct spare_buf *b = (struct spare_buf *)(void *)*slot;
        b->next = pool->spares;
        pool->spares = b;
        pool->n++;
    } else {
        free(*slot);
    }
    *slot = NULL;
}

static void socks_free(void *p)
{
    struct socks *s = p;
    buf_put(&pool_c2g, &s->c2g);
    buf_put(&pool_g2c, &s->g2c);
    socks_jbuf_free(s);
    free(s);
}

/* see socks_int.h */
void socks_finish(struct socks *s, const char *verdict)
{
    if (s->state == SS_DEAD) {
        return;
    }
    if (verdict) {
        s->verdict = verdict;
    }
    if (s->rep >= 0 || s->loc || s->cred != CRED_NONE) {
        /* The target is the client's text: quoted, its '"' as %22, so it cannot end the
         * field and add fields of its own (the log escapes the rest). */
        char target[TEXT_QUOTE_FIELD_SIZE(sizeof s->target)];
        text_quote_field(target, sizeof target, s->target, strlen(s->target), NULL);
        log_info("stream: location=%s tunnel=%u client=%s target=%s%s%s up=%llu down=%llu "
                 "duration=%.3fs verdict=\"%s\" auth=%s", s->loc ? s->loc->id : "-",
                 s->tunnel_serial, s->peer, s->target[0] ? "\"" : "",
                 s->target[0] ? target : "-", s->target[0] ? "\"" : "",
                 (unsigned long long)s->up, (unsigned long long)s->down,
                 (double)(relay_now_ms() - s->start_ms) / 1000.0, s->verdict,
                 s->method == SOCKS5_M_JWT ? "jwt" : s->method ? "token" : "-");
    }
    socks_jbuf_free(s);
    hold_release(s);
    if (s->st) {
        s->st->user = NULL;
        yamux_release(s->st);        /* RST unless both sides closed */
        tunnel_mark_dirty(s->tun);
        s->st = NULL;
    }
    relay_m.bytes_up += s->up;
    relay_m.bytes_down += s->down;
    relay_ev_del(&s->ev);
    s->state = SS_DEAD;
    relay_m.socks_open--;
    if (s->unauthenticated) {
        s->unauthenticated = 0;
        srclimit_give(&sources, s->src);
    }
    if (s->counted_stream) {
        s->counted_stream = 0;
        s->loc->streams--;
    }
    if (cursor == s) {
        cursor = s->next;
    }
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        head = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    nclients--;
    relay_defer_free(s, socks_free);
}

/* see socks_int.h: handshake answers go out before anything else */
void socks_say(struct socks *s, const uint8_t *p, size_t n)
{
    if (buf_get(&pool_g2c, &s->g2c) && n <= RELAY_SPLICE_DOWN - s->g2c_len) {
        memcpy(s->g2c + s->g2c_len, p, n);
        s->g2c_len += n;
    }
}

static void refuse(struct socks *s, enum socks5_reply rep, const char *verdict)
{
    uint8_t r[SOCKS5_REPLY_LEN];
    socks5_reply_encode(r, rep, NULL, 0);
    socks_say(s, r, sizeof r);
    s->rep = rep;
    s->verdict = verdict;
    relay_m.socks_replies[rep < 9 ? rep : 1]++;
    s->state = SS_FLUSH_CLOSE;
}

/* see socks_int.h: no longer its source's to count */
void socks_authenticated(struct socks *s)
{
    s->state = SS_REQUEST;
    s->unauthenticated = 0;
    srclimit_give(&sources, s->src);
}

/* The request: open a stream on a live tunnel and send the request bytes as received. */
static void connect_request(struct socks *s, const uint8_t *req, size_t n)
{
    if (s->loc->streams >= relay_cfg.lim.location_streams) {
        /* The stream line says it for each client, as for any refused request. */
        (void)refusal(RF_LOCATION_STREAMS);
        snprintf(s->why, sizeof s->why, "location has %u streams open (limit location-streams)",
                 s->loc->streams);
        s->loc->socks_refused++;
        refuse(s, SOCKS5_REP_FAILURE, s->why);
        return;
    }
    struct tunnel *t = tunnel_pick(s->loc);
    struct yamux_stream *st = t ? yamux_open(&t->ys) : NULL;
    if (st == NULL) {
        s->loc->socks_refused++;
        refuse(s, SOCKS5_REP_NOT_CONNECTED, "location not connected (0x03)");
        return;
    }
    if (buf_get(&pool_c2g, &s->c2g) == NULL) {
        yamux_release(st);
        refuse(s, SOCKS5_REP_FAILURE, "relay out of memory");
        return;
    }
    st->user = s;
    s->st = st;
    s->tun = t;
    s->loc->streams++;
    s->counted_stream = 1;
    s->tunnel_serial = t->serial;
    t->streams_total++;
    memcpy(s->c2g, req, n);
    s->c2g_off = 0;
    s->c2g_len = n;
    s->state = SS_WAIT_REPLY;
    s->deadline_ms = relay_now_ms() + RELAY_SOCKS_REPLY_MS;
}

/* Greeting, auth and request from s->hs; returns 1 when it consumed something. */
static int handshake_step(struct socks *s)
{
    long n = 0;
    if (s->state == SS_GREETING) {
        uint8_t m[2];
        uint8_t method = socks_choose_method(s->hs, s->hs_len, &n);
        if (n > 0) {
            socks5_method_encode(m, method);
            socks_say(s, m, 2);
            s->method = method == SOCKS5_M_NOACCEPT ? 0 : method;
            s->state = method == SOCKS5_M_USERPASS ? SS_AUTH
                       : method == SOCKS5_M_JWT ? SS_AUTH_JWT : SS_FLUSH_CLOSE;
            s->verdict = relay_cfg.nissuers
                         ? "no acceptable method (user/password or 0x80 required)"
                         : "no acceptable method (user/password required)";
        }
    } else if (s->state == SS_AUTH_JWT) {
        return socks_jwt_step(s);
    } else if (s->state == SS_AUTH) {
        n = socks_userpass_step(s);
    } else if (s->state == SS_REQUEST) {
        struct socks5_request r;
        n = socks5_request_parse(s->hs, s->hs_len, &r);
        if (n > 0) {
            /* Only a request that parsed names a target: the log never shows one that
             * did not (its "host" would be whatever the client made up, or nothing). */
            snprintf(s->target, sizeof s->target, "%s:%u", r.host, r.port);
            if (s->authz_rf != RF_COUNT) {
                (void)refusal(s->authz_rf);
                refuse(s, SOCKS5_REP_REFUSED, s->why);
            } else if (s->unknown_loc) {
                refuse(s, SOCKS5_REP_NOT_CONNECTED,
                       "location not connected (0x03): the token's location is not configured");
            } else {
                connect_request(s, s->hs, (size_t)n);
            }
        } else if (n < 0) {
            refuse(s, socks5_err_reply(n), n == SOCKS5_EATYP ? "address type not supported"
                   : n == SOCKS5_ECMD ? "command not supported" : "malformed request");
            n = (long)s->hs_len;
        }
    }
    if (n < 0) {                   /* a malformed greeting or auth: just hang up */
        explicit_bzero(s->hs, sizeof s->hs);
        socks_finish(s, "malformed SOCKS5 handshake");
        return 0;
    }
    if (n > 0) {
        /* Whatever followed (a client that did not wait) is kept for the next step; after
         * the request it is the client's first data for the target. */
        memmove(s->hs, s->hs + n, s->hs_len - (size_t)n);
        s->hs_len -= (size_t)n;
        explicit_bzero(s->hs + s->hs_len, (size_t)n);
        if (s->state == SS_WAIT_REPLY && s->hs_len) {
            memcpy(s->c2g + s->c2g_len, s->hs, s->hs_len);
            s->c2g_len += s->hs_len;
            s->hs_len = 0;
        }
        return 1;
    }
    return 0;
}

/* The gateway's RFC 1928 reply, at the start of g2c. */
static void reply_step(struct socks *s)
{
    uint8_t rep;
    long n = socks5_reply_parse(s->g2c, s->g2c_len, &rep);
    if (n == 0 && s->g2c_len < SOCKS5_REPLY_MAX && !s->gw_eof) {
        return;
    }
    if (n <= 0) {
        s->g2c_len = 0;
        refuse(s, SOCKS5_REP_FAILURE,
               n == 0 ? "gateway closed without a reply" : "malformed reply from the gateway");
        return;
    }
    if (s->method == SOCKS5_M_JWT && rep == SOCKS5_REP_REFUSED) {
        /* SAP's clients read 0x05 as authentication failure: a refused connection is an
         * unreachable host to them. */
        rep = SOCKS5_REP_UNREACHABLE;
        s->g2c[1] = rep;
    }
    s->rep = rep;
    relay_m.socks_replies[rep < 9 ? rep : 1]++;
    if (rep == SOCKS5_REP_OK) {
        s->state = SS_SPLICE;
        s->verdict = "ok";
        s->loc->socks_ok++;
        s->down += s->g2c_len - (size_t)n;
        if (s->method == SOCKS5_M_JWT) {
            s->hold_until = relay_now_ms() + RELAY_SAP_REPLY_HOLD_MS;
            s->hold_lim = (size_t)n;
            s->hnext = held;
            if (held) {
                held->hprev = s;
            }
            held = s;
        }
    } else {
        static char text[9][48];
        snprintf(text[rep < 9 ? rep : 1], sizeof text[0], "%s (0x%02x)", socks5_reply_text(rep),
                 rep);
        s->verdict = text[rep < 9 ? rep : 1];
        s->g2c_len = (size_t)n;          /* the reply only, as the gateway sent it */
        s->loc->socks_refused++;
        s->state = SS_FLUSH_CLOSE;
    }
}

/* One pass of moving bytes; returns 1 when anything moved. */
static int pump(struct socks *s)
{
    int moved = 0;
    ssize_t n;
    /* client -> handshake buffer or splice buffer */
    uint8_t *in = s->jbuf ? s->jbuf : s->hs;
    size_t cap = s->jbuf ? s->jbuf_cap : sizeof s->hs;
    if (s->state <= SS_REQUEST && s->hs_len < cap) {
        n = recv(s->ev.fd, in + s->hs_len, cap - s->hs_len, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            socks_finish(s, "client left during the handshake");
            return 0;
        }
        if (n > 0) {
            s->hs_len += (size_t)n;
            moved = 1;
        }
        while (s->state <= SS_REQUEST && handshake_step(s)) {
        }
        if (s->state == SS_DEAD) {
            return 0;
        }
    } else if (s->state == SS_SPLICE && !s->client_eof && s->c2g_len == 0) {
        if (buf_get(&pool_c2g, &s->c2g) == NULL) {
            socks_finish(s, "relay out of memory");
            return 0;
        }
        n = recv(s->ev.fd, s->c2g, RELAY_SPLICE_UP, MSG_DONTWAIT);
        if (n == 0) {
            s->client_eof = 1;
            moved = 1;
        } else if (n > 0) {
            s->c2g_off = 0;
            s->c2g_len = (size_t)n;
            moved = 1;
            hold_release(s);         /* the client has read its reply: it speaks */
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            socks_finish(s, "client connection failed");
            return 0;
        }
    }
    /* splice buffer -> stream */
    if (s->st && s->c2g_off < s->c2g_len) {
        long w = yamux_write(s->st, s->c2g + s->c2g_off, s->c2g_len - s->c2g_off);
        if (w < 0) {
            socks_finish(s, "stream reset by the gateway");
            return 0;
        }
        if (w > 0) {
            if (s->state == SS_SPLICE) {
                s->up += (size_t)w;
            }
            s->c2g_off += (size_t)w;
            moved = 1;
            if (s->c2g_off == s->c2g_len) {
                s->c2g_off = s->c2g_len = 0;
            }
        }
    }
    if (s->st && s->client_eof && s->c2g_len == 0 && !s->fin_sent) {
        yamux_close(s->st);
        s->fin_sent = 1;
        moved = 1;
    }
    /* stream -> client buffer */
    if (s->st && !s->gw_eof && (s->state == SS_WAIT_REPLY || s->state == SS_SPLICE)
        && s->g2c_len < RELAY_SPLICE_DOWN && (s->state == SS_WAIT_REPLY || s->g2c_len == 0)) {
        if (buf_get(&pool_g2c, &s->g2c) == NULL) {
            socks_finish(s, "relay out of memory");
            return 0;
        }
        long r = yamux_read(s->st, s->g2c + s->g2c_len, RELAY_SPLICE_DOWN - s->g2c_len);
        if (r == YAMUX_EOF) {
            s->gw_eof = 1;
            moved = 1;
        } else if (r < 0) {
            if (s->state == SS_WAIT_REPLY) {
                s->g2c_len = 0;
                refuse(s, SOCKS5_REP_FAILURE, "stream reset before the reply");
            } else {
                socks_finish(s, "stream reset by the gateway");
                return 0;
            }
        } else if (r > 0) {
            if (s->state == SS_SPLICE) {
                s->down += (size_t)r;
            }
            s->g2c_len += (size_t)r;
            moved = 1;
        }
        if (s->state == SS_WAIT_REPLY) {
            reply_step(s);
        }
    }
    /* client buffer -> client; a reply that came in pieces stays until it is whole */
    if (s->state != SS_WAIT_REPLY && s->g2c_off < send_limit(s)) {
        n = send(s->ev.fd, s->g2c + s->g2c_off, send_limit(s) - s->g2c_off,
                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            socks_finish(s, "client connection failed");
            return 0;
        }
        if (n > 0) {
            s->g2c_off += (size_t)n;
            moved = 1;
            if (s->g2c_off == s->g2c_len) {
                s->g2c_off = s->g2c_len = 0;
                s->hold_lim = 0;         /* the reply is out: the rest waits whole */
            }
        }
    }
    if (s->state == SS_SPLICE && s->gw_eof && s->g2c_len == 0 && !s->shut_wr) {
        shutdown(s->ev.fd, SHUT_WR);
        s->shut_wr = 1;
        moved = 1;
    }
    if ((s->state == SS_SPLICE && s->fin_sent && s->shut_wr)
        || (s->state == SS_FLUSH_CLOSE && s->g2c_len == 0)) {
        socks_finish(s, NULL);
        return 0;
    }
    return moved;
}

static void service(struct socks *s)
{
    int i = 0;
    while (i < PUMPS_PER_WAKE && s->state != SS_DEAD && pump(s)) {
        i++;
    }
    if (s->state == SS_DEAD) {
        return;
    }
    if (i > 0) {
        s->active_ms = relay_now_ms();
    }
    if (s->c2g_len == 0) {
        buf_put(&pool_c2g, &s->c2g);
    }
    if (s->g2c_len == 0) {
        buf_put(&pool_g2c, &s->g2c);
    }
    if (i == PUMPS_PER_WAKE && s->st) {
        /* Still moving: come back on the tunnel's next turn instead of hogging the loop
         * (a stream event is the one wake-up a socket cannot give). */
        s->st->events |= YAMUX_EV_READ;
    }
    uint32_t mask = 0;
    if (s->state <= SS_REQUEST || (s->state == SS_SPLICE && !s->client_eof && s->c2g_len == 0)) {
        mask |= EPOLLIN;
    }
    if (send_limit(s) > s->g2c_off) {
        mask |= EPOLLOUT;
    }
    relay_ev_mask(&s->ev, mask);
    tunnel_mark_dirty(s->tun);
}

static void on_client_event(struct relay_ev *ev, uint32_t events)
{
    struct socks *s = (struct socks *)(void *)((char *)ev - offsetof(struct socks, ev));
    if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) {
        socks_finish(s, "client connection failed");
        return;
    }
    service(s);
}

/* see relay.h */
void socks_on_stream(void *owner, unsigned ev)
{
    (void)ev;
    service(owner);
}

/* see relay.h */
void socks_on_tunnel_gone(void *owner)
{
    struct socks *s = owner;
    s->st = NULL;
    s->tun = NULL;
    if (s->state == SS_WAIT_REPLY) {
        refuse(s, SOCKS5_REP_NOT_CONNECTED, "tunnel lost before the reply");
        service(s);
    } else {
        socks_finish(s, "tunnel lost");
    }
}

/* Deadlines: the request (socks-auth), the gateway's reply (30 s), and a connected stream
 * that moved nothing either way (socks-idle). */
static void visit(struct socks *s, uint64_t now)
{
    const struct relay_limits *lim = &relay_cfg.lim;
    if (s->state == SS_SPLICE
        && relay_ms_since(now, s->active_ms) >= (uint64_t)lim->socks_idle_s * 1000u) {
        snprintf(s->why, sizeof s->why, "no byte either way for %u s (limit socks-idle)",
                 lim->socks_idle_s);
        (void)refusal(RF_SOCKS_IDLE);        /* the stream line below says it, every time */
        socks_finish(s, s->why);
        return;
    }
    if (now < s->deadline_ms || s->state > SS_WAIT_REPLY) {
        return;
    }
    if (s->state == SS_WAIT_REPLY) {
        if (s->st) {
            s->st->user = NULL;
            yamux_reset(s->st);
            yamux_release(s->st);
            tunnel_mark_dirty(s->tun);
            s->st = NULL;
        }
        refuse(s, SOCKS5_REP_TIMEOUT, "no reply from the gateway in time (0x06)");
        service(s);
        return;
    }
    unsigned n = refusal(RF_SOCKS_AUTH_TIME);
    if (n) {
        log_warnx("socks refused: client=%s reason=\"no request within %u s (limit socks-auth)\" "
                  "(%u like it since the last such line)", s->peer, lim->socks_auth_s, n);
    }
    socks_finish(s, "handshake deadline passed");
}

/* see relay.h */
void socks_timers(uint64_t now)
{
    /* A tenth of the clients each tick (every 100 ms): each deadline is seen within a
     * second of passing. */
    unsigned quota = nclients / TIMER_SLICES + 1;
    for (struct socks *s = held, *next; s; s = next) {
        next = s->hnext;
        if (now >= s->hold_until) {
            hold_release(s);
            service(s);
        }
    }
    for (unsigned k = 0; k < quota && head; k++) {
        struct socks *s = cursor ? cursor : head;
        cursor = s->next;
        visit(s, now);
    }
}

static void refused_at_accept(const char *peer, enum refusal rf, const char *why)
{
    unsigned n = refusal(rf);
    if (n) {
        log_warnx("socks refused: client=%s reason=\"%s\" (%u like it since the last such "
                  "line)", peer, why, n);
    }
}

static void on_accept(struct relay_ev *ev, uint32_t events)
{
    const struct relay_limits *lim = &relay_cfg.lim;
    char peer[RELAY_PEER_MAX], why[120];
    (void)events;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_in from;
        int fd = relay_accept(ev->fd, &from);
        if (fd < 0) {
            return;
        }
        relay_addr_name(&from, peer, sizeof peer);
        uint32_t src = from.sin_addr.s_addr;
        if (nclients >= lim->socks) {
            snprintf(why, sizeof why, "%u clients (limit socks)", nclients);
            refused_at_accept(peer, RF_SOCKS, why);
            close(fd);
            continue;
        }
        if (srclimit_take(&sources, src, lim->socks_per_source) != 0) {
            snprintf(why, sizeof why, "%u clients not yet authenticated from this address "
                     "(limit socks-per-source)", srclimit_count(&sources, src));
            refused_at_accept(peer, RF_SOCKS_SOURCE, why);
            close(fd);
            continue;
        }
        struct socks *s = calloc(1, sizeof *s);
        if (s == NULL) {
            srclimit_give(&sources, src);
            refused_at_accept(peer, RF_MEMORY, "relay out of memory");
            close(fd);
            continue;
        }
        relay_sock_tune(fd);
        s->kind = SK_SOCKS;
        s->ev.fn = on_client_event;
        s->state = SS_GREETING;
        s->rep = -1;
        s->authz_rf = RF_COUNT;
        s->verdict = "client left";
        s->src = src;
        s->unauthenticated = 1;
        s->start_ms = s->active_ms = relay_now_ms();
        s->deadline_ms = s->start_ms + (uint64_t)lim->socks_auth_s * 1000u;
        snprintf(s->peer, sizeof s->peer, "%s", peer);
        if (relay_ev_add(&s->ev, fd, EPOLLIN) != 0) {
            srclimit_give(&sources, src);
            close(fd);
            free(s);
            continue;
        }
        s->next = head;
        if (head) {
            head->prev = s;
        }
        head = s;
        nclients++;
        relay_m.socks_accepted++;
        relay_m.socks_open++;
    }
}

/* see relay.h */
int socks_init(void)
{
    if (socks_auth_init() != 0) {
        return -1;
    }
    return srclimit_init(&sources, relay_cfg.lim.socks);
}

/* see relay.h */
void socks_listener_start(int fd)
{
    listen_ev.fn = on_accept;
    relay_ev_add(&listen_ev, fd, EPOLLIN);
}

/* see relay.h */
void socks_listener_stop(void)
{
    relay_ev_del(&listen_ev);
}

/* see relay.h */
unsigned socks_recheck(void)
{
    unsigned closed = 0;
    for (struct socks *s = head, *next; s; s = next) {
        next = s->next;
        const char *why = NULL;
        const struct jwt_issuer *is;
        if (s->state == SS_DEAD || s->cred == CRED_NONE) {
            continue;
        }
        if (s->cred == CRED_TOKEN) {
            if (s->loc->removed) {
                why = "closed: its location was removed by a reload";
            } else if (memcmp(s->loc->token_sha256, s->cred_id, 32) != 0) {
                why = "closed: its location's token was changed by a reload";
            }
        } else if ((is = jwtauth_issuer_by_id(&relay_cfg, s->cred_id)) == NULL) {
            why = "closed: the jwt-issuer key it was authenticated with was changed or "
                  "removed by a reload";
        } else if (s->loc && s->loc->removed) {
            why = "closed: its location was removed by a reload";
        } else if (s->loc && !jwtauth_issuer_allows(is, s->loc->id)) {
            why = "closed: its jwt-issuer line no longer allows its location (reload)";
        }
        if (why) {
            socks_finish(s, why);
            closed++;
            relay_m.socks_reload_closes++;
        }
    }
    return closed;
}
