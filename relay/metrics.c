/* relay metrics: Prometheus text format (version 0.0.4) on a separate listener. Each
 * connection gets one HTTP/1.0 response, whatever it asked, and is closed.
 *
 * A scrape is a non-blocking client of the loop like any other socket: its answer is
 * rendered once at accept into a buffer of its own and sent as the socket takes it. A
 * scraper that does not take the whole answer within METRICS_DEADLINE_MS is closed; one
 * that never reads can cost no more than its buffer, and the tunnels never wait for it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"

#define METRICS_CLIENTS_MAX 8        /* scrapes at once; more are closed at accept */
#define METRICS_BODY_BASE 16384      /* the answer's body without the per-location lines */
#define METRICS_PER_LOCATION 128     /* ... and each location's (its ID is at most 64) */
#define METRICS_HEAD_MAX 160
#define METRICS_DEADLINE_MS 5000     /* to take the whole answer and close */

struct scrape {
    struct relay_ev ev;
    char *out;                   /* head and body: at most METRICS_HEAD_MAX + BODY_MAX */
    size_t len, off;
    int shut;                    /* all sent and SHUT_WR done: waiting for the client's EOF */
    uint64_t deadline_ms;
    char peer[64];
};

static struct relay_ev listen_ev;
static struct scrape *scrapes[METRICS_CLIENTS_MAX];

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    if (o->len >= o->cap) {
        return;
    }
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    o->len += n > 0 ? (size_t)n : 0;
    if (o->len > o->cap) {
        o->len = o->cap;
    }
}

static void counter(struct out *o, const char *name, const char *help, uint64_t v)
{
    put(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
        (unsigned long long)v);
}

static void gauge(struct out *o, const char *name, const char *help, uint64_t v)
{
    put(o, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
        (unsigned long long)v);
}

