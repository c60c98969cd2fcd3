/* see tcp_stream.h */
#include <string.h>

#include "log.h"
#include "lwip/priv/tcp_priv.h"  /* tcp_active_pcbs */
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "tcp_stream.h"

static void on_connect_timeout(void *arg);
static void on_connected_later(void *arg);
static void owe_output(int *what);
static int output_owed, release_owed;   /* see tcp_stream_flush */

static void connected_cancel(struct tcp_stream *s)
{
    if (s->connect_pending) {
        s->connect_pending = 0;
        sys_untimeout(on_connected_later, s);
    }
}

static void stream_detach(struct tcp_stream *s)
{
    if (s->pcb != NULL) {
        tcp_arg(s->pcb, NULL);
        tcp_recv(s->pcb, NULL);
        tcp_sent(s->pcb, NULL);
        tcp_err(s->pcb, NULL);
        tcp_poll(s->pcb, NULL, 0);
    }
    if (s->rxq != NULL) {
        pbuf_free(s->rxq);
        s->rxq = s->rxq_tail = NULL;
        s->rxq_len = 0;
    }
    sys_untimeout(on_connect_timeout, s);
    connected_cancel(s);
    s->pcb = NULL;
    s->cb = NULL;
}

/* Call the owner; returns ERR_ABRT if the owner aborted the pcb inside the callback. */
static err_t notify(struct tcp_stream *s, unsigned events)
{
    if (s->connect_pending) {        /* the owner hears of the connection first */
        connected_cancel(s);
        events |= TCP_STREAM_CONNECTED | TCP_STREAM_WRITABLE;
    }
    if (s->cb == NULL || events == 0) {
        return ERR_OK;
    }
    s->in_callback = 1;
    s->cb(s, events, s->arg);
    s->in_callback = 0;
    if (s->aborted_in_cb) {
        s->aborted_in_cb = 0;
        return ERR_ABRT;
    }
    return ERR_OK;
}

static void fail(struct tcp_stream *s, enum tcp_stream_fail why)
{
    tcp_stream_cb cb = s->cb;
    void *arg = s->arg;
    s->fail = (uint8_t)why;
    s->pcb = NULL; /* lwIP freed it (tcp_err) or we aborted it */
    stream_detach(s);
    if (cb != NULL) {
        cb(s, TCP_STREAM_FAILED, arg);
    }
}

/* Free room after the data of a pool pbuf that is ours alone (a received frame's buffer, its
 * headers stripped): what a small segment leaves unused. */
static size_t pool_room(const struct pbuf *q)
{
    if (pbuf_get_allocsrc(q) != PBUF_TYPE_ALLOC_SRC_MASK_STD_MEMP_PBUF_POOL || q->ref != 1 ||
        (q->flags & PBUF_FLAG_IS_CUSTOM)) {
        return 0;
    }
    const uint8_t *end = (const uint8_t *)q + LWIP_MEM_ALIGN_SIZE(sizeof(struct pbuf)) +
                         LWIP_MEM_ALIGN_SIZE(PBUF_POOL_BUFSIZE);
    const uint8_t *used = (const uint8_t *)q->payload + q->len;
    return used < end ? (size_t)(end - used) : 0;
}

/* The chain p after what waits: linked at the tail, not with pbuf_cat, which walks the
 * queue and rewrites every tot_len in it (a 64 KiB frame's 44 pbufs onto a queue of a
 * window's 176 cost thousands of steps; 2.8 % of the gateway's time in `make bench`'s
 * 1-stream download). */
static void rxq_link(struct tcp_stream *s, struct pbuf *p)
{
    if (s->rxq == NULL) {
        s->rxq = p;
    } else {
        s->rxq_tail->next = p;
    }
    while (p->next != NULL) {
        p = p->next;
    }
    s->rxq_tail = p;
}

/* Queue received data after what waits unread. Bounded: unread data is never acknowledged,
 * so it stays within the window in bytes. In pbufs too: a segment that fits the free room
 * of the last pbuf is copied there and its own pbuf freed, or a peer sending 1-byte segments
 * would hold a pool pbuf per byte (a window of them, 55 times the pool). The same for each
 * segment of a chain (out-of-order ones a gap released). A full segment leaves no room and
 * is copied only into a pbuf that holds a few bytes. The queue's tot_len are not kept (past
 * 64 KiB, the tunnel's window, the head's would wrap anyway): rxq_len counts, and reads
 * (pbuf_copy_partial, pbuf_free_header) walk each pbuf's len. */
