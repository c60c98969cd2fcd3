/* see keys.h */
#include <string.h>

#include "keys.h"
#include "random.h"
#include "secure_wipe.h"
#include "tls_err.h"

/* P-256 only, with the 31-bit implementation (64-bit and Cortex-A cores). */
#define KEY_EC (&br_ec_p256_m31)

/* The order n of P-256: a valid private scalar is 1..n-1. */
static const uint8_t p256_order[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

/* SubjectPublicKeyInfo up to the point: SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 },
 * BIT STRING { 0 unused bits, ... } }; the 65-byte uncompressed point follows. */
static const uint8_t spki_prefix[KEY_SPKI_LEN - 65] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
};

/* ---- BearSSL's PRNG interface over tls/random ---- */

struct rng_adapter {
    const br_prng_class *vtable;
};

static void rng_a_init(const br_prng_class **ctx, const void *params, const void *seed,
                       size_t seed_len)
{
    (void)ctx, (void)params, (void)seed, (void)seed_len;   /* random.c seeds itself */
}

static void rng_a_generate(const br_prng_class **ctx, void *out, size_t len)
{
    (void)ctx;
    rng_bytes(out, len);
}

static void rng_a_update(const br_prng_class **ctx, const void *seed, size_t seed_len)
{
    (void)ctx, (void)seed, (void)seed_len;
}

static const br_prng_class rng_adapter_vtable = {
    sizeof(struct rng_adapter), rng_a_init, rng_a_generate, rng_a_update,
};

/* ---- the key ---- */

static int finish_public(struct device_key *k)
{
    k->pk.curve = BR_EC_secp256r1;
    k->pk.q = k->pub;
    k->pk.qlen = br_ec_compute_pub(KEY_EC, &k->pk, k->pub, &k->sk);
    return k->pk.qlen == 65 ? 0 : TLS_EKEY;
}

/* see keys.h */
int key_generate(struct device_key *k)
{
    struct rng_adapter rng = { &rng_adapter_vtable };
    memset(k, 0, sizeof *k);
    /* A fresh seed from the board before a long-term key; none means no key. */
    if (rng_reseed() != 0) {
        return TLS_ENORANDOM;
    }
    if (br_ec_keygen(&rng.vtable, KEY_EC, &k->sk, k->priv, BR_EC_secp256r1) != 32) {
        key_wipe(k);
        return TLS_EKEY;
    }
    return finish_public(k);
}

/* see keys.h */
int key_store(const struct device_key *k, uint8_t *out, size_t cap)
{
    if (cap < KEY_STORED_LEN || k->sk.xlen != 32) {
        return cap < KEY_STORED_LEN ? TLS_ENOSPC : TLS_EKEY;
    }
    out[0] = KEY_FORMAT_P256;
    out[1] = BR_EC_secp256r1;
    memcpy(out + 2, k->sk.x, 32);
    return KEY_STORED_LEN;
}

/* 1 when 0 < x < n, in constant time over the 32 bytes. */
static int scalar_ok(const uint8_t x[32])
{
    unsigned nonzero = 0;
    int lt = 0, decided = 0;
    for (int i = 0; i < 32; i++) {
        nonzero |= x[i];
        int less = x[i] < p256_order[i], more = x[i] > p256_order[i];
        lt |= less & !decided;
        decided |= less | more;
    }
    return nonzero != 0 && lt;
}

/* see keys.h */
int key_load(struct device_key *k, const uint8_t *p, size_t len)
{
    memset(k, 0, sizeof *k);
    if (len != KEY_STORED_LEN || p[0] != KEY_FORMAT_P256 || p[1] != BR_EC_secp256r1
        || !scalar_ok(p + 2)) {
        return TLS_EKEY;
    }
    memcpy(k->priv, p + 2, 32);
    k->sk.curve = BR_EC_secp256r1;
    k->sk.x = k->priv;
    k->sk.xlen = 32;
    int err = finish_public(k);
    if (err) {
        key_wipe(k);
    }
    return err;
}

/* see keys.h */
void key_wipe(struct device_key *k)
{
    secure_wipe(k, sizeof *k);
}

/* see keys.h */
int key_spki(const struct device_key *k, uint8_t *out, size_t cap)
{
    if (cap < KEY_SPKI_LEN) {
        return TLS_ENOSPC;
    }
    memcpy(out, spki_prefix, sizeof spki_prefix);
    memcpy(out + sizeof spki_prefix, k->pub, 65);
    return KEY_SPKI_LEN;
}

/* see keys.h */
int key_sign_sha256(const struct device_key *k, const void *data, size_t len,
                    uint8_t *sig, size_t cap)
{
    br_sha256_context h;
    uint8_t hash[32];
    if (cap < KEY_SIG_MAX) {
        return TLS_ENOSPC;
    }
    br_sha256_init(&h);
    br_sha256_update(&h, data, len);
    br_sha256_out(&h, hash);
    size_t n = br_ecdsa_i31_sign_asn1(KEY_EC, &br_sha256_vtable, hash, &k->sk, sig);
    return n ? (int)n : TLS_EKEY;
}

/* see keys.h */
int key_matches_cert(const struct device_key *k, const uint8_t *der, size_t len)
{
    br_x509_decoder_context dc;
    br_x509_decoder_init(&dc, NULL, NULL);
    br_x509_decoder_push(&dc, der, len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    if (pk == NULL) {
        return TLS_ECERT;
    }
    if (pk->key_type != BR_KEYTYPE_EC || pk->key.ec.curve != BR_EC_secp256r1
        || pk->key.ec.qlen != k->pk.qlen || memcmp(pk->key.ec.q, k->pk.q, k->pk.qlen) != 0) {
        return TLS_EKEY_MISMATCH;
    }
    return 0;
}
