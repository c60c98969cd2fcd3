/* relay spool lmtp: each delivery handed to the mail store as one LMTP transaction
 * (proto/lmtp.h) on a non-blocking connection of its own, driven by the loop like every
 * other socket: connect, greeting, LHLO, MAIL FROM:<>, RCPT TO:<the location's mailbox>,
 * DATA, then the message as the gateway's stream brings it (delivery.c reads the stream
 * only as fast as the store takes it: the stream's window is the buffer), and the end of
 * data only once delivery.c has checked the message's length and SHA-256. Nothing is
 * written to the relay's disk.
 *
 * Exactly once in the store, across relay crashes and several relays (docs/protocol.md,
 * section 3.2): the message goes out behind one header of the relay's,
 *
 *     X-Relay-Delivery: LOCATION/SHA256HEX; uidvalidity=N; uid=N
 *
 * and the store runs, before anything else, a Sieve script that discards a message whose
 * LOCATION/SHA256HEX it has delivered before (RFC 7352 `duplicate`: Dovecot's Pigeonhole
 * keeps the IDs per mailbox, locks an ID from its check until that delivery has ended, and
 * records it only once the delivery succeeded). A relay killed after the store's 250 but
 * before the gateway read "stored" costs a second delivery, by whichever relay, that the
 * store answers 250 and keeps nothing of.
 *
 * Bounds: a connection per delivery in flight, so the deliveries limits bound them (per
 * location: location-deliveries); each holds 32 KiB of dot-stuffed bytes and the engine
 * (1.6 KiB). The store must answer, or take bytes, within store-timeout whenever it owes
 * us either; else the delivery is answered "error" (the gateway retries). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"

#define TX_BUF 32768                 /* message bytes, dot-stuffed, waiting for the socket */
#define TX_READ 1024                 /* the store's replies are a line or a few */

struct lmtp_tx {
    struct relay_ev ev;              /* first: the loop's */
    struct lmtp_client c;
    void *owner;                     /* the delivery */
    int connecting;
    int ended;                       /* done, failed or aborted: the owner hears no more */
    uint64_t written;                /* bytes the owner gave: its writes are progress too */
    uint64_t since_ms;               /* the last progress, or when we began to wait */
    size_t len, off;                 /* out[off..len) waits for the socket */
    char trace[200];                 /* the header the message goes out behind (189 B at most) */
    struct lmtp_tx *prev, *next;     /* every transaction, for the timer */
    uint8_t out[TX_BUF];
};

static struct lmtp_tx *head;
static char lhlo[LMTP_NAME_MAX + 1];

/* LHLO's name: this host's, in the characters a domain may have. */
static void lhlo_init(void)
{
    if (gethostname(lhlo, sizeof lhlo - 1) != 0) {
        lhlo[0] = 0;
    }
    for (char *p = lhlo; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '.')) {
            *p = '-';
        }
    }
    if (lhlo[0] == 0) {
        snprintf(lhlo, sizeof lhlo, "relay");
    }
}

/* ---- life and death ---- */

static void tx_close(struct lmtp_tx *tx)
{
    tx->ended = 1;
    relay_ev_del(&tx->ev);
    if (tx->prev) {
        tx->prev->next = tx->next;
    } else {
        head = tx->next;
    }
    if (tx->next) {
        tx->next->prev = tx->prev;
    }
    relay_defer_free(tx, free);              /* an epoll event of this turn may name it */
}