static void rxq_add(struct tcp_stream *s, struct pbuf *p)
{
    s->rxq_len += p->tot_len;
    while (p != NULL) {
        if (p->ref != 1) {               /* shared (never from lwIP's input): as it is */
            rxq_link(s, p);
            return;
        }
        struct pbuf *rest = p->next;     /* its reference was p's: now ours */
        struct pbuf *tail = s->rxq_tail;
        p->next = NULL;
        p->tot_len = p->len;
        if (s->rxq != NULL && p->len <= pool_room(tail)) {
            memcpy((uint8_t *)tail->payload + tail->len, p->payload, p->len);
            tail->len = (u16_t)(tail->len + p->len);
            tail->tot_len = tail->len;
            pbuf_free(p);
        } else {
            rxq_link(s, p);
        }
        p = rest;
    }
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct tcp_stream *s = arg;
    (void)pcb;
    (void)err;
    if (p == NULL) {
        s->peer_fin = 1;
    } else {
        rxq_add(s, p);
    }
    return notify(s, TCP_STREAM_READABLE);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)pcb;
    (void)len;
    return notify(arg, TCP_STREAM_WRITABLE);
}

static void on_err(void *arg, err_t err)
{
    struct tcp_stream *s = arg;
    enum tcp_stream_fail why = TCP_FAIL_UNREACHABLE;
    if (err == ERR_RST) {
        why = s->connected ? TCP_FAIL_RESET : TCP_FAIL_REFUSED;
    } else if (err == ERR_ABRT) {
        why = TCP_FAIL_ABORTED;
    }
    fail(s, why);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct tcp_stream *s = arg;
    (void)pcb;
    (void)err; /* lwIP always passes ERR_OK here; failures arrive through on_err */
    s->connected = 1;
    sys_untimeout(on_connect_timeout, s);
    tcp_stream_set_window(s, s->window);   /* the SYN-ACK opened lwIP's whole TCP_WND */
    /* The owner hears of it on the loop's next turn, after lwIP sent the handshake's
     * bare ACK: a first write from here would ride on that ACK, and passt (Debian 12's,
     * and today's) drops data carried by the handshake's ACK, which cost every TLS client
     * a retransmission timeout (the tunnel's handshake: 2760 ms instead of 16 ms). */
    s->connect_pending = 1;
    sys_timeout(0, on_connected_later, s);
    return ERR_OK;
}

static void on_connected_later(void *arg)
{
    struct tcp_stream *s = arg;
    (void)notify(s, 0);              /* outside lwIP's input: an abort needs no ERR_ABRT */
}

static void on_connect_timeout(void *arg)
{
    struct tcp_stream *s = arg;
    if (s->pcb != NULL && !s->connected) {
        struct tcp_pcb *pcb = s->pcb;
        tcp_arg(pcb, NULL);
        tcp_err(pcb, NULL);
        tcp_abort(pcb);
        fail(s, TCP_FAIL_TIMEOUT);
    }
}

static void attach(struct tcp_stream *s, struct tcp_pcb *pcb, tcp_stream_cb cb, void *arg)
{
    memset(s, 0, sizeof *s);
    s->pcb = pcb;
    s->cb = cb;
    s->arg = arg;
    tcp_arg(pcb, s);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
    /* Interactive protocols and TLS flights: send what we have now, not after an ACK. */
    tcp_nagle_disable(pcb);
    s->window = GW_TCP_WND_LAN;      /* applied once connected: lwIP starts every pcb at TCP_WND */
}

/* see tcp_stream.h */
int tcp_stream_connect(struct tcp_stream *s, const ip_addr_t *addr, uint16_t port,
                       uint32_t timeout_ms, tcp_stream_cb cb, void *arg)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IP_GET_TYPE(addr));
    if (pcb == NULL) {
        memset(s, 0, sizeof *s);
        return TCP_STREAM_ENOMEM;
    }
    attach(s, pcb, cb, arg);
    err_t err = tcp_connect(pcb, addr, port, on_connected);
    if (err != ERR_OK) {
        stream_detach(s);
        tcp_abort(pcb);
        s->fail = TCP_FAIL_UNREACHABLE;
        return err == ERR_MEM ? TCP_STREAM_ENOMEM : TCP_STREAM_ERROR;  /* no room for a SYN */
    }
    sys_timeout(timeout_ms, on_connect_timeout, s);
    return TCP_STREAM_OK;
}

