/* see jws.h */
#include <stdio.h>
#include <string.h>

#include "der.h"
#include "jws.h"

#define DER_MAX 8192                 /* a public key or certificate, DER */

static const uint8_t oid_ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const uint8_t oid_p256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };

/* ---- PEM: the first PUBLIC KEY or CERTIFICATE block ---- */

struct pem_take {
    uint8_t der[DER_MAX];
    size_t len;
    int overflow;
};

static void sink(void *ctx, const void *p, size_t len)
{
    struct pem_take *t = ctx;
    if (len > sizeof t->der - t->len) {
        t->overflow = 1;
        return;
    }
    memcpy(t->der + t->len, p, len);
    t->len += len;
}

/* 1 for a public key, 2 for a certificate, or -1 with why. */
static int pem_first(const uint8_t *p, size_t len, struct pem_take *t, char *why, size_t cap)
{
    br_pem_decoder_context pc;
    int kind = 0, inside = 0;
    br_pem_decoder_init(&pc);
    while (len > 0) {
        size_t n = br_pem_decoder_push(&pc, p, len);
        p += n;
        len -= n;
        switch (br_pem_decoder_event(&pc)) {
        case BR_PEM_BEGIN_OBJ: {
            const char *name = br_pem_decoder_name(&pc);
            if (strstr(name, "PRIVATE KEY")) {
                snprintf(why, cap, "a private key (%s): give the issuer's public key or "
                         "certificate", name);
                return -1;
            }
            inside = 1;
            if (kind == 0 && (strcmp(name, "PUBLIC KEY") == 0 || strcmp(name, "CERTIFICATE") == 0)) {
                kind = name[0] == 'P' ? 1 : 2;
                br_pem_decoder_setdest(&pc, sink, t);
            } else {
                br_pem_decoder_setdest(&pc, NULL, NULL);
            }
            break;
        }
        case BR_PEM_END_OBJ:
            inside = 0;
            if (kind) {
                len = 0;                            /* the first one is all we take */
            }
            break;
        case BR_PEM_ERROR:
            snprintf(why, cap, "not PEM (bad base64 or block lines)");
            return -1;
        default:
            break;
        }
    }
    if (kind == 0 || inside) {
        snprintf(why, cap, inside ? "a PEM block without its END line"
                 : "no PUBLIC KEY or CERTIFICATE block");
        return -1;
    }
    if (t->overflow || t->len == 0) {
        snprintf(why, cap, "the key's block is empty or larger than %d bytes", DER_MAX);
        return -1;
    }
    return kind;
}

/* ---- the key ---- */

static int set_ec(struct jws_key *k, int curve, const uint8_t *q, size_t qlen, char *why,
                  size_t cap)
{
    if (curve != BR_EC_secp256r1 || qlen != 65 || q[0] != 0x04) {
        snprintf(why, cap, "an EC key not on P-256 (ES256 needs P-256)");
        return -1;
    }
    memcpy(k->buf, q, qlen);
    k->ec.curve = curve;
    k->ec.q = k->buf;
    k->ec.qlen = qlen;
    k->alg = JWS_ES256;
    k->bits = 256;
    /* The point must be on the curve: a key that is not one would fail every token, so say
     * so now (the generator times this point is the point again only on the curve). */
    const br_ec_impl *ec = br_ec_get_default();
    uint8_t one[1] = { 1 }, tmp[65];
    memcpy(tmp, q, 65);
    if (ec->mul(tmp, 65, one, 1, curve) != 1) {
        snprintf(why, cap, "the EC public key is no point of P-256");
        return -1;
    }
    return 0;
}

static int set_rsa(struct jws_key *k, const uint8_t *n, size_t nlen, const uint8_t *e,
                   size_t elen, char *why, size_t cap)
{
    while (nlen > 0 && n[0] == 0) {
        n++;
        nlen--;
    }
    while (elen > 0 && e[0] == 0) {
        e++;
        elen--;
    }
    unsigned bits = nlen ? (unsigned)(nlen - 1) * 8 : 0;
    for (uint8_t top = nlen ? n[0] : 0; top; top >>= 1) {
        bits++;
    }
    if (bits < JWS_RSA_MIN_BITS || bits > JWS_RSA_MAX_BITS) {
        snprintf(why, cap, "an RSA key of %u bits (RS256 keys here: %d to %d bits)", bits,
                 JWS_RSA_MIN_BITS, JWS_RSA_MAX_BITS);
        return -1;
    }
    /* e = 1 makes the signature the padded hash itself, which anyone can write; an even e
     * or modulus is no RSA key. e is odd and at least 3 (RFC 8017 3.1), as every real key's
     * 65537; at most 8 bytes (BearSSL's limit). */
    if (elen == 0 || elen > 8 || !(e[elen - 1] & 1) || (elen == 1 && e[0] < 3)) {
        snprintf(why, cap, "an RSA key with a bad public exponent");
        return -1;
    }
    if (!(n[nlen - 1] & 1)) {
        snprintf(why, cap, "an RSA key with an even modulus");
        return -1;
    }
    memcpy(k->buf, n, nlen);
    memcpy(k->buf + nlen, e, elen);
    k->rsa.n = k->buf;
    k->rsa.nlen = nlen;
    k->rsa.e = k->buf + nlen;
    k->rsa.elen = elen;
    k->alg = JWS_RS256;
    k->bits = bits;
    return 0;
}

