/* Handshake threads (relay.h): the TLS handshakes of new tunnels on every core.
 *
 * A handshake costs the relay an ECDHE key exchange, an ECDSA (or RSA) signature and the
 * check of the gateway's chain: about a millisecond of CPU, against microseconds for
 * everything else a tunnel does, and after a relay restart every gateway of the fleet
 * comes back within a minute. So the loop does not run handshakes itself: it hands each
 * admitted connection, its TLS server started, to the thread with the fewest at work. A
 * thread runs its handshakes on an epoll set of its own until each has ended (open,
 * failed, or past its deadline), then hands the tunnel back; the loop does everything
 * after that (the certificate's location, hello, yamux). A tunnel is owned by one thread at
 * a time; the hand-overs are two queues under mutexes, each with an eventfd that wakes the
 * other side. Nothing else is shared: the relay's identity is read-only once loaded, and
 * the threads neither log nor count (the loop does both when a tunnel comes back).
 *
 * Why not SO_REUSEPORT workers, each with its own tunnels: a SOCKS5 client of location L
 * must reach L's tunnel, wherever it landed, so every stream would cross threads; with
 * one loop owning every tunnel and every SOCKS5 client, nothing after the handshake
 * crosses a thread. The price is that one core carries the data of all tunnels (bench/
 * results.md measures it). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"

#define SCAN_MS 100                  /* how often a thread looks at its deadlines */

struct worker {
    pthread_t th;
    int ep, wake;
    pthread_mutex_t mu;
    struct tunnel *inbox;            /* from the loop, q_next */
    struct tunnel *head;             /* running here, hs_prev / hs_next */
    unsigned busy;                   /* the loop's count: handed over, not yet back */
};

static struct worker *workers;
static unsigned nworkers;
static unsigned busy_total;

/* The way back. */
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tunnel *done_head;
static struct relay_ev done_ev;

static void notify(int fd)
{
    uint64_t one = 1;
    if (write(fd, &one, sizeof one) < 0) {
        return;                      /* EAGAIN: a wake-up is pending anyway */
    }
}

static void drain(int fd)
{
    uint64_t v;
    if (read(fd, &v, sizeof v) < 0) {
        return;
    }
}

/* ---- in a handshake thread ---- */

static void unlink_here(struct worker *w, struct tunnel *t)
{
    if (t->hs_prev) {
        t->hs_prev->hs_next = t->hs_next;
    } else {
        w->head = t->hs_next;
    }
    if (t->hs_next) {
        t->hs_next->hs_prev = t->hs_prev;
    }
    t->hs_prev = t->hs_next = NULL;
}

/* The handshake ended here (open, failed, timed out): back to the loop. */
static void hand_back(struct worker *w, struct tunnel *t)
{
    epoll_ctl(w->ep, EPOLL_CTL_DEL, t->ev.fd, NULL);
    unlink_here(w, t);
    tunnel_io_release(t);            /* into this thread's spares, when empty */
    pthread_mutex_lock(&done_mu);
    t->q_next = done_head;
    done_head = t;
    pthread_mutex_unlock(&done_mu);
    notify(done_ev.fd);
}

static void pump(struct worker *w, struct tunnel *t)
{
    enum tls_state st = tls_server_pump(&t->tls);
    if (tunnel_io_flush(t) < 0) {
        t->hs_timeout = -1;          /* the socket failed under a flight we sent */
        hand_back(w, t);
        return;
    }
    if (st != TLS_ST_HANDSHAKE) {
        hand_back(w, t);
        return;
    }
    unsigned wants = tls_server_wants(&t->tls);
    if (t->iob && tls_io_fd_buf_pending(t->iob) > 0) {
        wants |= TLS_WANT_WRITE;
    }
    struct epoll_event e = {
        .events = (wants & TLS_WANT_READ ? EPOLLIN : 0u) | (wants & TLS_WANT_WRITE ? EPOLLOUT : 0u),
        .data.ptr = t,
    };
    epoll_ctl(w->ep, EPOLL_CTL_MOD, t->ev.fd, &e);
}

static void take_inbox(struct worker *w)
{
    drain(w->wake);
    pthread_mutex_lock(&w->mu);
    struct tunnel *list = w->inbox;
    w->inbox = NULL;
    pthread_mutex_unlock(&w->mu);
    while (list) {
        struct tunnel *t = list;
        list = t->q_next;
        t->q_next = NULL;
        t->hs_prev = NULL;
        t->hs_next = w->head;
        if (w->head) {
            w->head->hs_prev = t;
        }
        w->head = t;
        struct epoll_event e = { .events = EPOLLIN, .data.ptr = t };
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, t->ev.fd, &e) != 0) {
            t->hs_timeout = -1;
            hand_back(w, t);
            continue;
        }
        pump(w, t);                  /* the ClientHello is already in */
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t next_scan = 0;
    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(w->ep, evs, 64, SCAN_MS);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                take_inbox(w);
            } else {
                pump(w, evs[i].data.ptr);
            }
        }
        uint64_t now = relay_now_ms();
        if (now >= next_scan) {
            next_scan = now + SCAN_MS;
            for (struct tunnel *t = w->head, *next; t; t = next) {
                next = t->hs_next;
                if (now >= t->deadline_ms) {
                    t->hs_timeout = 1;
                    hand_back(w, t);
                }
            }
        }
    }
    return NULL;
}

/* ---- in the loop ---- */

static void on_done(struct relay_ev *ev, uint32_t events)
{
    (void)events;
    drain(ev->fd);
    pthread_mutex_lock(&done_mu);
    struct tunnel *list = done_head;
    done_head = NULL;
    pthread_mutex_unlock(&done_mu);
    while (list) {
        struct tunnel *t = list;
        list = t->q_next;
        t->q_next = NULL;
        ((struct worker *)t->worker)->busy--;
        busy_total--;
        t->worker = NULL;
        tunnel_handshake_ended(t);
    }
}

/* see relay.h */
void hspool_submit(struct tunnel *t)
{
    struct worker *w = &workers[0];
    for (unsigned i = 1; i < nworkers; i++) {
        if (workers[i].busy < w->busy) {
            w = &workers[i];
        }
    }
    w->busy++;
    busy_total++;
    t->worker = w;
    pthread_mutex_lock(&w->mu);
    t->q_next = w->inbox;
    w->inbox = t;
    pthread_mutex_unlock(&w->mu);
    notify(w->wake);
}

/* see relay.h */
unsigned hspool_busy(void)
{
    return busy_total;
}

/* see relay.h */
int hspool_start(unsigned n)
{
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (unsigned)cpus : 1;
    }
    workers = calloc(n, sizeof *workers);
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (workers == NULL || fd < 0) {
        return -1;
    }
    done_ev.fn = on_done;
    if (relay_ev_add(&done_ev, fd, EPOLLIN) != 0) {
        return -1;
    }
    /* musl's default stack is 128 KiB; BearSSL's RSA and chain checks use a few KiB of it,
     * and a thread's untouched stack costs nothing. */
    for (unsigned i = 0; i < n; i++) {
        struct worker *w = &workers[i];
        struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
        pthread_mutex_init(&w->mu, NULL);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->ep < 0 || w->wake < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wake, &e) != 0
            || relay_thread_start(&w->th, worker_main, w, 512u * 1024) != 0) {
            log_err("%s: cannot start handshake thread %u: %s", __func__, i, strerror(errno));
            return -1;
        }
        nworkers++;
    }
    return (int)nworkers;
}