/* Of give bytes of window, what moves its right edge to a whole number of segments of the
 * peer's stream (counted from its first byte: the bytes read, those waiting, the window).
 * A sender fills the window to its edge, so an edge mid-segment makes a frame end in a
 * short segment, and a short segment takes a receive pbuf as a full one does: a share of
 * the pool counted in segments (splice_window_for) would then not hold. Never leaves the
 * window under one segment for want of rounding. */
static uint32_t whole_segments(const struct tcp_stream *s, uint32_t give)
{
    const struct tcp_pcb *pcb = s->pcb;
    uint32_t edge = (uint32_t)s->bytes_in + (uint32_t)tcp_stream_pending(s) + pcb->rcv_wnd + give;
    uint32_t cut = edge % TCP_MSS;
    if (cut == 0) {
        return give;
    }
    if (cut < give && pcb->rcv_wnd + give - cut >= TCP_MSS) {
        return give - cut;
    }
    return pcb->rcv_wnd >= TCP_MSS ? 0 : give;   /* the rest once more is read */
}

/* Give back held window. Under a limit (tcp_stream_set_window) what waits unread counts
 * with the window offered, for both hold pbufs: offered in full beside a queue not yet read,
 * a hundred splices held twice their share (`make bench`, 100 streams down: frames shed for
 * want of pbufs while the shares' sum fitted the pool). */
static void window_release(struct tcp_stream *s)
{
    struct tcp_pcb *pcb = s->pcb;
    if (pcb == NULL || s->withheld == 0) {
        return;
    }
    uint32_t give = s->withheld;
    if (s->window) {
        uint32_t held = pcb->rcv_wnd + (uint32_t)tcp_stream_pending(s);
        give = held >= s->window ? 0 : s->window - held;
        give = whole_segments(s, give < s->withheld ? give : s->withheld);
    }
    while (give > 0) {
        u16_t k = (u16_t)(give < 0xffff ? give : 0xffff);
        tcp_recved(pcb, k);
        give -= k;
        s->withheld -= k;
    }
}

/* see tcp_stream.h */
void tcp_stream_set_window(struct tcp_stream *s, uint32_t bytes)
{
    struct tcp_pcb *pcb = s->pcb;
    s->window = bytes == 0 ? GW_TCP_WND_LAN : bytes > TCP_WND ? TCP_WND : bytes;
    if (pcb == NULL || !s->connected) {
        return;                      /* applied once connected: the SYN-ACK resets it */
    }
    if (pcb->rcv_wnd > s->window && pcb->rcv_wnd == pcb->rcv_ann_wnd && s->bytes_in == 0
        && s->rxq == NULL && pcb->ooseq == NULL && pcb->rcv_wnd + s->withheld == TCP_WND_MAX(pcb)) {
        /* nothing received yet: the offer can shrink before the peer sends (not with data
         * queued out of order against the larger window: lwIP would assert on it later).
         * Its right edge too: a listener's SYN-ACK recorded lwIP's whole TCP_WND there (the
         * header said 64 KiB), and lwIP never announces an edge short of the one recorded,
         * so a peer kept sending past our window, each segment trimmed and answered: two
         * lwIP ends traded them without end (test_tcp_stream hung). */
        s->withheld += pcb->rcv_wnd - s->window;
        pcb->rcv_wnd = pcb->rcv_ann_wnd = (tcpwnd_size_t)s->window;
        pcb->rcv_ann_right_edge = pcb->rcv_nxt + s->window;
        return;
    }
    window_release(s);
}

/* The send buffer's size: what tcp_sndbuf() shows with nothing unacknowledged. */
static uint32_t sndbuf_size(const struct tcp_stream *s)
{
    return s->sndbuf ? s->sndbuf : TCP_SND_BUF;
}

/* see tcp_stream.h */
void tcp_stream_set_sndbuf(struct tcp_stream *s, uint32_t bytes)
{
    struct tcp_pcb *pcb = s->pcb;
    uint32_t old = sndbuf_size(s);
    if (bytes > GW_TCP_SND_BUF_WAN) {
        bytes = GW_TCP_SND_BUF_WAN;  /* what TCP_SND_QUEUELEN and the heap are sized for */
    }
    if (pcb == NULL || bytes <= old) {
        return;
    }
    /* lwIP keeps snd_buf as the room left and adds acknowledged bytes back without a cap,
     * so growing the room grows the buffer for good. */
    pcb->snd_buf += bytes - old;
    /* tcp_alloc starts ssthresh at TCP_SND_BUF, the most a connection could have in flight:
     * left there, slow start would stop at a quarter of this buffer and the window would
     * then grow by one segment per round trip (130 round trips to fill it). One a loss
     * already lowered (to half the window then in flight) is kept. */
    if (pcb->ssthresh >= old) {
        pcb->ssthresh = bytes;
    }
    s->sndbuf = bytes;
}