/* SubjectPublicKeyInfo DER: an EC P-256 or RSA key. */
static int from_spki(struct jws_key *k, const uint8_t *der, size_t len, char *why, size_t cap)
{
    struct der_reader r, spki, alg, bits, rsa;
    struct der_tlv t, a, oid, params, key, n, e;
    der_reader_init(&r, der, len);
    der_expect(&r, DER_SEQUENCE, &t);
    der_enter(&spki, &t);
    der_expect(&spki, DER_SEQUENCE, &a);
    der_enter(&alg, &a);
    der_expect(&alg, DER_OID, &oid);
    der_get(&alg, &params);
    der_expect(&spki, DER_BIT_STRING, &key);
    if (r.err || spki.err || alg.err || der_more(&r) || key.len < 2 || key.p[0] != 0) {
        snprintf(why, cap, "the PUBLIC KEY block is no SubjectPublicKeyInfo");
        return -1;
    }
    if (der_oid_eq(&oid, oid_ec, sizeof oid_ec)) {
        if (params.tag != DER_OID || !der_oid_eq(&params, oid_p256, sizeof oid_p256)) {
            snprintf(why, cap, "an EC key not on P-256 (ES256 needs P-256)");
            return -1;
        }
        return set_ec(k, BR_EC_secp256r1, key.p + 1, key.len - 1, why, cap);
    }
    if (der_oid_eq(&oid, oid_rsa, sizeof oid_rsa)) {
        der_reader_init(&bits, key.p + 1, key.len - 1);
        der_expect(&bits, DER_SEQUENCE, &t);
        der_enter(&rsa, &t);
        der_expect(&rsa, DER_INTEGER, &n);
        der_expect(&rsa, DER_INTEGER, &e);
        if (bits.err || rsa.err || der_more(&rsa) || der_more(&bits)) {
            snprintf(why, cap, "a malformed RSA public key");
            return -1;
        }
        return set_rsa(k, n.p, n.len, e.p, e.len, why, cap);
    }
    snprintf(why, cap, "a key that is neither EC P-256 nor RSA");
    return -1;
}

static int from_cert(struct jws_key *k, const uint8_t *der, size_t len, char *why, size_t cap)
{
    br_x509_decoder_context dc;
    br_x509_decoder_init(&dc, NULL, NULL);
    br_x509_decoder_push(&dc, der, len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    if (pk == NULL) {
        snprintf(why, cap, "a certificate BearSSL cannot decode");
        return -1;
    }
    if (pk->key_type == BR_KEYTYPE_EC) {
        return set_ec(k, pk->key.ec.curve, pk->key.ec.q, pk->key.ec.qlen, why, cap);
    }
    return set_rsa(k, pk->key.rsa.n, pk->key.rsa.nlen, pk->key.rsa.e, pk->key.rsa.elen, why,
                   cap);
}

/* see jws.h */
int jws_key_load(struct jws_key *k, const uint8_t *pem, size_t len, char *why, size_t cap)
{
    static struct pem_take t;                /* 8 KiB: not on the stack (one thread loads) */
    int ret = -1;
    memset(k, 0, sizeof *k);
    memset(&t, 0, sizeof t);
    int kind = pem_first(pem, len, &t, why, cap);
    if (kind > 0) {
        ret = kind == 1 ? from_spki(k, t.der, t.len, why, cap)
                        : from_cert(k, t.der, t.len, why, cap);
    }
    if (ret == 0) {
        br_sha256_context h;
        uint8_t type = (uint8_t)k->alg;
        br_sha256_init(&h);
        br_sha256_update(&h, &type, 1);
        if (k->alg == JWS_ES256) {
            br_sha256_update(&h, k->ec.q, k->ec.qlen);
        } else {
            uint8_t sep = 0;
            br_sha256_update(&h, k->rsa.n, k->rsa.nlen);
            br_sha256_update(&h, &sep, 1);
            br_sha256_update(&h, k->rsa.e, k->rsa.elen);
        }
        br_sha256_out(&h, k->id);
    } else {
        memset(k, 0, sizeof *k);
    }
    return ret;
}

/* see jws.h */
enum jws_alg jws_alg_named(const char *alg)
{
    return strcmp(alg, "ES256") == 0 ? JWS_ES256 : strcmp(alg, "RS256") == 0 ? JWS_RS256
           : JWS_ALG_NONE_OK;
}

/* see jws.h */
const char *jws_alg_name(enum jws_alg alg)
{
    return alg == JWS_ES256 ? "ES256" : alg == JWS_RS256 ? "RS256" : "?";
}

/* see jws.h */
int jws_verify(const struct jws_key *k, const uint8_t *in, size_t len, const uint8_t *sig,
               size_t sig_len)
{
    uint8_t hash[32], got[32];
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, in, len);
    br_sha256_out(&h, hash);
    if (k->alg == JWS_ES256) {
        return sig_len == 64
               && br_ecdsa_i31_vrfy_raw(br_ec_get_default(), hash, sizeof hash, &k->ec, sig,
                                        sig_len) == 1;
    }
    if (k->alg == JWS_RS256) {
        /* PKCS#1 v1.5: the signature is exactly as long as the modulus. */
        return sig_len == k->rsa.nlen
               && br_rsa_i31_pkcs1_vrfy(sig, sig_len, BR_HASH_OID_SHA256, sizeof got, &k->rsa,
                                        got) == 1
               && memcmp(got, hash, sizeof hash) == 0;
    }
    return 0;
}
