/* TLS over a byte stream: BearSSL's engine pumped from the event loop, never blocking.
 *
 * The stream below is two non-blocking calls (struct tls_io), so the same pump runs over
 * an lwIP TCP connection and over a kernel socket:
 *
 *   - send(p, len): take up to len bytes; return how many (0: no room now), or TLS_IO_ERROR.
 *     lwIP: tcp_write() what tcp_sndbuf() allows, then tcp_output().
 *   - recv(p, len): give up to len received bytes; return how many (0: none now),
 *     TLS_IO_EOF when the peer closed its side, or TLS_IO_ERROR. lwIP: copy out of the
 *     queued pbufs and tcp_recved() exactly what was copied, so TCP acknowledges only what
 *     the engine really consumed and a slow reader throttles the sender.
 *
 * The backend calls tls_stream_pump() whenever the stream may have become readable or
 * writable (lwIP recv/sent callbacks, epoll), and waits for what tls_stream_wants() says.
 * A flight of handshake records arrives at send() as several calls: backends disable Nagle
 * (TCP_NODELAY, tcp_nagle_disable()) or the last record waits for a delayed ACK (measured:
 * 49 ms per handshake with Nagle, 4 ms without, on loopback).
 * The pump follows BearSSL's ssl_io.c run_until: outgoing records first, then incoming,
 * until neither moves. Application data goes through tls_stream_read()/tls_stream_write();
 * a write is flushed into a record at once (interactive protocols, tunnels).
 *
 * Client now (the gateway's side); the relay will add a server setup over the same pump.
 * TLS 1.2 only (BearSSL has no 1.3), ECDHE with ECDSA or RSA certificates, AES-GCM or
 * ChaCha20-Poly1305; the server certificate is checked by tls/verify (trust anchors, time,
 * host name) and every failure leaves a one-line verdict.
 *
 * Buffers are bidirectional: a mono buffer deadlocks a protocol that is not strictly
 * half-duplex. Maximum fragment length (RFC 6066): our records carry at most
 * TLS_STREAM_MAX_FRAG (4 KiB) bytes, so the output buffer is 4 KiB plus overhead, and the
 * ClientHello asks the server for the same limit (BearSSL advertises it because the output
 * buffer is small). The input buffer stays full-size, because a server may ignore the
 * request (many do) and send 16 KiB records; one that honours it (OpenSSL, BearSSL) sends
 * 4 KiB records, which the pump hands on sooner. Receiving 4 KiB records only would save
 * another 12 KiB, but fail against every server that ignores the extension.
 *
 * RAM per connection: sizeof(struct tls_stream), on 64-bit about 39 KiB with MFL (20,890
 * bytes of record buffers: 16,709 in, 4,181 out), against about 51 KiB without it (33,178
 * bytes of record buffers, BR_SSL_BUFSIZE_BIDI); plus the BearSSL client context (~3.7 KiB)
 * and the verifier (~14.6 KiB, see verify.h). */
#ifndef GW_TLS_STREAM_H
#define GW_TLS_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "bearssl.h"
#include "verdict.h"
#include "verify.h"

/* The largest record we send, and ask the server to send (a power of two, 512..4096). */
#define TLS_STREAM_MAX_FRAG 4096
/* Record buffers: full-size input, output for TLS_STREAM_MAX_FRAG (BearSSL's overhead for
 * an outgoing record is BR_SSL_BUFSIZE_OUTPUT - 16384 = 85 bytes). */
#define TLS_STREAM_IBUF BR_SSL_BUFSIZE_INPUT
#define TLS_STREAM_OBUF (BR_SSL_BUFSIZE_OUTPUT - 16384 + TLS_STREAM_MAX_FRAG)
#define TLS_STREAM_BUF (TLS_STREAM_IBUF + TLS_STREAM_OBUF)

enum {
    TLS_IO_EOF = -1,             /* the peer closed its side of the stream */
    TLS_IO_ERROR = -2,           /* the stream failed (reset, unreachable) */
};

struct tls_io {
    long (*send)(void *arg, const uint8_t *p, size_t len);
    long (*recv)(void *arg, uint8_t *p, size_t len);
    void *arg;
};

enum tls_stream_state {
    TLS_ST_HANDSHAKE,            /* agreeing keys, checking the server: no data yet */
    TLS_ST_OPEN,                 /* application data flows both ways */
    TLS_ST_CLOSED,               /* ended: close_notify, or the peer's EOF once open */
    TLS_ST_FAILED,               /* the handshake or the connection failed: see verdict */
};

/* What the backend should wait for before pumping again. */
#define TLS_WANT_READ 1u
#define TLS_WANT_WRITE 2u

struct tls_client_config {
    const char *host;            /* the name to check: DNS name or IP literal (required) */
    const char *sni;             /* send and check this name instead (NULL: host, and no SNI
                                    when host is an IP literal) */
    const br_x509_trust_anchor *anchors;
    size_t anchors_num;
    int64_t now;                 /* Unix seconds from a clock the caller believes */
    const br_x509_certificate *client_chain;   /* mutual TLS: our chain, leaf first ... */
    size_t client_chain_len;
    const br_ec_private_key *client_key;       /* ... and our P-256 key (NULL: none) */
    struct tls_chain *capture;   /* the server's chain for `tls probe` (NULL: none) */
};

struct tls_stream {
    br_ssl_client_context cc;
    struct tls_verify verify;
    struct tls_io io;
    enum tls_stream_state state;
    int eof;                     /* the stream below reported TLS_IO_EOF */
    int io_failed;               /* ... or TLS_IO_ERROR */
    int truncated;               /* closed by EOF without the peer's close_notify */
    int engine_err;              /* br_ssl_engine_last_error() once closed or failed */
    char verdict[VERDICT_MAX];
    uint8_t buf[TLS_STREAM_BUF];
};

/* Start a client handshake over io (nothing is sent until the first pump). Returns 0, or
 * TLS_EINVAL (no host), TLS_ENORANDOM (the board has no entropy: no TLS at all). */
int tls_stream_client(struct tls_stream *s, const struct tls_client_config *cfg,
                      const struct tls_io *io);
/* Move records between the engine and the stream; returns the state afterwards. */
enum tls_stream_state tls_stream_pump(struct tls_stream *s);
/* TLS_WANT_READ and/or TLS_WANT_WRITE, or 0 when only the application can move things. */
unsigned tls_stream_wants(const struct tls_stream *s);
/* Decrypted bytes: returns how many (0: none yet), TLS_IO_EOF once the peer has closed
 * and everything was read, TLS_IO_ERROR when the connection failed. */
long tls_stream_read(struct tls_stream *s, uint8_t *buf, size_t len);
/* Decrypted bytes waiting to be read. While there are any, the engine takes no more records
 * (tls_stream_wants() has no TLS_WANT_READ): a backend must not sleep on the socket then. */
size_t tls_stream_readable(const struct tls_stream *s);
/* The same for any engine (the relay's server side too). */
size_t tls_engine_readable(const br_ssl_engine_context *eng);
/* Queue bytes for sending: returns how many were taken (0: not open yet, or the engine's
 * buffer is full: pump and retry), or TLS_IO_ERROR once closed or failed. */
long tls_stream_write(struct tls_stream *s, const uint8_t *p, size_t len);
/* Send close_notify (then the backend closes the stream once tls_stream_wants() is 0). */
void tls_stream_close(struct tls_stream *s);
/* The one-line verdict: "ok: chain anchored at ...", or what failed. */
const char *tls_stream_verdict(const struct tls_stream *s);

#endif
