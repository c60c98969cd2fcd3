/* see tls_engine.h */
#include <stdio.h>
#include <string.h>

#include "random.h"
#include "secure_wipe.h"
#include "tls_engine.h"
#include "tls_err.h"

/* ---- starting ---- */

/* Forward secrecy and AEAD only; the order is BearSSL's own preference. */
static const uint16_t suites[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};

static void set_verdict(struct tls_engine *e, const char *text)
{
    snprintf(e->verdict, sizeof e->verdict, "%s", text);
}

/* see tls_engine.h */
int tls_engine_start(struct tls_engine *e, br_ssl_engine_context *eng,
                     const struct tls_engine_class *cls, const struct tls_io *io)
{
    uint8_t seed[32];
    memset(e, 0, sizeof *e);
    e->eng = eng;
    e->cls = cls;
    e->io = *io;
    e->state = TLS_ST_HANDSHAKE;
    set_verdict(e, "handshake not finished");

    br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
    br_ssl_engine_set_suites(eng, suites, sizeof suites / sizeof suites[0]);
    br_ssl_engine_set_hash(eng, br_sha224_ID, &br_sha224_vtable);
    br_ssl_engine_set_hash(eng, br_sha256_ID, &br_sha256_vtable);
    br_ssl_engine_set_hash(eng, br_sha384_ID, &br_sha384_vtable);
    br_ssl_engine_set_hash(eng, br_sha512_ID, &br_sha512_vtable);
    br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
    br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
    br_ssl_engine_set_ec(eng, &br_ec_all_m31);                 /* P-256, P-384, X25519 */
    br_ssl_engine_set_ecdsa(eng, br_ecdsa_i31_vrfy_asn1);      /* also a client's signature */
    br_ssl_engine_set_rsavrfy(eng, br_rsa_i31_pkcs1_vrfy);
    br_ssl_engine_set_default_aes_gcm(eng);                    /* AES-NI where present */
    br_ssl_engine_set_default_chapol(eng);

    /* Strong entropy or nothing: a fresh seed from the board for every connection. */
    if (rng_reseed() != 0) {
        set_verdict(e, "no entropy: TLS unavailable");
        e->state = TLS_ST_FAILED;
        return TLS_ENORANDOM;
    }
    rng_bytes(seed, sizeof seed);
    br_ssl_engine_inject_entropy(eng, seed, sizeof seed);
    secure_wipe(seed, sizeof seed);
    if (!cls->reset(e)) {
        e->err = br_ssl_engine_last_error(eng);
        e->state = TLS_ST_FAILED;
        verdict_handshake(e->err, NULL, e->verdict, sizeof e->verdict);
        return TLS_EINVAL;
    }
    return 0;
}

/* ---- the pump ---- */

/* Record the first failure only: a later one is a consequence of it. */
static void fail(struct tls_engine *e, int err)
{
    if (e->err == 0) {
        e->err = err;
    }
}

/* The engine has closed: cleanly once open, else the handshake or the connection failed. */
static void settle_closed(struct tls_engine *e)
{
    int err = br_ssl_engine_last_error(e->eng);
    fail(e, err);
    if (err == BR_ERR_OK && e->state == TLS_ST_OPEN) {
        e->state = TLS_ST_CLOSED;
        return;
    }
    if (e->state == TLS_ST_HANDSHAKE) {
        e->state = TLS_ST_FAILED;
        e->cls->verdict(e, err);
        return;
    }
    const char *name = verdict_br_err_name(err);
    snprintf(e->verdict, sizeof e->verdict, "connection failed: BearSSL error %d (%s)", err,
             name ? name : "unknown");
    e->state = TLS_ST_FAILED;
}

