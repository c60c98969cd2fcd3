/* TLS over a byte stream: one pump for BearSSL's engine (br_ssl_engine_context), the
 * client's (tls_client.h) and the server's (tls_server.h), run from the event loop and
 * never blocking. It does what BearSSL's own br_sslio (ssl_io.c) does for blocking
 * sockets: hold the engine and two calls to the stream below, and move records between
 * them.
 *
 * The stream below is two non-blocking calls (struct tls_io), so the same pump runs over
 * an lwIP TCP connection (net/tcp_stream, the gateway) and over a kernel socket
 * (tls_io_fd.h: the relay, host tests, benches):
 *
 *   - send(p, len): take up to len bytes; return how many (0: no room now), or TLS_IO_ERROR.
 *     lwIP: tcp_write() what tcp_sndbuf() allows, then tcp_output().
 *   - recv(p, len): give up to len received bytes; return how many (0: none now),
 *     TLS_IO_EOF when the peer closed its side, or TLS_IO_ERROR. lwIP: copy out of the
 *     queued pbufs and tcp_recved() exactly what was copied, so TCP acknowledges only what
 *     the engine really consumed and a slow reader throttles the sender.
 *
 * The backend calls tls_engine_pump() whenever the stream may have become readable or
 * writable (lwIP recv/sent callbacks, epoll), and waits for what tls_engine_wants() says.
 * A flight of handshake records arrives at send() as several calls: backends disable Nagle
 * (TCP_NODELAY, tcp_nagle_disable()) or the last record waits for a delayed ACK (measured:
 * 49 ms per handshake with Nagle, 4 ms without, on loopback).
 *
 * The pump follows run_until() in ssl_io.c: outgoing records first, then incoming, until
 * neither moves. Unlike br_sslio it never waits, and it reads while sending waits: both
 * ends use bidirectional buffers (a mono buffer deadlocks a protocol that is not strictly
 * half-duplex), so the engine never needs br_sslio's "flush to make room". Application
 * data goes through tls_engine_read()/tls_engine_write(); a write is flushed into a record
 * at once (interactive protocols, tunnels).
 *
 * Errors are sticky, as in BearSSL: the first failure (the engine's BR_ERR_*, or BR_ERR_IO
 * when the stream below failed, the code br_sslio uses) stays in the context, the state
 * is then TLS_ST_FAILED for good, and every later call says so instead of touching the
 * stream again. The verdict is one line for the log and the console about how the
 * connection went ("ok: ...", or what failed): the stream's failures are written here, how
 * the handshake ended by the role's class (the client judges the server's chain, the
 * server the client's certificate). */
#ifndef GW_TLS_ENGINE_H
#define GW_TLS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "bearssl.h"
#include "verdict.h"

enum {
    TLS_IO_EOF = -1,             /* the peer closed its side of the stream */
    TLS_IO_ERROR = -2,           /* the stream failed (reset, unreachable) */
};

struct tls_io {
    long (*send)(void *arg, const uint8_t *p, size_t len);
    long (*recv)(void *arg, uint8_t *p, size_t len);
    void *arg;
};

enum tls_state {
    TLS_ST_HANDSHAKE,            /* agreeing keys, checking the peer: no data yet */
    TLS_ST_OPEN,                 /* application data flows both ways */
    TLS_ST_CLOSED,               /* ended: close_notify, or the peer's EOF once open */
    TLS_ST_FAILED,               /* the handshake or the connection failed: see verdict */
};

/* What the backend should wait for before pumping again. */
#define TLS_WANT_READ 1u
#define TLS_WANT_WRITE 2u

struct tls_engine;

/* What a role (client, server) adds to the pump. */
struct tls_engine_class {
    const char *peer;            /* "server" or "client": who closed during the handshake */
    /* The engine ended the handshake: state is TLS_ST_OPEN (err is BR_ERR_OK) or
     * TLS_ST_FAILED (err: the engine's BR_ERR_*; BR_ERR_OK when the peer sent close_notify).
     * Writes the verdict: "ok: ..." or why the peer was refused or refused us. */
    void (*verdict)(struct tls_engine *e, int err);
    /* br_ssl_client_reset() or br_ssl_server_reset() on the role's context: 1 on success. */
    int (*reset)(struct tls_engine *e);
};

struct tls_engine {
    br_ssl_engine_context *eng;  /* the role's engine: &cc.eng or &sc.eng */
    const struct tls_engine_class *cls;
    struct tls_io io;
    enum tls_state state;
    int err;                     /* sticky, the first failure: BR_ERR_*, or BR_ERR_IO */
    uint8_t eof;                 /* the stream below reported TLS_IO_EOF */
    uint8_t truncated;           /* closed by EOF without the peer's close_notify */
    char verdict[VERDICT_MAX];
};

