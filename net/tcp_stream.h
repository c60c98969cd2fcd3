/* A byte stream over an lwIP TCP connection (raw API), for TLS, tunnels and IMAP.
 *
 * Back-pressure is end to end: received data stays in lwIP's pbufs until the owner reads it,
 * and only what was read is acknowledged to TCP (tcp_recved), so the receive window closes
 * on a slow reader and the memory one connection pins is bounded by TCP_WND. Sending takes
 * only what fits the send buffer (TCP_SND_BUF) and reports the rest as not taken.
 *
 * The owner gets events through one callback and reads or writes from there or later; the
 * callback may close or abort the stream (the lwIP glue then returns ERR_ABRT as lwIP
 * requires). State per stream: this struct (~80 B) plus lwIP's pcb. */
#ifndef GW_TCP_STREAM_H
#define GW_TCP_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/ip_addr.h"

struct tcp_pcb;
struct pbuf;

enum tcp_stream_event {
    TCP_STREAM_CONNECTED = 1u << 0,  /* an outgoing connection is established */
    TCP_STREAM_READABLE = 1u << 1,   /* data (or the peer's FIN) waits for tcp_stream_recv */
    TCP_STREAM_WRITABLE = 1u << 2,   /* the peer acknowledged data: send room grew */
    TCP_STREAM_FAILED = 1u << 3,     /* reset, unreachable or timed out: the stream is dead */
};

enum tcp_stream_err {
    TCP_STREAM_OK = 0,
    TCP_STREAM_EOF = -1,       /* recv: the peer finished sending and all was read */
    TCP_STREAM_ERROR = -2,     /* the connection failed; see last_err */
    TCP_STREAM_ENOMEM = -3,    /* no pcb free, or no memory for the SYN now */
};

/* Why a connection failed, for verdicts (SOCKS5 replies, `mapping check`). */
enum tcp_stream_fail {
    TCP_FAIL_NONE,
    TCP_FAIL_REFUSED,          /* RST on connect */
    TCP_FAIL_RESET,            /* RST once established */
    TCP_FAIL_TIMEOUT,          /* connect deadline passed */
    TCP_FAIL_UNREACHABLE,      /* no route, ARP failed, or lwIP gave up retransmitting */
    TCP_FAIL_ABORTED,          /* we aborted it */
};

struct tcp_stream;
typedef void (*tcp_stream_cb)(struct tcp_stream *s, unsigned events, void *arg);

struct tcp_stream {
    struct tcp_pcb *pcb;
    struct pbuf *rxq;          /* received, not yet read (at most one receive window) */
    struct pbuf *rxq_tail;     /* its last pbuf: a segment is linked without a walk */
    uint32_t rxq_len;          /* its bytes (its pbufs' tot_len are not kept: each len is) */
    tcp_stream_cb cb;
    void *arg;
    uint8_t connected;
    uint8_t connect_pending;   /* connected; the owner is told on the loop's next turn */
    uint8_t peer_fin;          /* the peer's FIN arrived (after rxq drains: EOF) */
    uint8_t in_callback;       /* inside an lwIP callback: defer the pcb's freeing */
    uint8_t aborted_in_cb;     /* aborted from within a callback: return ERR_ABRT */
    uint8_t fail;              /* enum tcp_stream_fail */
    uint32_t window;           /* receive window offered (tcp_stream_set_window); 0: all */
    uint32_t withheld;         /* read but not yet given back to the window (tcp_recved) */
    uint32_t sndbuf;           /* tcp_stream_set_sndbuf(): send buffer; 0: TCP_SND_BUF */
    uint64_t bytes_in, bytes_out;
};

/* Connect to addr:port; events arrive through cb. The connection fails with
 * TCP_FAIL_TIMEOUT unless established within timeout_ms. Returns 0 or an error. */
int tcp_stream_connect(struct tcp_stream *s, const ip_addr_t *addr, uint16_t port,
                       uint32_t timeout_ms, tcp_stream_cb cb, void *arg);
/* Offer the peer at most bytes of receive window from now on (0: GW_TCP_WND_LAN, what every
 * connection offers from the start; at most TCP_WND, net/port/lwipopts.h): data read is
 * given back to the window only up to that. Many connections that share the pbuf pool each
 * get a share of it this way, and the tunnel's WAN leg more than a LAN's. Window held back
 * is returned before a close, and when the limit grows again. */
void tcp_stream_set_window(struct tcp_stream *s, uint32_t bytes);
/* Raise this connection's send buffer to bytes (TCP_SND_BUF up to GW_TCP_SND_BUF_WAN,
 * net/port/lwipopts.h; it never shrinks): a connection over a WAN carries at most its send
 * buffer per round trip. Slow start may then open the congestion window that far too. */
void tcp_stream_set_sndbuf(struct tcp_stream *s, uint32_t bytes);
/* Adopt a connection accepted by a listener. */
void tcp_stream_accept(struct tcp_stream *s, struct tcp_pcb *pcb, tcp_stream_cb cb, void *arg);

/* Copy up to len received bytes into buf; their window goes back to the peer at the turn's
 * end (tcp_stream_flush). Returns the count (0: none yet), TCP_STREAM_EOF, or
 * TCP_STREAM_ERROR. */
long tcp_stream_recv(struct tcp_stream *s, uint8_t *buf, size_t len);
/* Bytes waiting to be read. */
size_t tcp_stream_pending(const struct tcp_stream *s);
/* Take up to len bytes for sending (copied). Returns the count (0: no room now: wait for
 * WRITABLE), or TCP_STREAM_ERROR. */
long tcp_stream_send(struct tcp_stream *s, const uint8_t *p, size_t len);
/* Send what tcp_stream_send() took this turn (one tcp_output() per connection, so writes
 * fill whole segments), and give back the window of what tcp_stream_recv() read (one window
 * update per connection, not one per read). The loop calls it before it sleeps; a loop that
 * does not still sends: a send or read schedules it as a zero-time lwIP timeout. */
void tcp_stream_flush(void);
/* Bytes that still fit the send buffer now. */
size_t tcp_stream_room(const struct tcp_stream *s);
/* Bytes taken by send but not yet acknowledged by the peer (at most the send buffer). */
size_t tcp_stream_unacked(const struct tcp_stream *s);
/* Send FIN after the queued data (half-close); reading goes on. */
void tcp_stream_shutdown(struct tcp_stream *s);
/* Close both ways gracefully (queued data is still sent), or abort with RST. Either way the
 * owner's callback is not called again and the struct may be reused. */
void tcp_stream_close(struct tcp_stream *s);
void tcp_stream_abort(struct tcp_stream *s);
/* Move an open stream to another struct (STARTTLS hands the connection to TLS): dst takes
 * over the pcb and anything received; src is left empty. The new owner gets the events. */
void tcp_stream_move(struct tcp_stream *dst, struct tcp_stream *src, tcp_stream_cb cb,
                     void *arg);
/* 1 while the connection exists (connecting, open or half-closed). */
int tcp_stream_alive(const struct tcp_stream *s);
/* 1 while a connection we closed has not had its FIN acknowledged: what it sent before
 * may not have arrived yet (a stopping gateway waits for that before it resets). */
int tcp_stream_fin_unacked(void);
const char *tcp_stream_fail_text(enum tcp_stream_fail f);

/* struct tls_io adapters (tls/tls_engine.h): arg is the struct tcp_stream. */
long tcp_stream_io_send(void *arg, const uint8_t *p, size_t len);
long tcp_stream_io_recv(void *arg, uint8_t *p, size_t len);

#endif
