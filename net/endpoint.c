/* see endpoint.h */
#include <stdio.h>
#include <string.h>

#include "endpoint.h"
#include "lwip/stats.h"

/* ---- the TLS pool ---------------------------------------------------------------------
 * A slot outlives its endpoint when the owner closes: the close_notify still has to go
 * out, and the owner may reuse its struct at once. So a slot's callback finds its owner
 * through the slot, which endpoint_close()/abort() clear. An owner's own endpoint_tls is
 * such a slot outside the pool. */
static struct endpoint_tls slots[ENDPOINT_TLS_MAX];

static struct endpoint_tls *slot_of(const struct tls_conn *c)
{
    return (struct endpoint_tls *)((char *)c - offsetof(struct endpoint_tls, conn));
}

/* see endpoint.h */
unsigned endpoint_tls_in_use(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < ENDPOINT_TLS_MAX; i++) {
        n += slots[i].used;
    }
    return n;
}

/* A free slot; for a shared one, only while the shared slots in use leave the reserve. */
static struct endpoint_tls *slot_take(struct endpoint *e, int shared)
{
    unsigned n = 0;
    for (unsigned i = 0; i < ENDPOINT_TLS_MAX; i++) {
        n += slots[i].used && slots[i].shared;
    }
    if (shared && n >= ENDPOINT_TLS_MAX - ENDPOINT_TLS_RESERVED) {
        return NULL;
    }
    for (unsigned i = 0; i < ENDPOINT_TLS_MAX; i++) {
        if (!slots[i].used) {
            slots[i].used = 1;
            slots[i].shared = (uint8_t)(shared != 0);
            slots[i].owner = e;
            return &slots[i];
        }
    }
    return NULL;
}

/* ---- events ------------------------------------------------------------------------- */

static void deliver(struct endpoint *e, unsigned ev)
{
    if (ev & EP_OPEN) {
        e->open = 1;
    }
    if (ev && e->cb != NULL) {
        e->cb(e, ev, e->arg);
    }
}

static enum endpoint_fail tcp_fail_kind(enum tcp_stream_fail f)
{
    switch (f) {
    case TCP_FAIL_REFUSED:
        return EP_FAIL_REFUSED;
    case TCP_FAIL_TIMEOUT:
        return EP_FAIL_TIMEOUT;
    default:
        return EP_FAIL_UNREACHABLE;
    }
}

static void on_tcp(struct tcp_stream *s, unsigned events, void *arg)
{
    struct endpoint *e = arg;
    unsigned ev = 0;
    if (events & TCP_STREAM_FAILED) {
        e->fail = (uint8_t)tcp_fail_kind((enum tcp_stream_fail)s->fail);
        snprintf(e->verdict, sizeof e->verdict, "%s: %s",
                 e->open ? "connection lost" : "connect failed",
                 tcp_stream_fail_text((enum tcp_stream_fail)s->fail));
        deliver(e, EP_FAILED);
        return;
    }
    if (events & TCP_STREAM_CONNECTED) {
        ev |= EP_OPEN;
        snprintf(e->verdict, sizeof e->verdict, "ok");
        if (e->close_on_open) {
            tcp_stream_close(&e->tcp);
            deliver(e, EP_OPEN);
            return;
        }
    }
    if (events & TCP_STREAM_READABLE) {
        ev |= EP_READABLE;
    }
    if (events & TCP_STREAM_WRITABLE) {
        ev |= EP_WRITABLE;
    }
    deliver(e, ev);
}