/* Which AEAD our suite list puts first. A TLS server (the relay) takes the client's order
 * (BearSSL without BR_OPT_ENFORCE_SERVER_PREFERENCES), so the gateway's choice decides. */
enum tls_prefer {
    TLS_PREFER_AUTO,             /* AES-GCM when tls_aes_gcm_in_hardware(), else ChaCha20 */
    TLS_PREFER_AES_GCM,
    TLS_PREFER_CHACHA20,
};

/* 1 when BearSSL runs AES and GHASH on instructions of this CPU (AES-NI with PCLMULQDQ,
 * or POWER8's); 0 when it would fall back to its constant-time software AES, which is
 * several times slower than its ChaCha20-Poly1305: an aarch64 box (BearSSL 0.6 has no
 * ARMv8 AES code, whatever the CPU has), or an x86 without AES-NI. */
int tls_aes_gcm_in_hardware(void);
/* One line for `show status`: the AES-GCM and ChaCha20-Poly1305 implementations BearSSL
 * picks on this CPU ("AES-GCM aes_x86ni + ghash_pclmul, ChaCha20-Poly1305 chacha20_sse2 +
 * poly1305_ctmulq; AES-GCM preferred"). */
void tls_describe_impls(char *buf, size_t len);
/* The OpenSSL-style name of one of our suites, NULL for any other. */
const char *tls_suite_name(unsigned suite);
/* The suite an open connection agreed on and the implementation running it
 * ("ECDHE-ECDSA-AES128-GCM-SHA256 (aes_x86ni + ghash_pclmul)"), or "no suite agreed". */
void tls_engine_describe(const struct tls_engine *e, char *buf, size_t len);

/* Start a handshake on the role's engine, once the role has zeroed it (br_ssl_client_zero()
 * or br_ssl_server_zero()) and set its buffers, X.509 engine and identity: bind e to it and
 * to the stream below, give it the one profile of both ends, seed it with 32 fresh bytes
 * from the board's generator and reset it through cls->reset (nothing moves until the first
 * pump). The profile: TLS 1.2 only (BearSSL has no 1.3), ECDHE with ECDSA or RSA
 * certificates, AES-GCM or ChaCha20-Poly1305 (forward secrecy and AEAD only), in the order
 * prefer says.
 * Returns 0 (state TLS_ST_HANDSHAKE, verdict "handshake not finished"), or with e failed
 * and the verdict saying why: TLS_ENORANDOM (the board has no entropy: no TLS at all),
 * TLS_EINVAL (the engine refused its configuration). cls and the engine must outlive e. */
int tls_engine_start(struct tls_engine *e, br_ssl_engine_context *eng,
                     const struct tls_engine_class *cls, const struct tls_io *io,
                     enum tls_prefer prefer);

/* Move records between the engine and the stream; returns the state afterwards. */
enum tls_state tls_engine_pump(struct tls_engine *e);
/* Decrypted bytes: returns how many (0: none yet), TLS_IO_EOF once the peer has closed
 * and everything was read, TLS_IO_ERROR when the connection failed. */
long tls_engine_read(struct tls_engine *e, uint8_t *buf, size_t len);
/* Decrypted bytes waiting to be read. While there are any, the engine takes no more records
 * (tls_engine_wants() has no TLS_WANT_READ): a backend must not sleep on the socket then. */
size_t tls_engine_readable(const struct tls_engine *e);
/* Queue bytes for sending: returns how many were taken (0: not open yet, or the engine's
 * buffer is full: pump and retry), or TLS_IO_ERROR once closed or failed. */
long tls_engine_write(struct tls_engine *e, const uint8_t *p, size_t len);

/* The two below are inline: a few lines each, and the gateway has one caller of each. */

/* TLS_WANT_READ and/or TLS_WANT_WRITE, or 0 when only the application can move things. */
static inline unsigned tls_engine_wants(const struct tls_engine *e)
{
    if (e->state == TLS_ST_FAILED) {
        return 0;
    }
    unsigned st = br_ssl_engine_current_state(e->eng);
    return ((st & BR_SSL_SENDREC) ? TLS_WANT_WRITE : 0u)
           | ((st & BR_SSL_RECVREC) && !e->eof ? TLS_WANT_READ : 0u);
}

/* Send close_notify (then the backend closes the stream once tls_engine_wants() is 0). */
static inline void tls_engine_close(struct tls_engine *e)
{
    if (e->state != TLS_ST_FAILED && e->state != TLS_ST_CLOSED) {
        br_ssl_engine_close(e->eng);
        tls_engine_pump(e);
    }
}

#endif
