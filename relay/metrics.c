/* relay metrics: Prometheus text format (version 0.0.4) on a separate listener. Each
 * connection gets one HTTP/1.0 response, whatever it asked, and is closed. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "relay.h"

static struct relay_ev listen_ev;

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
    gauge(&o, "relay_handshakes_pending", "Tunnels in TLS handshake or hello.",
          relay_m.handshakes_pending);
    counter(&o, "relay_tunnels_accepted_total", "Tunnel connections accepted.",
            relay_m.tunnels_accepted);
    counter(&o, "relay_tunnels_up_total", "Tunnels that completed hello.", relay_m.tunnels_up);
    counter(&o, "relay_tunnels_refused_total", "Tunnels refused after TLS (location, hello).",
            relay_m.tunnels_refused);
    counter(&o, "relay_handshakes_refused_total",
            "Connections closed at accept: too many pending handshakes.",
            relay_m.handshakes_refused);
    counter(&o, "relay_handshake_failures_total", "TLS handshakes that failed or timed out.",
            relay_m.handshake_failures);
    counter(&o, "relay_tunnel_closes_total", "Tunnel connections closed.", relay_m.tunnel_closes);
    gauge(&o, "relay_socks_open", "SOCKS5 clients connected.", relay_m.socks_open);
    counter(&o, "relay_socks_accepted_total", "SOCKS5 clients accepted.", relay_m.socks_accepted);
    counter(&o, "relay_socks_auth_failures_total", "SOCKS5 authentications refused.",
            relay_m.socks_auth_failed);
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
            "relay_deliveries_total{answer=\"error\"} %llu\n",
        (unsigned long long)relay_m.deliveries_stored,
        (unsigned long long)relay_m.deliveries_duplicate,
        (unsigned long long)relay_m.deliveries_failed);
    counter(&o, "relay_yamux_violations_total",
            "Stream-level yamux violations answered by RST (closed tunnels).",
            relay_m.yamux_violations);
    put(&o, "# HELP relay_location_tunnels Live tunnels per location.\n"
            "# TYPE relay_location_tunnels gauge\n");
    /* Label values are Location IDs, which the configuration holds to A-Z a-z 0-9 . _ -:
     * nothing a peer sends reaches this page, and nothing here needs escaping. */
    for (unsigned i = 0; i < relay_cfg.nlocs; i++) {
        put(&o, "relay_location_tunnels{location=\"%s\"} %u\n", relay_cfg.locs[i].id,
            relay_cfg.locs[i].nlive);
    }
    return o.len;
}

static void on_accept(struct relay_ev *ev, uint32_t events)
{
    static char body[65536];
    char head[160];
    (void)events;
    for (int i = 0; i < 16; i++) {
        int fd = relay_accept(ev->fd);
        if (fd < 0) {
            return;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        /* A scrape is small and local: one blocking send with a short timeout. */
        struct timeval tv = { 1, 0 };
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        size_t n = render(body, sizeof body);
        int h = snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Type: text/plain; "
                         "version=0.0.4\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
        if (send(fd, head, (size_t)h, MSG_NOSIGNAL) == h) {
            send(fd, body, n, MSG_NOSIGNAL);
        }
        shutdown(fd, SHUT_WR);
        close(fd);
    }
}

/* see relay.h */
void metrics_listener_start(int fd)
{
    listen_ev.fn = on_accept;
    relay_ev_add(&listen_ev, fd, EPOLLIN);
}