static size_t render(char *buf, size_t cap)
{
    struct out o = { buf, 0, cap };
    gauge(&o, "relay_tunnels_open", "Tunnel connections, in any state.", relay_m.tunnels_open);
    gauge(&o, "relay_tunnels_live", "Tunnels up: hello answered (live=N in the log).",
          relay_m.tunnels_ready);
    gauge(&o, "relay_handshakes_pending", "Tunnel connections not yet authenticated.",
          relay_m.handshakes_pending);
    gauge(&o, "relay_handshakes_in_threads", "TLS handshakes at work in handshake threads.",
          hspool_busy());
    counter(&o, "relay_tunnels_accepted_total", "Tunnel connections accepted.",
            relay_m.tunnels_accepted);
    counter(&o, "relay_handshakes_total", "TLS handshakes completed (rate: handshakes/s).",
            relay_m.handshakes_done);
    counter(&o, "relay_tunnels_up_total", "Tunnels that completed hello.", relay_m.tunnels_up);
    counter(&o, "relay_tunnels_refused_total", "Tunnels refused after TLS (location, hello).",
            relay_m.tunnels_refused);
    counter(&o, "relay_handshake_failures_total",
            "TLS handshakes that failed, timed out, or whose client left.",
            relay_m.handshake_failures);
    counter(&o, "relay_tunnel_closes_total", "Tunnel connections closed.", relay_m.tunnel_closes);
    counter(&o, "relay_tunnel_trims_total", "Idle tunnels whose buffers went back to the kernel.",
            relay_m.trims);
    put(&o, "# HELP relay_refusals_total Connections, streams and deliveries refused, by cause "
            "(a limit or a deadline).\n# TYPE relay_refusals_total counter\n");
    for (unsigned i = 0; i < RF_COUNT; i++) {
        put(&o, "relay_refusals_total{cause=\"%s\"} %llu\n", refusal_name((enum refusal)i),
            (unsigned long long)relay_refusals[i]);
    }
    gauge(&o, "relay_socks_open", "SOCKS5 clients connected.", relay_m.socks_open);
    counter(&o, "relay_socks_accepted_total", "SOCKS5 clients accepted.", relay_m.socks_accepted);
    counter(&o, "relay_socks_auth_failures_total", "SOCKS5 authentications refused.",
            relay_m.socks_auth_failed);
    counter(&o, "relay_socks_jwt_accepted_total",
            "SOCKS5 method 0x80 tokens accepted for their location.", relay_m.socks_jwt_ok);
    counter(&o, "relay_socks_reload_closes_total",
            "SOCKS5 sessions closed by a reload that withdrew their credential.",
            relay_m.socks_reload_closes);
    put(&o, "# HELP relay_socks_replies_total SOCKS5 replies by code.\n"
            "# TYPE relay_socks_replies_total counter\n");
    for (unsigned i = 0; i < 9; i++) {
        put(&o, "relay_socks_replies_total{code=\"0x%02x\"} %llu\n", i,
            (unsigned long long)relay_m.socks_replies[i]);
    }
    put(&o, "# HELP relay_splice_bytes_total Bytes spliced, by direction.\n"
            "# TYPE relay_splice_bytes_total counter\n"
            "relay_splice_bytes_total{direction=\"up\"} %llu\n"
            "relay_splice_bytes_total{direction=\"down\"} %llu\n",
        (unsigned long long)relay_m.bytes_up, (unsigned long long)relay_m.bytes_down);
    put(&o, "# HELP relay_deliveries_total Mail deliveries, by answer.\n"
            "# TYPE relay_deliveries_total counter\n"
            "relay_deliveries_total{answer=\"stored\"} %llu\n"
            "relay_deliveries_total{answer=\"duplicate\"} %llu\n"
            "relay_deliveries_total{answer=\"error\"} %llu\n"
            "relay_deliveries_total{answer=\"rejected\"} %llu\n",
        (unsigned long long)relay_m.deliveries_stored,
        (unsigned long long)relay_m.deliveries_duplicate,
        (unsigned long long)relay_m.deliveries_failed,
        (unsigned long long)relay_m.deliveries_rejected);
    gauge(&o, "relay_deliveries_in_flight", "Deliveries whose body is being written.",
          relay_m.deliveries_open);
    counter(&o, "relay_spool_commit_groups_total", "Maildir group commits that lasted: one "
            "fsync of new/ and one of the index for the deliveries of a location that ended "
            "together.", relay_m.commit_groups);
    counter(&o, "relay_spool_commit_grouped_total", "Deliveries stored by those group "
            "commits (divided by the groups: deliveries per group).", relay_m.commit_grouped);
    gauge(&o, "relay_spool_bytes", "Bytes in the locations' spools (new/ and cur/), as last "
          "counted.", relay_m.spool_bytes);
    counter(&o, "relay_yamux_violations_total",
            "Stream-level yamux violations answered by RST (closed tunnels).",
            relay_m.yamux_violations);
    counter(&o, "relay_yamux_pool_resets_total",
            "Streams reset for sitting unread on a full receive pool (closed tunnels).",
            relay_m.yamux_pool_resets);
    put(&o, "# HELP relay_location_tunnels Live tunnels per location.\n"
            "# TYPE relay_location_tunnels gauge\n");
    /* Label values are Location IDs, which the configuration holds to A-Z a-z 0-9 . _ -:
     * nothing a peer sends reaches this page, and nothing here needs escaping. */
    for (unsigned i = 0; i < relay_cfg.nlocs; i++) {
        if (!relay_cfg.locs[i].removed) {
            put(&o, "relay_location_tunnels{location=\"%s\"} %u\n", relay_cfg.locs[i].id,
                relay_cfg.locs[i].nlive);
        }
    }
    return o.len;
}

static void scrape_close(struct scrape *c)
{
    for (unsigned i = 0; i < METRICS_CLIENTS_MAX; i++) {
        if (scrapes[i] == c) {
            scrapes[i] = NULL;
        }
    }
    relay_ev_del(&c->ev);
    free(c->out);
    c->out = NULL;
    relay_defer_free(c, free);
}

/* Sends what the socket takes; after the answer, half-closes and reads (and drops) the
 * request until the client's EOF, so closing never resets an answer still in flight. */