static void finish(struct lmtp_tx *tx, enum delivery_status st, const char *text)
{
    if (st == DELIVERY_ST_STORED) {
        /* Courtesy only: the transaction is over, nothing waits for the store's 221. */
        (void)send(tx->ev.fd, "QUIT\r\n", 6, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    tx_close(tx);
    delivery_store_done(tx->owner, st, text);
}

static void fail_text(struct lmtp_tx *tx, const char *fmt, const char *a, const char *b)
    __attribute__((format(printf, 2, 0)));
static void fail_text(struct lmtp_tx *tx, const char *fmt, const char *a, const char *b)
{
    char why[HELLO_TEXT_MAX + 1];
    snprintf(why, sizeof why, fmt, a, b);
    finish(tx, DELIVERY_ST_ERROR, why);
}

/* What the store owes us, for the texts: the reply to a step, or taking the bytes. */
static const char *waiting_for(const struct lmtp_tx *tx)
{
    if (tx->connecting) {
        return "the connection";
    }
    if (tx->len > tx->off) {
        return "it to take the message";
    }
    return lmtp_step_name(tx->c.state);
}

/* see relay.h */
int lmtp_tx_waiting(const struct lmtp_tx *tx)
{
    return !tx->ended && (tx->connecting || tx->len > tx->off || tx->c.state != LMTP_S_BODY);
}

/* ---- the socket ---- */

static void set_mask(struct lmtp_tx *tx)
{
    const uint8_t *p;
    int pending = tx->connecting || tx->len > tx->off || lmtp_out(&tx->c, &p) > 0;
    relay_ev_mask(&tx->ev, EPOLLIN | (pending ? EPOLLOUT : 0u));
}

/* Commands, or the message, to the socket as far as it takes them now. A failure is left
 * for the next event (EPOLLERR), which ends the transaction outside the owner's calls. */
static int flush(struct lmtp_tx *tx)
{
    int moved = 0;
    while (!tx->connecting) {
        const uint8_t *p;
        size_t n;
        int body = tx->c.state == LMTP_S_BODY || tx->c.state == LMTP_S_DOT;
        if (body) {
            p = tx->out + tx->off;
            n = tx->len - tx->off;
        } else {
            n = lmtp_out(&tx->c, &p);
        }
        if (n == 0) {
            break;
        }
        ssize_t w = send(tx->ev.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w <= 0) {
            break;
        }
        moved = 1;
        if (body) {
            tx->off += (size_t)w;
        } else {
            lmtp_out_consume(&tx->c, (size_t)w);
        }
    }
    if (tx->off == tx->len) {
        tx->off = tx->len = 0;
    }
    if (moved) {
        tx->since_ms = relay_now_ms();
    }
    return moved;
}

/* The store's bytes through the engine. */
static void feed(struct lmtp_tx *tx, const uint8_t *p, size_t n)
{
    char why[HELLO_TEXT_MAX + 1];
    size_t at = 0, used;
    while (at < n && !tx->ended) {
        enum lmtp_ev ev;
        at += lmtp_input(&tx->c, p + at, n - at, &ev);
        switch (ev) {
        case LMTP_EV_BODY:
            tx->len = lmtp_body(&tx->c, (const uint8_t *)tx->trace, strlen(tx->trace), tx->out,
                                sizeof tx->out, &used);
            tx->off = 0;
            break;
        case LMTP_EV_DONE:
            finish(tx, DELIVERY_ST_STORED, "stored");
            return;
        case LMTP_EV_FAILED:
            snprintf(why, sizeof why, "store %s: %s (%s)",
                     tx->c.fail == LMTP_PERM ? "rejected" : "refused", tx->c.text,
                     lmtp_step_name(tx->c.failed_at));
            finish(tx, tx->c.fail == LMTP_PERM ? DELIVERY_ST_REJECTED : DELIVERY_ST_ERROR, why);
            return;
        default:
            break;
        }
    }
}

static void on_event(struct relay_ev *ev, uint32_t events)
{
    struct lmtp_tx *tx = (struct lmtp_tx *)(void *)ev;     /* ev is the first member */
    uint8_t buf[TX_READ];
    if (tx->connecting) {
        int err = 0;
        socklen_t l = sizeof err;
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }
        if (getsockopt(ev->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0) {
            err = errno;
        }
        if (err) {
            fail_text(tx, "store unavailable: connect %s: %s", relay_cfg.lmtp_target,
                      strerror(err));
            return;
        }
        tx->connecting = 0;
        tx->since_ms = relay_now_ms();
    }
    for (int round = 0; round < 16 && !tx->ended; round++) {
        int moved = 0;
        ssize_t n = recv(ev->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            char what[64];
            snprintf(what, sizeof what, "%s", waiting_for(tx));
            fail_text(tx, n == 0 ? "store closed the connection (waiting for %s)%s"
                                 : "store connection lost (waiting for %s): %s",
                      what, n == 0 ? "" : strerror(errno));
            return;
        }
        if (n > 0) {
            moved = 1;
            tx->since_ms = relay_now_ms();
            feed(tx, buf, (size_t)n);
        }
        moved |= !tx->ended && flush(tx);
        if (!tx->ended && lmtp_tx_room(tx) > 0) {
            uint64_t before = tx->written;
            delivery_store_room(tx->owner);  /* may write, end or abort */
            moved |= tx->written != before;
        }
        if (!moved) {
            break;
        }
    }
    if (!tx->ended) {
        set_mask(tx);
    }
}

/* ---- the delivery's side ---- */

/* see relay.h */
struct lmtp_tx *lmtp_tx_start(struct location *loc, const struct delivery *d, void *owner,
                              char *why, size_t cap)
{
    char hex[65];
    if (lhlo[0] == 0) {
        lhlo_init();
    }
    struct lmtp_tx *tx = calloc(1, sizeof *tx);
    if (tx == NULL) {
        snprintf(why, cap, "relay out of memory");
        return NULL;
    }
    if (lmtp_init(&tx->c, lhlo, loc->mailbox) != 0) {
        snprintf(why, cap, "location %s has no mailbox in the relay's configuration", loc->id);
        free(tx);
        return NULL;
    }
    relay_hex(d->sha256, 32, hex);
    snprintf(tx->trace, sizeof tx->trace,
             RELAY_TRACE_HEADER ": %s/%s; uidvalidity=%lu; uid=%lu\r\n",
             loc->id, hex, (unsigned long)d->uidvalidity, (unsigned long)d->uid);
    const struct sockaddr *sa = (const struct sockaddr *)&relay_cfg.lmtp_addr;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, cap, "store unavailable: no socket: %s", strerror(errno));
        free(tx);
        return NULL;
    }
    if (sa->sa_family == AF_INET) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    int r = connect(fd, sa, (socklen_t)relay_cfg.lmtp_addr_len);
    if (r != 0 && errno != EINPROGRESS) {
        /* A UNIX socket answers at once: refused, missing, or its backlog full (EAGAIN). */
        snprintf(why, cap, "store unavailable: connect %s: %s", relay_cfg.lmtp_target,
                 strerror(errno));
        close(fd);
        free(tx);
        return NULL;
    }
    tx->ev.fn = on_event;
    tx->connecting = r != 0;
    if (relay_ev_add(&tx->ev, fd, EPOLLIN | EPOLLOUT) != 0) {
        snprintf(why, cap, "relay cannot watch a socket: %s", strerror(errno));
        close(fd);
        free(tx);
        return NULL;
    }
    tx->owner = owner;
    tx->since_ms = relay_now_ms();
    tx->next = head;
    if (head) {
        head->prev = tx;
    }
    head = tx;
    return tx;
}

