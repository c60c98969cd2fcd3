/* The TLS client (the gateway's side: the tunnel to the relay, `tls` mappings, the IMAP
 * receiver, `tls probe`): BearSSL's client engine on the pump of tls_engine.h, over the
 * same struct tls_io. What it adds to the pump: the server certificate is checked by
 * tls/verify (trust anchors, time, host name) and every failure leaves a one-line verdict;
 * SNI; our own certificate for mutual TLS; a copy of the server's chain for `tls probe`.
 * The profile is the pump's (tls_engine_start: TLS 1.2, ECDHE, AEAD), as the server's; the
 * suites' order (AES-GCM or ChaCha20-Poly1305 first) by what this CPU runs fast.
 *
 * Records are full-size (16 KiB) both ways, unless the configuration asks for smaller ones
 * (record_max): then our records carry at most that many bytes and the ClientHello asks
 * the server for the same limit (RFC 6066 maximum fragment length; BearSSL advertises it
 * because the output buffer it is given is small). The input buffer is always full-size,
 * because a server may ignore the request (many do) and send 16 KiB records. Full records
 * cost a 16 KiB output buffer, touched only as far as records fill it, and move bulk data
 * with a quarter of the records: the per-record work (a pump round, a TCP write, the
 * AEAD's setup and tag) was the tunnel's cost at 4 KiB (bench/README.md, "What the
 * profiles changed").
 *
 * RAM per connection: sizeof(struct tls_client), on 64-bit about 51 KiB (33,178 bytes of
 * record buffers, BR_SSL_BUFSIZE_BIDI), plus the BearSSL client context (~3.7 KiB) and the
 * verifier (~14.6 KiB, see verify.h); with record_max 4096 only 20,890 bytes of the
 * buffers are ever used (16,709 in, 4,181 out). */
#ifndef GW_TLS_CLIENT_H
#define GW_TLS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "bearssl.h"
#include "tls_engine.h"
#include "verify.h"

/* The largest record: what full-size records carry (no maximum fragment length asked). */
#define TLS_RECORD_FULL 16384
/* Record buffers, full-size both ways (BearSSL's overhead for an outgoing record is
 * BR_SSL_BUFSIZE_OUTPUT - 16384 = 85 bytes; a smaller record_max uses less of it). */
#define TLS_CLIENT_IBUF BR_SSL_BUFSIZE_INPUT
#define TLS_CLIENT_OBUF BR_SSL_BUFSIZE_OUTPUT
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
    unsigned record_max;         /* 0: full-size records; or the largest record we send and
                                    ask the server to send, a power of two 512..4096 */
    enum tls_prefer prefer;      /* the suites' order: TLS_PREFER_AUTO (0) decides by the
                                    CPU (tls_engine.h) */
};

struct tls_client {
    struct tls_engine engine;    /* the pump: state, verdict */
    br_ssl_client_context cc;
    struct tls_verify verify;
    uint8_t buf[TLS_CLIENT_BUF];
};

/* Start a client handshake over io (nothing is sent until the first pump). Returns 0, or
 * TLS_EINVAL (no host, or a record_max BearSSL cannot ask for), TLS_ENORANDOM (the board
 * has no entropy: no TLS at all). */
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