static void scrape_service(struct scrape *c)
{
    char sink[1024];
    ssize_t n;
    while (c->off < c->len) {
        n = send(c->ev.fd, c->out + c->off, c->len - c->off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                scrape_close(c);
                return;
            }
            break;
        }
        c->off += (size_t)n;
    }
    if (c->off == c->len && !c->shut) {
        shutdown(c->ev.fd, SHUT_WR);
        c->shut = 1;
        free(c->out);
        c->out = NULL;
    }
    for (int i = 0; i < 16; i++) {           /* bounded: the deadline ends a chatty client */
        n = recv(c->ev.fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            scrape_close(c);
            return;
        }
        if (n < 0) {
            break;
        }
    }
    relay_ev_mask(&c->ev, c->shut ? EPOLLIN : EPOLLIN | EPOLLOUT);
}

static void on_scrape_event(struct relay_ev *ev, uint32_t events)
{
    (void)events;
    scrape_service((struct scrape *)(void *)ev);     /* ev is the first member */
}

/* see relay.h */
void metrics_timers(uint64_t now)
{
    static uint64_t last_warn;
    for (unsigned i = 0; i < METRICS_CLIENTS_MAX; i++) {
        struct scrape *c = scrapes[i];
        if (c == NULL || now < c->deadline_ms) {
            continue;
        }
        if (!c->shut) {
            /* Reset, not FIN: the kernel would otherwise keep the unsent rest queued for a
             * scraper that does not read. */
            struct linger lg = { 1, 0 };
            setsockopt(c->ev.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            if (now - last_warn > 1000) {
                log_warnx("%s: scraper %s took %zu of %zu bytes in %d s: closed", __func__,
                          c->peer, c->off, c->len, METRICS_DEADLINE_MS / 1000);
                last_warn = now;
            }
        }
        scrape_close(c);
    }
}

static void on_accept(struct relay_ev *ev, uint32_t events)
{
    static char *body;
    static size_t body_cap;
    static uint64_t last_warn;
    (void)events;
    for (int i = 0; i < 16; i++) {
        struct sockaddr_in from;
        int fd = relay_accept(ev->fd, &from);
        if (fd < 0) {
            return;
        }
        size_t want = METRICS_BODY_BASE + (size_t)relay_cfg.nlocs * METRICS_PER_LOCATION;
        if (want > body_cap) {
            free(body);
            body = malloc(want);
            body_cap = body ? want : 0;
        }
        unsigned slot = 0;
        while (slot < METRICS_CLIENTS_MAX && scrapes[slot]) {
            slot++;
        }
        struct scrape *c = slot < METRICS_CLIENTS_MAX && body ? calloc(1, sizeof *c) : NULL;
        size_t n = c ? render(body, body_cap) : 0;
        char *out = c ? malloc(METRICS_HEAD_MAX + n) : NULL;
        if (out == NULL) {
            uint64_t now = relay_now_ms();
            if (now - last_warn > 1000) {
                log_warnx("%s: %d scrapes at once: connection refused", __func__,
                          METRICS_CLIENTS_MAX);
                last_warn = now;
            }
            free(c);
            close(fd);
            continue;
        }
        int h = snprintf(out, METRICS_HEAD_MAX, "HTTP/1.0 200 OK\r\nContent-Type: text/plain; "
                         "version=0.0.4\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
        memcpy(out + h, body, n);
        c->out = out;
        c->len = (size_t)h + n;
        c->ev.fn = on_scrape_event;
        c->deadline_ms = relay_now_ms() + METRICS_DEADLINE_MS;
        relay_sock_tune(fd);
        relay_addr_name(&from, c->peer, sizeof c->peer);
        if (relay_ev_add(&c->ev, fd, EPOLLIN | EPOLLOUT) != 0) {
            close(fd);
            free(out);
            free(c);
            continue;
        }
        scrapes[slot] = c;
        scrape_service(c);
    }
}

/* see relay.h */
void metrics_listener_start(int fd)
{
    listen_ev.fn = on_accept;
    relay_ev_add(&listen_ev, fd, EPOLLIN);
}