/* Called after records moved: notice the handshake's end, a close or a failure. */
static void settle(struct tls_engine *e)
{
    unsigned st = br_ssl_engine_current_state(e->eng);
    if (st & BR_SSL_CLOSED) {
        settle_closed(e);
        return;
    }
    /* The stream below failed, or ended before the handshake did: the engine cannot know. */
    if (e->err == BR_ERR_IO || (e->eof && e->state == TLS_ST_HANDSHAKE)) {
        if (e->state == TLS_ST_OPEN) {
            set_verdict(e, "connection lost");
        } else if (e->err) {
            set_verdict(e, "handshake failed: connection lost");
        } else {
            snprintf(e->verdict, sizeof e->verdict,
                     "handshake failed: %s closed the connection", e->cls->peer);
        }
        e->state = TLS_ST_FAILED;
        return;
    }
    if (e->state == TLS_ST_HANDSHAKE && (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))) {
        e->state = TLS_ST_OPEN;
        e->cls->verdict(e, BR_ERR_OK);
    }
    if (e->state == TLS_ST_OPEN && e->eof && !(st & BR_SSL_RECVAPP)) {
        e->state = TLS_ST_CLOSED;       /* EOF without close_notify: all data delivered */
        e->truncated = 1;
    }
}

/* see tls_engine.h */
enum tls_state tls_engine_pump(struct tls_engine *e)
{
    br_ssl_engine_context *eng = e->eng;
    if (e->state == TLS_ST_FAILED || e->state == TLS_ST_CLOSED) {
        return e->state;
    }
    for (;;) {
        unsigned st = br_ssl_engine_current_state(eng);
        int moved = 0;
        if (st & BR_SSL_CLOSED) {
            break;
        }
        if (st & BR_SSL_SENDREC) {
            size_t len;
            unsigned char *p = br_ssl_engine_sendrec_buf(eng, &len);
            long n = e->io.send(e->io.arg, p, len);
            if (n < 0) {
                fail(e, BR_ERR_IO);
                break;
            }
            if (n > 0) {
                br_ssl_engine_sendrec_ack(eng, (size_t)n);
                moved = 1;
            }
        }
        /* Bidirectional buffers: reading goes on while sending waits. */
        if ((st & BR_SSL_RECVREC) && !e->eof) {
            size_t len;
            unsigned char *p = br_ssl_engine_recvrec_buf(eng, &len);
            long n = e->io.recv(e->io.arg, p, len);
            if (n == TLS_IO_EOF) {
                e->eof = 1;
            } else if (n < 0) {
                fail(e, BR_ERR_IO);
                break;
            } else if (n > 0) {
                br_ssl_engine_recvrec_ack(eng, (size_t)n);
                moved = 1;
            }
        }
        if (!moved) {
            break;
        }
    }
    settle(e);
    return e->state;
}

/* ---- application data ---- */

/* see tls_engine.h */
long tls_engine_read(struct tls_engine *e, uint8_t *buf, size_t len)
{
    size_t avail;
    unsigned char *p = br_ssl_engine_recvapp_buf(e->eng, &avail);
    if (p && avail && len) {
        size_t n = avail < len ? avail : len;
        memcpy(buf, p, n);
        br_ssl_engine_recvapp_ack(e->eng, n);
        tls_engine_pump(e);              /* room freed: more records may come in */
        return (long)n;
    }
    if (e->state == TLS_ST_FAILED) {
        return TLS_IO_ERROR;
    }
    if (e->state == TLS_ST_CLOSED) {
        return TLS_IO_EOF;
    }
    return 0;
}

/* see tls_engine.h */
size_t tls_engine_readable(const struct tls_engine *e)
{
    size_t avail = 0;
    if (br_ssl_engine_recvapp_buf(e->eng, &avail) == NULL) {
        return 0;
    }
    return avail;
}

/* see tls_engine.h */
long tls_engine_write(struct tls_engine *e, const uint8_t *p, size_t len)
{
    if (e->state == TLS_ST_FAILED || e->state == TLS_ST_CLOSED) {
        return TLS_IO_ERROR;
    }
    size_t room;
    unsigned char *dst = br_ssl_engine_sendapp_buf(e->eng, &room);
    if (dst == NULL || room == 0 || len == 0) {
        return 0;
    }
    size_t n = room < len ? room : len;
    memcpy(dst, p, n);
    br_ssl_engine_sendapp_ack(e->eng, n);
    br_ssl_engine_flush(e->eng, 0);
    tls_engine_pump(e);
    return (long)n;
}