/* see relay.h */
size_t lmtp_tx_room(const struct lmtp_tx *tx)
{
    if (tx->ended || tx->c.state != LMTP_S_BODY) {
        return 0;
    }
    /* Half the free space, so the worst case (every byte a dot after a line end) fits, and
     * the end of data always has its room after. */
    size_t free_ = sizeof tx->out - LMTP_END_MAX - (tx->len - tx->off);
    return free_ / 2;
}

/* Makes out[0..) the waiting bytes, so all the free space is at the end. */
static void compact(struct lmtp_tx *tx)
{
    if (tx->off > 0) {
        memmove(tx->out, tx->out + tx->off, tx->len - tx->off);
        tx->len -= tx->off;
        tx->off = 0;
    }
}

/* see relay.h */
void lmtp_tx_write(struct lmtp_tx *tx, const uint8_t *p, size_t n)
{
    size_t used;
    if (tx->ended) {
        return;
    }
    compact(tx);
    if (tx->len == 0) {
        tx->since_ms = relay_now_ms();       /* from now on the store owes us taking them */
    }
    tx->len += lmtp_body(&tx->c, p, n, tx->out + tx->len, sizeof tx->out - LMTP_END_MAX - tx->len,
                         &used);
    tx->written += used;
    flush(tx);
    set_mask(tx);
}

/* see relay.h */
void lmtp_tx_end(struct lmtp_tx *tx)
{
    if (tx->ended) {
        return;
    }
    compact(tx);
    tx->len += lmtp_body_end(&tx->c, tx->out + tx->len, sizeof tx->out - tx->len);
    tx->since_ms = relay_now_ms();           /* the store owes the reply from now on */
    flush(tx);
    set_mask(tx);
}

/* see relay.h */
void lmtp_tx_abort(struct lmtp_tx *tx)
{
    if (!tx->ended) {
        tx_close(tx);
    }
}

/* see relay.h */
void lmtp_timers(uint64_t now)
{
    static uint64_t next;
    uint64_t limit = (uint64_t)relay_cfg.lim.store_timeout_s * 1000u;
    char secs[16];
    if (now < next) {
        return;
    }
    next = now + 1000;                       /* a second's precision is plenty */
    for (struct lmtp_tx *tx = head, *n; tx; tx = n) {
        n = tx->next;
        if (lmtp_tx_waiting(tx) && relay_ms_since(now, tx->since_ms) >= limit) {
            snprintf(secs, sizeof secs, "%u", relay_cfg.lim.store_timeout_s);
            fail_text(tx, "store timeout: nothing for %s s (limit store-timeout) waiting for %s",
                      secs, waiting_for(tx));
        }
    }
}
