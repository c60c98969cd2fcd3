/* see tls_engine.h */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "aes_ctr_vaes.h"
#include "ghash_clmul.h"
#include "random.h"
#include "secure_wipe.h"
#include "tls_engine.h"
#include "tls_err.h"

/* ---- starting ---- */

/* Forward secrecy and AEAD only. With AES-GCM in hardware, BearSSL's own preference;
 * without, ChaCha20-Poly1305 first: BearSSL's constant-time software AES and GHASH are
 * several times slower than its ChaCha20 and Poly1305 (bench/README.md, "The TLS suites on
 * each CPU"). */
static const uint16_t suites_aes_first[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};
static const uint16_t suites_chacha_first[] = {
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};
#define SUITES_N (sizeof suites_aes_first / sizeof suites_aes_first[0])
_Static_assert(sizeof suites_aes_first == sizeof suites_chacha_first, "the same suites");

/* ---- what BearSSL runs on this CPU ---- */

/* see tls_engine.h */
int tls_aes_gcm_in_hardware(void)
{
    return (br_aes_x86ni_ctr_get_vtable() != NULL && br_ghash_pclmul_get() != 0)
           || (br_aes_pwr8_ctr_get_vtable() != NULL && br_ghash_pwr8_get() != 0);
}

/* The implementations that run, by name: ours where tls_engine_start() sets them (aes_vaes,
 * ghash_clmul*), else what br_ssl_engine_set_default_aes_gcm() and _chapol() pick, by their
 * BearSSL names (their order of choice: hardware, else the constant-time code for 64- or
 * 32-bit words). */
static const char *aes_ctr_name(void)
{
    return aes_ctr_vaes_get() ? aes_ctr_vaes_name() : br_aes_x86ni_ctr_get_vtable() ? "aes_x86ni"
           : br_aes_pwr8_ctr_get_vtable() ? "aes_pwr8"
           : ULONG_MAX > 0xffffffffUL ? "aes_ct64" : "aes_ct";
}

static const char *ghash_name(void)
{
    return ghash_clmul_get() ? ghash_clmul_name() : br_ghash_pclmul_get() ? "ghash_pclmul"
           : br_ghash_pwr8_get() ? "ghash_pwr8"
           : ULONG_MAX > 0xffffffffUL ? "ghash_ctmul64" : "ghash_ctmul";
}

static const char *chacha_name(void)
{
    return br_chacha20_sse2_get() ? "chacha20_sse2" : "chacha20_ct";
}

static const char *poly_name(void)
{
    return br_poly1305_ctmulq_get() ? "poly1305_ctmulq" : "poly1305_ctmul";
}

/* see tls_engine.h */
void tls_describe_impls(char *buf, size_t len)
{
    snprintf(buf, len, "AES-GCM %s + %s%s, ChaCha20-Poly1305 %s + %s; %s preferred",
             aes_ctr_name(), ghash_name(), tls_aes_gcm_in_hardware() ? "" : " (software)",
             chacha_name(), poly_name(),
             tls_aes_gcm_in_hardware() ? "AES-GCM" : "ChaCha20-Poly1305");
}

/* see tls_engine.h */
const char *tls_suite_name(unsigned suite)
{
    switch (suite) {
    case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: return "ECDHE-ECDSA-AES128-GCM-SHA256";
    case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: return "ECDHE-RSA-AES128-GCM-SHA256";
    case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: return "ECDHE-ECDSA-AES256-GCM-SHA384";
    case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: return "ECDHE-RSA-AES256-GCM-SHA384";
    case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
        return "ECDHE-ECDSA-CHACHA20-POLY1305";
    case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: return "ECDHE-RSA-CHACHA20-POLY1305";
    default: return NULL;
    }
}

/* see tls_engine.h */
void tls_engine_describe(const struct tls_engine *e, char *buf, size_t len)
{
    unsigned suite = e->eng->session.cipher_suite;
    const char *name = tls_suite_name(suite);
    if (e->state != TLS_ST_OPEN || name == NULL) {
        snprintf(buf, len, "no suite agreed");
        return;
    }
    int chapol = suite == BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
                 || suite == BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256;
    snprintf(buf, len, "%s (%s + %s)", name, chapol ? chacha_name() : aes_ctr_name(),
             chapol ? poly_name() : ghash_name());
}

static void set_verdict(struct tls_engine *e, const char *text)
{
    snprintf(e->verdict, sizeof e->verdict, "%s", text);
}

/* see tls_engine.h */
int tls_engine_start(struct tls_engine *e, br_ssl_engine_context *eng,
                     const struct tls_engine_class *cls, const struct tls_io *io,
                     enum tls_prefer prefer)
{
    uint8_t seed[32];
    memset(e, 0, sizeof *e);
    e->eng = eng;
    e->cls = cls;
    e->io = *io;
    e->state = TLS_ST_HANDSHAKE;
    set_verdict(e, "handshake not finished");

    br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
    if (prefer == TLS_PREFER_AUTO) {
        prefer = tls_aes_gcm_in_hardware() ? TLS_PREFER_AES_GCM : TLS_PREFER_CHACHA20;
    }
    br_ssl_engine_set_suites(eng, prefer == TLS_PREFER_CHACHA20 ? suites_chacha_first
                                                                : suites_aes_first, SUITES_N);
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
    const br_block_ctr_class *ctr = aes_ctr_vaes_get();        /* ours, where faster: */
    if (ctr != NULL) {
        br_ssl_engine_set_aes_ctr(eng, ctr);                   /* two blocks per op */
    }
    br_ghash gh = ghash_clmul_get();
    if (gh != NULL) {
        br_ssl_engine_set_ghash(eng, gh);                      /* 16 blocks per reduction */
    }
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
    int rx_dry = 0;                      /* the stream below had nothing: do not ask again */
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
        /* Bidirectional buffers: reading goes on while sending waits. A read that found
         * nothing is not repeated in this pump (a record sent makes it loop again). Across
         * pumps, the relay's tunnel remembers an empty socket itself (tunnel_io_recv). */
        if ((st & BR_SSL_RECVREC) && !e->eof && !rx_dry) {
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
            } else {
                rx_dry = 1;
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
