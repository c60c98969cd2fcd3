/* see jwt.h */
#include <string.h>

#include "base64.h"
#include "jwt.h"

/* One base64url part into out (cap bytes): its length, or a negative enum jwt_err. */
static long part(const uint8_t *p, size_t len, uint8_t *out, size_t cap)
{
    if (BASE64_DECODED_MAX(len) > cap) {
        return JWT_ETOOBIG;
    }
    long n = base64_decode(out, cap, (const char *)p, len, BASE64_URL);
    return n < 0 ? JWT_EBASE64 : n;
}

/* A string member of obj into out: 0 when absent (out ""), 1, or err. */
static int string_member(const struct json_value *obj, const char *name, char *out,
                         size_t cap, int err)
{
    struct json_value v;
    int r = json_member(obj, name, &v);
    out[0] = 0;
    if (r == 0) {
        return 0;
    }
    if (r < 0 || json_string(&v, out, cap) <= 0) {
        out[0] = 0;
        return err;
    }
    return 1;
}

/* A NumericDate member: sets *out and the flag when present. */
static int date_member(struct jwt *j, const char *name, int64_t *out, unsigned flag)
{
    struct json_value v;
    int r = json_member(&j->claims_root, name, &v);
    if (r == 0) {
        return 0;
    }
    if (r < 0 || json_int(&v, out) != 0) {
        return JWT_ECLAIM;
    }
    j->has |= flag;
    return 0;
}

static int parse(struct jwt *j, const uint8_t *p, size_t len)
{
    struct json_value hdr, v;
    const uint8_t *d1, *d2;
    long n;
    int r;
    if (len > JWT_MAX) {
        return JWT_ETOOBIG;
    }
    d1 = memchr(p, '.', len);
    d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - p)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - p)) != NULL) {
        return JWT_EFORMAT;
    }
    /* header */
    if ((n = part(p, (size_t)(d1 - p), j->header, sizeof j->header)) < 0) {
        return (int)n;
    }
    j->header_len = (size_t)n;
    if (json_object_check(j->header, j->header_len) != 0) {
        return JWT_EJSON;
    }
    json_root(j->header, j->header_len, &hdr);
    if (string_member(&hdr, "alg", j->alg, sizeof j->alg, JWT_EHEADER) != 1
        || string_member(&hdr, "kid", j->kid, sizeof j->kid, JWT_EHEADER) < 0
        || json_member(&hdr, "crit", &v) != 0) {
        return JWT_EHEADER;
    }
    j->has |= j->kid[0] ? JWT_HAS_KID : 0;
    /* claims */
    if ((n = part(d1 + 1, (size_t)(d2 - d1 - 1), j->claims, sizeof j->claims)) < 0) {
        return (int)n;
    }
    j->claims_len = (size_t)n;
    if (json_object_check(j->claims, j->claims_len) != 0) {
        return JWT_EJSON;
    }
    json_root(j->claims, j->claims_len, &j->claims_root);
    if (string_member(&j->claims_root, "iss", j->iss, sizeof j->iss, JWT_ECLAIM) < 0) {
        return JWT_ECLAIM;
    }
    if ((r = date_member(j, "exp", &j->exp, JWT_HAS_EXP)) != 0
        || (r = date_member(j, "nbf", &j->nbf, JWT_HAS_NBF)) != 0
        || (r = date_member(j, "iat", &j->iat, JWT_HAS_IAT)) != 0) {
        return r;
    }
    /* signature */
    if ((n = part(d2 + 1, len - (size_t)(d2 + 1 - p), j->sig, sizeof j->sig)) < 0) {
        return (int)n;
    }
    j->sig_len = (size_t)n;
    j->signing_input = p;
    j->signing_input_len = (size_t)(d2 - p);
    return 0;
}

/* see jwt.h */
int jwt_parse(struct jwt *j, const uint8_t *p, size_t len)
{
    memset(j, 0, offsetof(struct jwt, header));     /* the buffers are overwritten as used */
    j->header_len = j->claims_len = 0;
    int r = parse(j, p, len);
    if (r != 0) {
        memset(j, 0, offsetof(struct jwt, header));
        j->header_len = j->claims_len = 0;
    }
    return r;
}

/* see jwt.h */
int jwt_claim(const struct jwt *j, const char *name, struct json_value *v)
{
    if (j->claims_root.type != JSON_OBJECT) {
        return 0;
    }
    return json_member(&j->claims_root, name, v);
}

/* see jwt.h */
const char *jwt_err_text(int err)
{
    switch (err) {
    case JWT_ETOOBIG: return "token or one of its parts too large";
    case JWT_EFORMAT: return "not three base64url parts";
    case JWT_EBASE64: return "a part is no base64url";
    case JWT_EJSON: return "header or claims are no JSON object";
    case JWT_EHEADER: return "header without a string alg, or with crit";
    case JWT_ECLAIM: return "iss, exp, nbf or iat of the wrong type or given twice";
    default: return "malformed";
    }
}
