/* The TLS client (the gateway's side: the tunnel to the relay, `tls` mappings, the IMAP
 * receiver, `tls probe`): BearSSL's client engine on the pump of tls_engine.h, over the
 * same struct tls_io. What it adds to the pump: the server certificate is checked by
 * tls/verify (trust anchors, time, host name) and every failure leaves a one-line verdict;
 * SNI; our own certificate for mutual TLS; a copy of the server's chain for `tls probe`.
 * The profile is the pump's (tls_engine_init: TLS 1.2, ECDHE, AEAD), as the server's.
 *
 * Maximum fragment length (RFC 6066): our records carry at most TLS_CLIENT_MAX_FRAG
 * (4 KiB) bytes, so the output buffer is 4 KiB plus overhead, and the ClientHello asks the
 * server for the same limit (BearSSL advertises it because the output buffer is small). The
 * input buffer stays full-size, because a server may ignore the request (many do) and send
 * 16 KiB records; one that honours it (OpenSSL, BearSSL) sends 4 KiB records, which the
 * pump hands on sooner. Receiving 4 KiB records only would save another 12 KiB, but fail
 * against every server that ignores the extension.
 *
 * RAM per connection: sizeof(struct tls_client), on 64-bit about 39 KiB with MFL (20,890
 * bytes of record buffers: 16,709 in, 4,181 out), against about 51 KiB without it (33,178
 * bytes of record buffers, BR_SSL_BUFSIZE_BIDI); plus the BearSSL client context (~3.7 KiB)
 * and the verifier (~14.6 KiB, see verify.h). */
#ifndef GW_TLS_CLIENT_H
#define GW_TLS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "bearssl.h"
#include "tls_engine.h"
#include "verify.h"

/* The largest record we send, and ask the server to send (a power of two, 512..4096). */
#define TLS_CLIENT_MAX_FRAG 4096
/* Record buffers: full-size input, output for TLS_CLIENT_MAX_FRAG (BearSSL's overhead for
 * an outgoing record is BR_SSL_BUFSIZE_OUTPUT - 16384 = 85 bytes). */
#define TLS_CLIENT_IBUF BR_SSL_BUFSIZE_INPUT
#define TLS_CLIENT_OBUF (BR_SSL_BUFSIZE_OUTPUT - 16384 + TLS_CLIENT_MAX_FRAG)
#define TLS_CLIENT_BUF (TLS_CLIENT_IBUF + TLS_CLIENT_OBUF)

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

struct tls_client {
    struct tls_engine engine;    /* the pump: state, verdict */
    br_ssl_client_context cc;
    struct tls_verify verify;
    uint8_t buf[TLS_CLIENT_BUF];
};

/* Start a client handshake over io (nothing is sent until the first pump). Returns 0, or
 * TLS_EINVAL (no host), TLS_ENORANDOM (the board has no entropy: no TLS at all). */
int tls_client_start(struct tls_client *c, const struct tls_client_config *cfg,
                     const struct tls_io *io);

/* The pump's calls on the client (tls_engine.h says what each does). */
static inline enum tls_state tls_client_pump(struct tls_client *c)
{
    return tls_engine_pump(&c->engine);
}

static inline unsigned tls_client_wants(const struct tls_client *c)
{
    return tls_engine_wants(&c->engine);
}

static inline long tls_client_read(struct tls_client *c, uint8_t *buf, size_t len)
{
    return tls_engine_read(&c->engine, buf, len);
}

static inline size_t tls_client_readable(const struct tls_client *c)
{
    return tls_engine_readable(&c->engine);
}

static inline long tls_client_write(struct tls_client *c, const uint8_t *p, size_t len)
{
    return tls_engine_write(&c->engine, p, len);
}

static inline void tls_client_close(struct tls_client *c)
{
    tls_engine_close(&c->engine);
}

/* The one-line verdict: "ok: chain anchored at ...", or what failed. */
static inline const char *tls_client_verdict(const struct tls_client *c)
{
    return c->engine.verdict;
}

#endif
