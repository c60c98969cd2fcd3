/* Admission of tunnel connections (relay.h): what a connection gets before it has proved
 * anything.
 *
 * Anyone can connect to the tunnel listener, so until a gateway has authenticated (its
 * certificate checked, hello answered) it may hold almost nothing:
 *   - at accept: at most `handshakes` unauthenticated connections in all, at most
 *     `handshakes-per-source` of them from one source address, and at most `tunnels`
 *     connections with the tunnels; beyond that the connection is closed at once;
 *   - then a descriptor and this ~100-byte record, no TLS: the first byte must come within
 *     `first-byte` seconds, and it must start a TLS handshake record (type 22, version 3.x,
 *     a plausible length); the relay waits (peeking, edge-triggered: nothing is read)
 *     until that whole first record, the ClientHello, is in the socket. A client that sends
 *     a byte a second holds this record until `handshake` seconds have passed, no more;
 *   - only then does the connection get a tunnel's memory and its TLS server, and go to a
 *     handshake thread (tunnel_start). It keeps its place in the counts above until hello
 *     is answered or it is closed (admit_release).
 * Every refusal is counted and logged (refuse.c: a line a second per cause at most). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"

#define ACCEPTS_PER_EVENT 256        /* a reconnect storm empties the backlog quickly */

struct pending {
    struct relay_ev ev;              /* first */
    uint32_t src;
    int got_byte;
    char peer[RELAY_PEER_MAX];
    uint64_t first_byte_ms, deadline_ms;
    struct pending *prev, *next;
};

static struct relay_ev listen_ev;
static struct pending *head;
static unsigned npending;
static struct srclimit sources;

static void refused(const char *peer, const char *stage, enum refusal rf, const char *why)
{
    unsigned n = refusal(rf);
    if (n > 1) {
        log_warnx("tunnel refused: peer=%s stage=%s reason=\"%s\" (%u like it since the last "
                  "such line)", peer, stage, why, n);
    } else if (n == 1) {
        log_warnx("tunnel refused: peer=%s stage=%s reason=\"%s\"", peer, stage, why);
    }
}

/* see relay.h */
void admit_release(uint32_t src)
{
    srclimit_give(&sources, src);
    relay_m.handshakes_pending--;
}

static void pending_free(void *p)
{
    free(p);
}

/* Out of the list and the loop; the fd is closed unless keep_fd. The handshake slot stays
 * taken when the connection goes on (keep_fd), else it is given back. */
static void pending_end(struct pending *pc, int keep_fd)
{
    if (pc->prev) {
        pc->prev->next = pc->next;
    } else {
        head = pc->next;
    }
    if (pc->next) {
        pc->next->prev = pc->prev;
    }
    npending--;
    if (keep_fd) {
        relay_ev_forget(&pc->ev);
    } else {
        relay_ev_del(&pc->ev);
        admit_release(pc->src);
    }
    relay_defer_free(pc, pending_free);
}

static void on_pending_event(struct relay_ev *ev, uint32_t events)
{
    struct pending *pc = (struct pending *)(void *)ev;      /* ev is the first member */
    uint8_t h[5];
    char why[120];
    int avail = 0;
    ssize_t n = recv(ev->fd, h, sizeof h, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (events & (EPOLLHUP | EPOLLERR)) {
            n = 0;
        } else {
            return;
        }
    }
    if (n <= 0) {
        relay_m.handshake_failures++;        /* the client left: not a refusal of ours */
        pending_end(pc, 0);
        return;
    }
    pc->got_byte = 1;
    unsigned len = n == 5 ? (unsigned)h[3] << 8 | h[4] : 0;
    if (h[0] != 22 || (n >= 2 && h[1] != 3) || (n == 5 && (len == 0 || len > 16384))) {
        snprintf(why, sizeof why, "not a TLS handshake (first bytes %02x %02x)", h[0],
                 n >= 2 ? h[1] : 0);
        refused(pc->peer, "client hello", RF_NOT_TLS, why);
        pending_end(pc, 0);
        return;
    }
    if (n < 5 || ioctl(ev->fd, FIONREAD, &avail) != 0 || (unsigned)avail < 5 + len) {
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            relay_m.handshake_failures++;    /* left in the middle of its ClientHello */
            pending_end(pc, 0);
        }
        return;                              /* more of it to come */
    }
    int fd = ev->fd;
    uint32_t src = pc->src;
    uint64_t deadline = pc->deadline_ms;
    char peer[RELAY_PEER_MAX];
    snprintf(peer, sizeof peer, "%s", pc->peer);
    pending_end(pc, 1);
    tunnel_start(fd, src, peer, deadline);
}

