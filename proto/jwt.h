/* JSON Web Tokens (RFC 7519) in JWS compact serialization (RFC 7515 section 7.1):
 * BASE64URL(header) "." BASE64URL(claims) "." BASE64URL(signature), no padding, nothing
 * else. This module only takes a token apart: it decodes the header and the claims into
 * its own buffers, checks that both are JSON objects, reads the header's `alg` and `kid`
 * and the registered claims the relay judges by (`iss`, `exp`, `nbf`, `iat`), and hands
 * out the signing input and the signature. Whether the signature is right is tls/jws.h's
 * question, what the claims allow the relay's (relay/jwtauth.c).
 *
 * Everything is bounded: a token of at most JWT_MAX bytes, a header of at most
 * JWT_HEADER_MAX and claims of at most JWT_CLAIMS_MAX bytes once decoded, a signature of
 * at most JWT_SIG_MAX (RSA-4096). A header with `crit` is refused (RFC 7515 section 4.1.11:
 * we understand no extension), and so is one whose `alg` is no string. The struct is about
 * 13.5 KiB: keep it static or on the heap, not on a small stack. */
#ifndef GW_JWT_H
#define GW_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define JWT_MAX 16384            /* the whole compact token, bytes */
#define JWT_HEADER_MAX 1024      /* the header JSON, decoded */
#define JWT_CLAIMS_MAX 12288     /* the claims JSON, decoded */
#define JWT_SIG_MAX 512          /* the signature: RSA up to 4096 bits */
#define JWT_ALG_MAX 16           /* "ES256", with its NUL */
#define JWT_KID_MAX 128
#define JWT_ISS_MAX 256

enum jwt_err {
    JWT_ETOOBIG = -1,            /* longer than JWT_MAX, or a part over its maximum */
    JWT_EFORMAT = -2,            /* not three base64url parts (a JWE has five) */
    JWT_EBASE64 = -3,            /* a part that is no unpadded base64url */
    JWT_EJSON = -4,              /* header or claims not one JSON object */
    JWT_EHEADER = -5,            /* no string alg, a kid that is no string, or crit */
    JWT_ECLAIM = -6,             /* a registered claim of the wrong type, twice, or (iss)
                                    too long */
};

/* Which registered claims the token has. */
#define JWT_HAS_EXP 1u
#define JWT_HAS_NBF 2u
#define JWT_HAS_IAT 4u
#define JWT_HAS_KID 8u

struct jwt {
    char alg[JWT_ALG_MAX];       /* as sent; "" never (that is JWT_EHEADER) */
    char kid[JWT_KID_MAX];       /* "" when none */
    char iss[JWT_ISS_MAX];       /* "" when none */
    int64_t exp, nbf, iat;       /* seconds since 1970, as the flags say */
    unsigned has;
    const uint8_t *signing_input;    /* header "." claims, in the caller's token */
    size_t signing_input_len;
    uint8_t sig[JWT_SIG_MAX];
    size_t sig_len;
    struct json_value claims_root;   /* the claims object, in claims[] */
    uint8_t header[JWT_HEADER_MAX];
    size_t header_len;
    uint8_t claims[JWT_CLAIMS_MAX];
    size_t claims_len;
};

/* Take the token p[0..len) apart into *j. Returns 0 or a negative enum jwt_err; on error
 * *j holds nothing from the token (no half-read claims). j->signing_input points into p,
 * which must outlive its use. */
int jwt_parse(struct jwt *j, const uint8_t *p, size_t len);
/* A claim of the token by name (a top-level member of the claims), as json_member. */
int jwt_claim(const struct jwt *j, const char *name, struct json_value *v);
/* "malformed: not three base64url parts" ... for log lines. */
const char *jwt_err_text(int err);

#endif
