/* The TLS server (the relay's side): BearSSL's server engine on the pump of tls_engine.h,
 * over the same struct tls_io, with mutual authentication required:
 *
 *   - the relay's identity: a certificate chain (leaf first) and its private key, RSA or EC,
 *     from PEM text (tls_server_identity_load);
 *   - the client must present a certificate that chains to one of the client CAs
 *     (br_x509_minimal with those CAs as anchors, validated at the caller's time, no host
 *     name: a client has none); a client without a certificate fails the handshake
 *     (BearSSL without BR_OPT_TOLERATE_NO_CLIENT_AUTH);
 *   - after the handshake, tls_server_peer_cn() is the client certificate's subject CN
 *     (for the relay, the Location ID), printable ASCII only, else the handshake fails.
 *
 * The profile is the pump's (tls_engine_start: TLS 1.2, ECDHE, AEAD), as the client's, and
 * the client's order of suites wins (a gateway without AES instructions asks for
 * ChaCha20-Poly1305 first). No
 * session cache: a tunnel lives for hours. No renegotiation either (BR_OPT_NO_RENEGOTIATION:
 * a client's renegotiation ClientHello is answered with a no_renegotiation warning), so the
 * client's chain is checked once, during the handshake, and the checker's memory can go
 * afterwards (tls_server_forget_check).
 *
 * Memory, as BearSSL does it: the library allocates nothing, the caller hands in the record
 * buffers and the chain checker (struct tls_server_mem), and decides where they live. The
 * relay puts them on pages of their own, so that the checker's pages can be given back
 * after the handshake and the buffers' pages while no record is held (tls_server_quiescent).
 *
 * RAM (64-bit, measured by test_relay_tls): struct tls_server_identity once per process,
 * 20,760 bytes (chain DER, key, client CA anchors); per connection struct tls_server,
 * about 4.5 KiB (the pump, the server context, the client's CN), the record buffers
 * (TLS_SERVER_IBUF + TLS_SERVER_OBUF, 33,178 bytes) and, during the handshake, the checker
 * (struct tls_peer_check, 7,360 bytes: br_x509_minimal and the client's leaf). The gateway
 * sends and gets full-size records, so a tunnel moving data uses the buffers whole; one that
 * only says hello and pings touches their first page; between records they hold nothing the
 * connection needs (tls_server_quiescent). A client that asks for 4 KiB records ever
 * touches about 4.2 KiB of each. */
#ifndef GW_TLS_SERVER_H
#define GW_TLS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "bearssl.h"
#include "tls_engine.h"
#include "trust.h"

/* Full-size records both ways: the relay accepts any client, also one that sends 16 KiB
 * records; a client that asks for a smaller maximum fragment length gets it. */
#define TLS_SERVER_IBUF BR_SSL_BUFSIZE_INPUT
#define TLS_SERVER_OBUF BR_SSL_BUFSIZE_OUTPUT

#define TLS_SERVER_CHAIN_MAX 4       /* certificates in the relay's chain */
#define TLS_SERVER_DER_MAX 16384     /* their DER bytes together */
#define TLS_CLIENT_CA_MAX 4          /* client CA certificates */
#define TLS_PEER_CERT_MAX 4096       /* the client's leaf, kept to read its CN */
#define TLS_PEER_CN_MAX 65           /* CN text and NUL */

struct tls_server_identity {
    br_x509_certificate chain[TLS_SERVER_CHAIN_MAX];
    size_t chain_len;
    uint8_t chain_der[TLS_SERVER_DER_MAX];
    br_skey_decoder_context key; /* holds the private key (RSA or EC) */
    int key_type;                /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
    br_x509_trust_anchor ca[TLS_CLIENT_CA_MAX];
    uint8_t ca_arena[TLS_CLIENT_CA_MAX * TRUST_ARENA_PER_ANCHOR];
    struct trust_store cas;
};

/* The X.509 engine for client chains: br_x509_minimal plus a copy of the leaf. */
struct tls_peer_check {
    const br_x509_class *vtable; /* first: BearSSL calls through &c->vtable */
    br_x509_minimal_context mini;
    unsigned ncerts;
    uint32_t leaf_total;
    size_t leaf_len;
    uint8_t leaf[TLS_PEER_CERT_MAX];
    char cn[TLS_PEER_CN_MAX];
    int err;
};