static void on_tls(struct tls_conn *c, unsigned events, void *arg)
{
    struct endpoint_tls *slot = slot_of(c);
    struct endpoint *e = slot->owner;
    (void)arg;
    if (events & (TLS_CONN_CLOSED | TLS_CONN_FAILED)) {
        slot->used = 0;             /* tls_conn is idle: the slot is free again */
        slot->owner = NULL;
        if (e == NULL) {
            return;
        }
        e->tls = NULL;
        if (events & TLS_CONN_FAILED) {
            if (!c->tcp_up) {
                e->fail = (uint8_t)(c->tcp.fail ? tcp_fail_kind((enum tcp_stream_fail)c->tcp.fail)
                                                : EP_FAIL_TIMEOUT);
            } else {
                e->fail = EP_FAIL_TLS;
            }
            snprintf(e->verdict, sizeof e->verdict, "%s", tls_conn_verdict(c));
            deliver(e, EP_FAILED);
        } else {
            e->ended = 1;
            deliver(e, EP_CLOSED);
        }
        return;
    }
    if (e == NULL) {
        return;
    }
    unsigned ev = 0;
    if (events & TLS_CONN_OPEN) {
        ev |= EP_OPEN;
        snprintf(e->verdict, sizeof e->verdict, "%s", tls_conn_verdict(c));
        if (e->close_on_open) {
            tls_conn_close(c);      /* its CLOSED (or FAILED) may come first, from in here */
            deliver(e, EP_OPEN);
            return;
        }
    }
    if (events & TLS_CONN_READABLE) {
        ev |= EP_READABLE;
    }
    if (events & TLS_CONN_WRITABLE) {
        ev |= EP_WRITABLE;
    }
    deliver(e, ev);
}

/* ---- the interface ------------------------------------------------------------------ */

static int fail_now(struct endpoint *e, enum endpoint_fail why, const char *verdict)
{
    e->fail = (uint8_t)why;
    snprintf(e->verdict, sizeof e->verdict, "%s", verdict);
    return -1;
}

/* see endpoint.h */
int endpoint_open(struct endpoint *e, const ip_addr_t *addr, uint16_t port,
                  const struct tls_client_config *tls, struct endpoint_tls *own,
                  unsigned flags, endpoint_cb cb, void *arg)
{
    int shared = (flags & ENDPOINT_SHARED) != 0;
    memset(e, 0, sizeof *e);
    e->cb = cb;
    e->arg = arg;
    e->close_on_open = (flags & ENDPOINT_CLOSE_ON_OPEN) != 0;
    if (tls == NULL) {
        int err = tcp_stream_connect(&e->tcp, addr, port, ENDPOINT_CONNECT_MS, on_tcp, e);
        if (err == TCP_STREAM_ENOMEM) {
            return fail_now(e, EP_FAIL_NOMEM, "connect failed: no free TCP connection or memory");
        }
        if (err != TCP_STREAM_OK) {
            return fail_now(e, EP_FAIL_UNREACHABLE, "connect failed: no route to host");
        }
        return 0;
    }
    struct endpoint_tls *slot = own;
    if (own == NULL) {
        slot = slot_take(e, shared);
    } else if (own->used) {
        slot = NULL;                /* its last close is still going out */
    } else {
        own->used = 1;
        own->shared = 0;
        own->owner = e;
    }
    if (slot == NULL) {
        return fail_now(e, EP_FAIL_NOMEM, shared
                                              ? "no TLS slot free (the last is kept for the "
                                                "IMAP receiver)"
                                              : "no TLS slot free");
    }
    e->tls = &slot->conn;
    if (tls_conn_open(e->tls, addr, port, tls, on_tls, NULL) != 0) {
        slot->used = 0;
        slot->owner = NULL;
        e->tls = NULL;
        return fail_now(e, EP_FAIL_TLS, tls_conn_verdict(&slot->conn));
    }
    return 0;
}