static void on_accept(struct relay_ev *ev, uint32_t events)
{
    const struct relay_limits *lim = &relay_cfg.lim;
    char why[120], peer[RELAY_PEER_MAX];
    (void)events;
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_in from;
        int fd = relay_accept(ev->fd, &from);
        if (fd < 0) {
            return;
        }
        relay_m.tunnels_accepted++;
        relay_addr_name(&from, peer, sizeof peer);
        uint32_t src = from.sin_addr.s_addr;
        enum refusal rf = RF_COUNT;
        if (relay_m.handshakes_pending >= lim->handshakes) {
            rf = RF_HANDSHAKES;
            snprintf(why, sizeof why, "%u connections not yet authenticated (limit handshakes)",
                     relay_m.handshakes_pending);
        } else if (relay_m.tunnels_open + npending >= lim->tunnels) {
            rf = RF_TUNNELS;
            snprintf(why, sizeof why, "%u tunnel connections (limit tunnels)",
                     relay_m.tunnels_open + npending);
        } else if (srclimit_take(&sources, src, lim->handshakes_per_source) != 0) {
            rf = RF_HANDSHAKES_SOURCE;
            snprintf(why, sizeof why, "%u connections not yet authenticated from this address "
                     "(limit handshakes-per-source)", srclimit_count(&sources, src));
        }
        if (rf != RF_COUNT) {
            refused(peer, "accept", rf, why);
            close(fd);
            continue;
        }
        struct pending *pc = calloc(1, sizeof *pc);
        if (pc == NULL) {
            srclimit_give(&sources, src);
            refused(peer, "accept", RF_MEMORY, "out of memory");
            close(fd);
            continue;
        }
        relay_sock_tune(fd);
        pc->src = src;
        snprintf(pc->peer, sizeof pc->peer, "%s", peer);
        pc->ev.fn = on_pending_event;
        uint64_t now = relay_now_ms();
        pc->first_byte_ms = now + (uint64_t)lim->first_byte_s * 1000u;
        pc->deadline_ms = now + (uint64_t)lim->handshake_s * 1000u;
        if (relay_ev_add(&pc->ev, fd, EPOLLIN | EPOLLET | EPOLLRDHUP) != 0) {
            srclimit_give(&sources, src);
            close(fd);
            free(pc);
            continue;
        }
        relay_m.handshakes_pending++;
        npending++;
        pc->next = head;
        if (head) {
            head->prev = pc;
        }
        head = pc;
        /* A ClientHello that came with the connection: edge-triggered epoll would not
         * tell of bytes that were there before the fd joined the set. */
        on_pending_event(&pc->ev, EPOLLIN);
    }
}

/* see relay.h */
void admit_timers(uint64_t now)
{
    const struct relay_limits *lim = &relay_cfg.lim;
    char why[120];
    for (struct pending *pc = head, *next; pc; pc = next) {
        next = pc->next;
        if (!pc->got_byte && now >= pc->first_byte_ms) {
            snprintf(why, sizeof why, "no first byte within %u s (limit first-byte)",
                     lim->first_byte_s);
            refused(pc->peer, "first byte", RF_FIRST_BYTE, why);
            pending_end(pc, 0);
        } else if (now >= pc->deadline_ms) {
            snprintf(why, sizeof why, "no whole ClientHello within %u s (limit handshake)",
                     lim->handshake_s);
            refused(pc->peer, "client hello", RF_HANDSHAKE_TIME, why);
            pending_end(pc, 0);
        }
    }
}

/* see relay.h */
void admit_stop(void)
{
    relay_ev_del(&listen_ev);
}

/* see relay.h */
void admit_start(int fd)
{
    if (srclimit_init(&sources, relay_cfg.lim.handshakes) != 0) {
        log_err("%s: out of memory", __func__);
        exit(1);
    }
    listen_ev.fn = on_accept;
    relay_ev_add(&listen_ev, fd, EPOLLIN);
}