/* What a connection uses besides struct tls_server, the caller's: the record buffers (at
 * least TLS_SERVER_IBUF and TLS_SERVER_OBUF bytes, apart) and the chain checker, which is
 * needed until the handshake has ended. */
struct tls_server_mem {
    struct tls_peer_check *check;
    uint8_t *ibuf, *obuf;
    size_t ibuf_len, obuf_len;
};

struct tls_server {
    struct tls_engine engine;    /* the pump: state, verdict */
    br_ssl_server_context sc;
    struct tls_peer_check *check;    /* the caller's; NULL after tls_server_forget_check */
    uint8_t *ibuf, *obuf;
    char cn[TLS_PEER_CN_MAX];    /* the client's CN, kept when the handshake succeeds */
};

/* Load the relay's identity from PEM text: chain (CERTIFICATE blocks, leaf first), key
 * (EC PRIVATE KEY, RSA PRIVATE KEY or PRIVATE KEY), client CAs (CERTIFICATE blocks).
 * Returns 0, or a negative enum tls_err with a reason in err ("key: ..."). The key must
 * belong to the chain's leaf. Wipe with tls_server_identity_wipe(). */
int tls_server_identity_load(struct tls_server_identity *id,
                             const uint8_t *chain_pem, size_t chain_len,
                             const uint8_t *key_pem, size_t key_len,
                             const uint8_t *ca_pem, size_t ca_len, char *err, size_t errlen);
void tls_server_identity_wipe(struct tls_server_identity *id);

/* Start a server handshake over io in the memory mem gives (nothing happens until the
 * first pump). now: Unix seconds for the client certificate's validity. Returns 0,
 * TLS_ENORANDOM or TLS_EINVAL. Uses the process's generator (random.h) for the engine's
 * seed: call it from one thread; the pump itself may then run in any one thread at a time. */
int tls_server_start(struct tls_server *s, const struct tls_server_identity *id, int64_t now,
                     const struct tls_io *io, const struct tls_server_mem *mem);

/* The pump's calls on the server (tls_engine.h says what each does). */
static inline enum tls_state tls_server_pump(struct tls_server *s)
{
    return tls_engine_pump(&s->engine);
}

static inline unsigned tls_server_wants(const struct tls_server *s)
{
    return tls_engine_wants(&s->engine);
}

static inline long tls_server_read(struct tls_server *s, uint8_t *buf, size_t len)
{
    return tls_engine_read(&s->engine, buf, len);
}

static inline size_t tls_server_readable(const struct tls_server *s)
{
    return tls_engine_readable(&s->engine);
}

static inline long tls_server_write(struct tls_server *s, const uint8_t *p, size_t len)
{
    return tls_engine_write(&s->engine, p, len);
}

static inline void tls_server_close(struct tls_server *s)
{
    tls_engine_close(&s->engine);
}

/* The one-line verdict: "ok: client \"CN\"", or what failed. */
static inline const char *tls_server_verdict(const struct tls_server *s)
{
    return s->engine.verdict;
}

/* The client certificate's CN once open ("" before). */
const char *tls_server_peer_cn(const struct tls_server *s);

/* The client's leaf certificate (DER) once open, while the checker is still held; NULL
 * otherwise. */
const uint8_t *tls_server_peer_leaf(const struct tls_server *s, size_t *len);

/* The handshake has ended: the checker (mem->check) is no longer used and may be freed or
 * its pages given back. */
void tls_server_forget_check(struct tls_server *s);

/* Received plaintext in place, without a copy: the next run of it (0: none now), then how
 * much of it was used (the rest stays for the next peek). As tls_server_read, but the
 * bytes go straight from the record buffer to their consumer (the relay's yamux). */
static inline size_t tls_server_peek(struct tls_server *s, const uint8_t **p)
{
    size_t n = 0;
    *p = br_ssl_engine_recvapp_buf(&s->sc.eng, &n);
    return *p ? n : 0;
}

static inline void tls_server_consume(struct tls_server *s, size_t n)
{
    if (n > 0) {
        br_ssl_engine_recvapp_ack(&s->sc.eng, n);
        tls_engine_pump(&s->engine);     /* room freed: more records may come in */
    }
}

/* 1 when the record buffers hold nothing the connection still needs: no plaintext waiting
 * to be read, no partial record coming in, no record going out. Their contents may then be
 * discarded (the relay gives the pages back to the kernel with MADV_DONTNEED; they come
 * back zeroed when next touched). */
int tls_server_quiescent(const struct tls_server *s);

#endif
