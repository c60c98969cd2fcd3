/* A TLS client connection over lwIP TCP: a tcp_stream below, tls_client's pump above, driven
 * by the event loop (lwIP's callbacks and timers), never blocking. The tunnel (mutual TLS
 * with the device key), `tls` mappings, the IMAP receiver and `tls probe` sit on it.
 *
 *   tls_conn_open()  connect, then handshake; the owner hears TLS_CONN_OPEN (the chain was
 *                    checked and names the host) or TLS_CONN_FAILED (tls_conn_verdict()
 *                    says why, in one line).
 *   read/write       application data; READABLE and WRITABLE events say when to try again.
 *   tls_conn_close() close_notify; the TCP FIN follows only once every queued record was
 *                    handed to TCP (and TCP sends its queue before the FIN); the owner hears
 *                    TLS_CONN_CLOSED. A peer that never takes the data is cut at the deadline.
 *
 * Time: the caller passes the validation time in cfg->now from a clock it believes; 0 (or
 * anything before VERIFY_TIME_MIN) means the clock is not valid, and the connection fails
 * at once with the verdict "time not valid yet": certificate dates are never skipped.
 *
 * Every connection has one deadline (connect + handshake, then close) run by an lwIP timer.
 * RAM: sizeof(struct tls_conn), the tls_client (about 51 KiB on 64-bit: 16 KiB record
 * buffers each way, see tls_client.h, touched as far as records fill them) plus
 * ~0.3 KiB here, plus one lwIP tcp_pcb and at most one receive window of pbufs. */
#ifndef GW_TLS_CONN_H
#define GW_TLS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/ip_addr.h"
#include "tcp_stream.h"
#include "tls_client.h"

#define TLS_CONN_HOST_MAX 64
#define TLS_CONN_TIMEOUT_MS 10000    /* connect + handshake, and again for a close */
#define TLS_CONN_TIME_INVALID "time not valid yet"

enum tls_conn_event {
    TLS_CONN_OPEN = 1u << 0,       /* handshake done, server checked: data may flow */
    TLS_CONN_READABLE = 1u << 1,   /* decrypted data (or the peer's close) waits */
    TLS_CONN_WRITABLE = 1u << 2,   /* room to write again */
    TLS_CONN_CLOSED = 1u << 3,     /* closed cleanly (ours or the peer's close); final */
    TLS_CONN_FAILED = 1u << 4,     /* connect, handshake or connection failed; final */
};

enum tls_conn_state {
    TLS_CONN_IDLE,                 /* not started, or finished (closed or failed) */
    TLS_CONN_CONNECTING,           /* TCP connect in progress */
    TLS_CONN_HANDSHAKE,
    TLS_CONN_ESTABLISHED,
    TLS_CONN_CLOSING,              /* close_notify queued: waiting to hand it to TCP */
};

struct tls_conn;
typedef void (*tls_conn_cb)(struct tls_conn *c, unsigned events, void *arg);

struct tls_conn {
    enum tls_conn_state state;
    int failed;                    /* ended with TLS_CONN_FAILED */
    int tcp_up;                    /* the TCP connection was established */
    int peer_gone;                 /* closed by the peer (close_notify), then TCP reset */
    tls_conn_cb cb;
    void *arg;
    char host[TLS_CONN_HOST_MAX], sni[TLS_CONN_HOST_MAX];
    struct tls_client_config cfg;  /* host/sni point into this struct */
    uint32_t started_ms, handshake_ms;  /* board_now_ms() at open; handshake duration */
    char verdict[VERDICT_MAX];
    struct tcp_stream tcp;
    struct tls_client tls;
};

/* Connect to addr:port and run a client handshake with cfg (host required; anchors, client
 * identity and capture are kept by reference until the connection ends). Returns 0 (events
 * follow, TLS_CONN_FAILED included) or -1 when it failed at once (verdict says why; no
 * event follows). */
int tls_conn_open(struct tls_conn *c, const ip_addr_t *addr, uint16_t port,
                  const struct tls_client_config *cfg, tls_conn_cb cb, void *arg);
/* STARTTLS: run a client handshake over an open plain TCP stream, which c takes over
 * (tcp_stream_move). Nothing is read or sent before the first loop turn; events as for
 * tls_conn_open. Returns 0, or -1 when it failed at once (verdict says why; the TCP
 * stream then stays with the caller). */
int tls_conn_adopt(struct tls_conn *c, struct tcp_stream *plain,
                   const struct tls_client_config *cfg, tls_conn_cb cb, void *arg);
/* Decrypted bytes: count, 0 (none yet), TLS_IO_EOF, TLS_IO_ERROR (as tls_client_read). */
long tls_conn_read(struct tls_conn *c, uint8_t *buf, size_t len);
/* Queue bytes: count taken (0: wait for WRITABLE), or TLS_IO_ERROR. */
long tls_conn_write(struct tls_conn *c, const uint8_t *p, size_t len);
/* Plaintext bytes a write would take now (0 before the handshake is done). */
size_t tls_conn_write_room(struct tls_conn *c);
/* Close cleanly (close_notify, FIN after the queued data); TLS_CONN_CLOSED follows. */
void tls_conn_close(struct tls_conn *c);
/* Drop the connection now (RST); no event follows. */
void tls_conn_abort(struct tls_conn *c);
/* Fail c now with verdict (the owner hears TLS_CONN_FAILED, as for any failure). */
void tls_conn_fail(struct tls_conn *c, const char *verdict);
/* The one-line verdict: "ok: chain anchored at ...", or what failed. */
const char *tls_conn_verdict(const struct tls_conn *c);

#endif