/* see endpoint.h */
int endpoint_starttls(struct endpoint *e, const struct tls_client_config *tls)
{
    if (e->tls != NULL || !e->open || !tcp_stream_alive(&e->tcp)) {
        return fail_now(e, EP_FAIL_TLS, "STARTTLS: the connection is not open and plain");
    }
    if (tcp_stream_pending(&e->tcp) != 0) {
        /* plaintext after the server's OK: it would be taken for the TLS session's */
        return fail_now(e, EP_FAIL_TLS, "STARTTLS: bytes arrived before the TLS handshake");
    }
    struct endpoint_tls *slot = slot_take(e, 0);
    if (slot == NULL) {
        return fail_now(e, EP_FAIL_NOMEM, "no TLS slot free");
    }
    e->open = 0;
    e->tls = &slot->conn;
    if (tls_conn_adopt(e->tls, &e->tcp, tls, on_tls, NULL) != 0) {
        slot->used = 0;
        slot->owner = NULL;
        e->tls = NULL;
        e->open = 1;
        return fail_now(e, EP_FAIL_TLS, tls_conn_verdict(&slot->conn));
    }
    return 0;
}

/* see endpoint.h */
long endpoint_read(struct endpoint *e, uint8_t *buf, size_t len)
{
    if (e->ended) {
        return TCP_STREAM_EOF;
    }
    if (e->tls == NULL) {
        return tcp_stream_recv(&e->tcp, buf, len);
    }
    long n = tls_conn_read(e->tls, buf, len);
    if (n == TLS_IO_EOF) {
        return TCP_STREAM_EOF;
    }
    return n < 0 ? TCP_STREAM_ERROR : n;
}

/* see endpoint.h */
long endpoint_write(struct endpoint *e, const uint8_t *p, size_t len)
{
    if (e->tls == NULL) {
        return tcp_stream_send(&e->tcp, p, len);
    }
    long n = tls_conn_write(e->tls, p, len);
    return n < 0 ? TCP_STREAM_ERROR : n;
}

/* lwIP's heap beyond the reserve: what plain endpoints may still fill with send data. */
static size_t heap_spare(void)
{
    size_t used = lwip_stats.mem.used, avail = lwip_stats.mem.avail;
    return avail > used + ENDPOINT_HEAP_RESERVE ? avail - used - ENDPOINT_HEAP_RESERVE : 0;
}

/* see endpoint.h */
size_t endpoint_write_room(struct endpoint *e)
{
    if (e->tls == NULL) {
        size_t room = tcp_stream_room(&e->tcp), spare = heap_spare();
        return room < spare ? room : spare;
    }
    return tls_conn_write_room(e->tls);
}

/* see endpoint.h */
void endpoint_shutdown(struct endpoint *e)
{
    if (e->tls == NULL) {
        tcp_stream_shutdown(&e->tcp);
    } else {
        tls_conn_close(e->tls);     /* EP_CLOSED follows once close_notify went out */
    }
}

/* The owner is done: the slot, if any, finishes on its own. */
static void detach(struct endpoint *e)
{
    e->cb = NULL;
    if (e->tls != NULL) {
        slot_of(e->tls)->owner = NULL;
        e->tls = NULL;
    }
}

/* see endpoint.h */
void endpoint_close(struct endpoint *e)
{
    struct tls_conn *c = e->tls;
    detach(e);
    if (c != NULL) {
        tls_conn_close(c);
    } else {
        tcp_stream_close(&e->tcp);
    }
}

/* see endpoint.h */
void endpoint_abort(struct endpoint *e)
{
    struct tls_conn *c = e->tls;
    detach(e);
    if (c != NULL) {
        struct endpoint_tls *slot = slot_of(c);
        tls_conn_abort(c);          /* no event follows: free the slot here */
        slot->used = 0;
    } else {
        tcp_stream_abort(&e->tcp);
    }
}

/* see endpoint.h */
const char *endpoint_verdict(const struct endpoint *e)
{
    return e->verdict;
}

/* see endpoint.h */
void endpoint_trust_changed(void)
{
    for (unsigned i = 0; i < ENDPOINT_TLS_MAX; i++) {
        struct tls_conn *c = &slots[i].conn;
        if (slots[i].used && (c->state == TLS_CONN_CONNECTING || c->state == TLS_CONN_HANDSHAKE)) {
            tls_conn_fail(c, "the trust store changed during the handshake");
        }
    }
}
