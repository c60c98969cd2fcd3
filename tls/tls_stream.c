/* see tls_stream.h */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "hostname.h"
#include "random.h"
#include "tls_err.h"
#include "tls_stream.h"

/* ---- the client profile ---- */

/* Forward secrecy and AEAD only; the order is BearSSL's own preference. */
static const uint16_t client_suites[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};

static void client_profile(br_ssl_client_context *cc)
{
    br_ssl_engine_context *eng = &cc->eng;
    br_ssl_client_zero(cc);
    br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
    br_ssl_engine_set_suites(eng, client_suites, sizeof client_suites / sizeof client_suites[0]);
    br_ssl_engine_set_hash(eng, br_sha224_ID, &br_sha224_vtable);
    br_ssl_engine_set_hash(eng, br_sha256_ID, &br_sha256_vtable);
    br_ssl_engine_set_hash(eng, br_sha384_ID, &br_sha384_vtable);
    br_ssl_engine_set_hash(eng, br_sha512_ID, &br_sha512_vtable);
    br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
    br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
    br_ssl_engine_set_ec(eng, &br_ec_all_m31);                 /* P-256, P-384, X25519 */
    br_ssl_engine_set_ecdsa(eng, br_ecdsa_i31_vrfy_asn1);
    br_ssl_engine_set_rsavrfy(eng, br_rsa_i31_pkcs1_vrfy);
    br_ssl_engine_set_default_aes_gcm(eng);                    /* AES-NI where present */
    br_ssl_engine_set_default_chapol(eng);
}

/* ---- the pump ---- */

static void set_verdict(struct tls_stream *s, const char *text)
{
    snprintf(s->verdict, sizeof s->verdict, "%s", text);
}

/* Called after records moved: notice the handshake's end, a close or a failure. */
static void update_state(struct tls_stream *s)
{
    br_ssl_engine_context *eng = &s->cc.eng;
    unsigned st = br_ssl_engine_current_state(eng);
    if (st & BR_SSL_CLOSED) {
        int err = br_ssl_engine_last_error(eng);
        s->engine_err = err;
        if (err == BR_ERR_OK && s->state == TLS_ST_OPEN) {
            s->state = TLS_ST_CLOSED;
        } else if (s->state == TLS_ST_HANDSHAKE) {
            verdict_handshake(err, &s->verify, s->verdict, sizeof s->verdict);
            s->state = TLS_ST_FAILED;
        } else {
            const char *name = verdict_br_err_name(err);
            snprintf(s->verdict, sizeof s->verdict, "connection failed: BearSSL error %d (%s)",
                     err, name ? name : "unknown");
            s->state = TLS_ST_FAILED;
        }
        return;
    }
    /* The stream below failed, or ended before the handshake did: the engine cannot know. */
    if (s->io_failed || (s->eof && s->state == TLS_ST_HANDSHAKE)) {
        set_verdict(s, s->state == TLS_ST_OPEN ? "connection lost"
                       : s->io_failed ? "handshake failed: connection lost"
                                      : "handshake failed: server closed the connection");
        s->state = TLS_ST_FAILED;
        return;
    }
    if (s->state == TLS_ST_HANDSHAKE && (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))) {
        s->state = TLS_ST_OPEN;
        verdict_chain(&s->verify, s->verdict, sizeof s->verdict);
    }
    if (s->state == TLS_ST_OPEN && s->eof && !(st & BR_SSL_RECVAPP)) {
        s->state = TLS_ST_CLOSED;       /* EOF without close_notify: all data delivered */
        s->truncated = 1;
    }
}