/* see tcp_stream.h */
void tcp_stream_accept(struct tcp_stream *s, struct tcp_pcb *pcb, tcp_stream_cb cb, void *arg)
{
    attach(s, pcb, cb, arg);
    s->connected = 1;
    tcp_stream_set_window(s, s->window);   /* the handshake opened lwIP's whole TCP_WND */
}

/* see tcp_stream.h */
long tcp_stream_recv(struct tcp_stream *s, uint8_t *buf, size_t len)
{
    if (s->rxq == NULL) {
        if (s->fail != TCP_FAIL_NONE) {
            return TCP_STREAM_ERROR;
        }
        if (s->peer_fin) {
            return TCP_STREAM_EOF;
        }
        return s->pcb == NULL ? TCP_STREAM_ERROR : 0;
    }
    size_t n = s->rxq_len < len ? s->rxq_len : len;
    if (n > 0xffff) {
        n = 0xffff;
    }
    pbuf_copy_partial(s->rxq, buf, (u16_t)n, 0);
    s->rxq = pbuf_free_header(s->rxq, (u16_t)n);
    s->rxq_len -= (uint32_t)n;
    if (s->rxq == NULL) {
        s->rxq_tail = NULL;
    }
    s->bytes_in += n;
    if (s->pcb != NULL) {
        s->withheld += (uint32_t)n;   /* only now may the peer send more, as far as the */
        owe_output(&release_owed);    /* window limit allows: at the turn's end (flush) */
        if (s->pcb->rcv_wnd == 0) {
            /* Not a shut window meanwhile: lwIP 2.1.3 answers any bare ACK that reaches a
             * zero window with an ACK (tcp_receive takes it for out-of-window), and two lwIP
             * ends both at zero (the gateway talking to its own services) would answer each
             * other without end. One byte is below every threshold: nothing is sent. */
            tcp_recved(s->pcb, 1);
            s->withheld--;
        }
    }
    return (long)n;
}

/* see tcp_stream.h */
size_t tcp_stream_pending(const struct tcp_stream *s)
{
    return s->rxq_len;
}

/* see tcp_stream.h */
size_t tcp_stream_room(const struct tcp_stream *s)
{
    if (s->pcb == NULL || !s->connected) {
        return 0;
    }
    /* Also bounded by free segment slots: each write may take one. */
    if (tcp_sndqueuelen(s->pcb) >= TCP_SND_QUEUELEN - 1) {
        return 0;
    }
    return tcp_sndbuf(s->pcb);
}

/* see tcp_stream.h */
size_t tcp_stream_unacked(const struct tcp_stream *s)
{
    if (s->pcb == NULL) {
        return 0;
    }
    return (size_t)(sndbuf_size(s) - s->pcb->snd_buf);
}

/* Data written this turn leaves in one tcp_output() per connection: written piecemeal
 * (splice chunks of 2 KiB, TLS records of 4 KiB), an output per write would send each
 * piece's tail as a short segment, and a segment is a frame (profiled: 1460 + 580 bytes per
 * splice chunk; a full-size frame costs the same system call as a short one).
 *
 * Window read back this turn is given back here too, once per connection: tcp_recved()
 * sends a window update as soon as the window grew by TCP_WND_UPDATE_THRESHOLD, so a turn
 * that read four 16 KiB TLS records sent four bare ACKs (`strace` under `make bench`: six
 * 64-byte writes per 64 KiB received), and the sender, its window opened 16 KiB at a time,
 * answered each with a 16 KiB frame: one read() each. Given back at once, one update opens
 * the whole window, rides on this turn's data when there is some, and the peer sends one
 * merged frame. */

static void flush_owed(void *arg)
{
    (void)arg;
    tcp_stream_flush();
}

static void owe_output(int *what)
{
    if (!output_owed && !release_owed) {
        sys_timeout(0, flush_owed, NULL);   /* a loop that does not call flush still sends */
    }
    *what = 1;
}

