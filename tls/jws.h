/* JWS signatures (RFC 7515, algorithms of RFC 7518 section 3) checked with BearSSL, against
 * an issuer's public key that an operator configured: a PEM "PUBLIC KEY" (SubjectPublicKeyInfo)
 * or the first "CERTIFICATE" of a PEM file (its key is taken; the certificate itself is not
 * judged: the operator vouches for the key by naming the file).
 *
 * A key allows exactly one algorithm, fixed by the key itself: an EC P-256 key ES256, an
 * RSA key of 2048 to 4096 bits RS256. So a token cannot choose how it is checked: not
 * `none`, not HS256 with the public key as the HMAC secret (the classic JWT forgery), not
 * RS256 against an EC key. ES256 signatures are r || s (64 bytes, RFC 7518 section 3.4), not
 * DER. No allocation; struct jws_key points into itself: initialise it in place with
 * jws_key_load(), never copy it. */
#ifndef GW_JWS_H
#define GW_JWS_H

#include <stddef.h>
#include <stdint.h>

#include "bearssl.h"

#define JWS_PEM_MAX 65536            /* a key file, bytes */
#define JWS_RSA_MIN_BITS 2048
#define JWS_RSA_MAX_BITS 4096

enum jws_alg { JWS_ALG_NONE_OK = 0, JWS_ES256 = 1, JWS_RS256 = 2 };

struct jws_key {
    enum jws_alg alg;                /* the one algorithm this key allows */
    unsigned bits;                   /* 256, or the RSA modulus size */
    br_ec_public_key ec;             /* .q into buf */
    br_rsa_public_key rsa;           /* .n and .e into buf */
    uint8_t buf[JWS_RSA_MAX_BITS / 8 + 8];
    uint8_t id[32];                  /* SHA-256 of the key (type, then its numbers): two
                                        keys with the same id are the same key */
};

/* The key from a PEM file's text: 0, or -1 with the reason in why ("a private key: give the
 * issuer's public key or certificate", "RSA key of 1024 bits: at least 2048"). */
int jws_key_load(struct jws_key *k, const uint8_t *pem, size_t len, char *why, size_t cap);
/* The algorithm a JWS header's alg names, if it is one we check: JWS_ES256, JWS_RS256, or
 * 0 (none, HS*, PS*, ES384 ...). */
enum jws_alg jws_alg_named(const char *alg);
const char *jws_alg_name(enum jws_alg alg);
/* 1 when sig is the key's valid signature of in[0..len) with the key's algorithm, else 0. */
int jws_verify(const struct jws_key *k, const uint8_t *in, size_t len, const uint8_t *sig,
               size_t sig_len);

#endif