/* see tls_stream.h */
enum tls_stream_state tls_stream_pump(struct tls_stream *s)
{
    br_ssl_engine_context *eng = &s->cc.eng;
    if (s->state == TLS_ST_FAILED || s->state == TLS_ST_CLOSED) {
        return s->state;
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
            long n = s->io.send(s->io.arg, p, len);
            if (n < 0) {
                s->io_failed = 1;
                break;
            }
            if (n > 0) {
                br_ssl_engine_sendrec_ack(eng, (size_t)n);
                moved = 1;
            }
        }
        /* Bidirectional buffers: reading goes on while sending waits. */
        if ((st & BR_SSL_RECVREC) && !s->eof) {
            size_t len;
            unsigned char *p = br_ssl_engine_recvrec_buf(eng, &len);
            long n = s->io.recv(s->io.arg, p, len);
            if (n == TLS_IO_EOF) {
                s->eof = 1;
            } else if (n < 0) {
                s->io_failed = 1;
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
    update_state(s);
    return s->state;
}

/* see tls_stream.h */
unsigned tls_stream_wants(const struct tls_stream *s)
{
    if (s->state == TLS_ST_FAILED) {
        return 0;
    }
    unsigned st = br_ssl_engine_current_state(&s->cc.eng);
    unsigned w = 0;
    if (st & BR_SSL_SENDREC) {
        w |= TLS_WANT_WRITE;
    }
    if ((st & BR_SSL_RECVREC) && !s->eof) {
        w |= TLS_WANT_READ;
    }
    return w;
}

/* BearSSL picks the largest power of two, 512 to 16384 (8192 is not a TLS value: 4096),
 * that fits both buffers; ours must give exactly TLS_STREAM_MAX_FRAG. */
_Static_assert(TLS_STREAM_MAX_FRAG >= 512 && TLS_STREAM_MAX_FRAG <= 4096 &&
               (TLS_STREAM_MAX_FRAG & (TLS_STREAM_MAX_FRAG - 1)) == 0,
               "TLS_STREAM_MAX_FRAG: a power of two from 512 to 4096");

/* see tls_stream.h */
int tls_stream_client(struct tls_stream *s, const struct tls_client_config *cfg,
                      const struct tls_io *io)
{
    uint8_t seed[32], ip[16];
    if (cfg->host == NULL || cfg->host[0] == 0) {
        return TLS_EINVAL;
    }
    memset(s, 0, offsetof(struct tls_stream, buf));
    s->io = *io;
    s->state = TLS_ST_HANDSHAKE;
    set_verdict(s, "handshake not finished");

    client_profile(&s->cc);
    /* a small output buffer: BearSSL then asks for TLS_STREAM_MAX_FRAG in the ClientHello */
    br_ssl_engine_set_buffers_bidi(&s->cc.eng, s->buf, TLS_STREAM_IBUF,
                                   s->buf + TLS_STREAM_IBUF, TLS_STREAM_OBUF);

    /* The name we check is the one we ask for; an IP address is never sent as SNI. */
    const char *name = cfg->sni ? cfg->sni : cfg->host;
    const char *sni = host_parse_ip(name, ip) ? NULL : name;
    tls_verify_init(&s->verify, cfg->anchors, cfg->anchors_num, name, cfg->now, cfg->capture);
    br_ssl_engine_set_x509(&s->cc.eng, &s->verify.vtable);
    if (cfg->client_key) {
        br_ssl_client_set_single_ec(&s->cc, cfg->client_chain, cfg->client_chain_len,
                                    cfg->client_key, BR_KEYTYPE_SIGN, BR_KEYTYPE_EC,
                                    &br_ec_p256_m31, br_ecdsa_i31_sign_asn1);
    }

    /* Strong entropy or nothing: a fresh seed from the board for every connection. */
    if (rng_init() != 0) {
        set_verdict(s, "no entropy: TLS unavailable");
        s->state = TLS_ST_FAILED;
        return TLS_ENORANDOM;
    }
    rng_bytes(seed, sizeof seed);
    br_ssl_engine_inject_entropy(&s->cc.eng, seed, sizeof seed);
    memset(seed, 0, sizeof seed);
    __asm__ __volatile__("" : : "r"(seed) : "memory");

    if (!br_ssl_client_reset(&s->cc, sni, 0)) {
        s->state = TLS_ST_FAILED;
        verdict_handshake(br_ssl_engine_last_error(&s->cc.eng), NULL, s->verdict,
                          sizeof s->verdict);
        return TLS_EINVAL;
    }
    return 0;
}

/* see tls_stream.h */
long tls_stream_read(struct tls_stream *s, uint8_t *buf, size_t len)
{
    br_ssl_engine_context *eng = &s->cc.eng;
    size_t avail;
    unsigned char *p = br_ssl_engine_recvapp_buf(eng, &avail);
    if (p && avail && len) {
        size_t n = avail < len ? avail : len;
        memcpy(buf, p, n);
        br_ssl_engine_recvapp_ack(eng, n);
        tls_stream_pump(s);              /* room freed: more records may come in */
        return (long)n;
    }
    if (s->state == TLS_ST_FAILED) {
        return TLS_IO_ERROR;
    }
    if (s->state == TLS_ST_CLOSED) {
        return TLS_IO_EOF;
    }
    return 0;
}

/* see tls_stream.h */
size_t tls_engine_readable(const br_ssl_engine_context *eng)
{
    size_t avail = 0;
    if (br_ssl_engine_recvapp_buf(eng, &avail) == NULL) {
        return 0;
    }
    return avail;
}

/* see tls_stream.h */
size_t tls_stream_readable(const struct tls_stream *s)
{
    return tls_engine_readable(&s->cc.eng);
}

/* see tls_stream.h */
long tls_stream_write(struct tls_stream *s, const uint8_t *p, size_t len)
{
    br_ssl_engine_context *eng = &s->cc.eng;
    if (s->state == TLS_ST_FAILED || s->state == TLS_ST_CLOSED) {
        return TLS_IO_ERROR;
    }
    size_t room;
    unsigned char *dst = br_ssl_engine_sendapp_buf(eng, &room);
    if (dst == NULL || room == 0 || len == 0) {
        return 0;
    }
    size_t n = room < len ? room : len;
    memcpy(dst, p, n);
    br_ssl_engine_sendapp_ack(eng, n);
    br_ssl_engine_flush(eng, 0);
    tls_stream_pump(s);
    return (long)n;
}

/* see tls_stream.h */
void tls_stream_close(struct tls_stream *s)
{
    if (s->state == TLS_ST_FAILED || s->state == TLS_ST_CLOSED) {
        return;
    }
    br_ssl_engine_close(&s->cc.eng);
    tls_stream_pump(s);
}

/* see tls_stream.h */
const char *tls_stream_verdict(const struct tls_stream *s)
{
    return s->verdict;
}