/* see tcp_stream.h */
void tcp_stream_flush(void)
{
    if (!output_owed && !release_owed) {
        return;
    }
    int release = release_owed;
    output_owed = release_owed = 0;
    sys_untimeout(flush_owed, NULL);
    for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next) {
        if (release && pcb->recv == on_recv && pcb->callback_arg != NULL) {
            window_release(pcb->callback_arg);   /* before the data, so it rides along */
        }
        if (pcb->unsent != NULL) {
            tcp_output(pcb);
        }
    }
}

/* see tcp_stream.h */
long tcp_stream_send(struct tcp_stream *s, const uint8_t *p, size_t len)
{
    if (s->pcb == NULL) {
        return TCP_STREAM_ERROR;
    }
    size_t n = tcp_stream_room(s);
    if (n > len) {
        n = len;
    }
    if (n == 0) {
        return 0;
    }
    err_t err = tcp_write(s->pcb, p, (u16_t)n, TCP_WRITE_FLAG_COPY);
    if (err == ERR_MEM) {
        return 0; /* heap or segments short for now: WRITABLE will come */
    }
    if (err != ERR_OK) {
        return TCP_STREAM_ERROR;
    }
    s->bytes_out += n;
    owe_output(&output_owed);
    return (long)n;
}

/* see tcp_stream.h */
void tcp_stream_shutdown(struct tcp_stream *s)
{
    if (s->pcb != NULL) {
        tcp_shutdown(s->pcb, 0, 1);
    }
}

/* see tcp_stream.h */
void tcp_stream_close(struct tcp_stream *s)
{
    s->window = 0;                   /* held window would look like unread data: an RST */
    window_release(s);
    struct tcp_pcb *pcb = s->pcb;
    stream_detach(s);
    if (pcb != NULL && tcp_close(pcb) != ERR_OK) {
        tcp_abort(pcb);
        if (s->in_callback) {
            s->aborted_in_cb = 1;
        }
    }
}

/* see tcp_stream.h */
void tcp_stream_abort(struct tcp_stream *s)
{
    struct tcp_pcb *pcb = s->pcb;
    stream_detach(s);              /* also cancels a pending CONNECTED */
    s->fail = TCP_FAIL_ABORTED;
    if (pcb != NULL) {
        tcp_abort(pcb);
        if (s->in_callback) {
            s->aborted_in_cb = 1;
        }
    }
}

/* see tcp_stream.h */
void tcp_stream_move(struct tcp_stream *dst, struct tcp_stream *src, tcp_stream_cb cb,
                     void *arg)
{
    int pending = src->connect_pending;
    connected_cancel(src);
    *dst = *src;
    if (pending) {
        dst->connect_pending = 1;
        sys_timeout(0, on_connected_later, dst);
    }
    dst->cb = cb;
    dst->arg = arg;
    dst->in_callback = 0;
    if (dst->pcb != NULL) {
        tcp_arg(dst->pcb, dst);
    }
    src->pcb = NULL;
    src->rxq = src->rxq_tail = NULL;
    src->rxq_len = 0;
    src->cb = NULL;
}

/* see tcp_stream.h */
int tcp_stream_fin_unacked(void)
{
    for (const struct tcp_pcb *p = tcp_active_pcbs; p != NULL; p = p->next) {
        if (p->state == FIN_WAIT_1 || p->state == CLOSING || p->state == LAST_ACK) {
            return 1;
        }
    }
    return 0;
}

/* see tcp_stream.h */
int tcp_stream_alive(const struct tcp_stream *s)
{
    return s->pcb != NULL;
}

/* see tcp_stream.h */
const char *tcp_stream_fail_text(enum tcp_stream_fail f)
{
    switch (f) {
    case TCP_FAIL_NONE: return "no failure";
    case TCP_FAIL_REFUSED: return "connection refused";
    case TCP_FAIL_RESET: return "connection reset by peer";
    case TCP_FAIL_TIMEOUT: return "connection timed out";
    case TCP_FAIL_UNREACHABLE: return "host unreachable";
    case TCP_FAIL_ABORTED: return "connection aborted";
    }
    return "unknown failure";
}

/* see tcp_stream.h */
long tcp_stream_io_send(void *arg, const uint8_t *p, size_t len)
{
    long n = tcp_stream_send(arg, p, len);
    return n < 0 ? -2 /* TLS_IO_ERROR */ : n;
}

/* see tcp_stream.h */
long tcp_stream_io_recv(void *arg, uint8_t *p, size_t len)
{
    return tcp_stream_recv(arg, p, len); /* EOF and ERROR share tls_io's values */
}
