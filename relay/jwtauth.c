/* SOCKS5 method 0x80 (SAP's connectivity dialect): what a JWT and a Location ID allow.
 *
 * The order is the one that trusts nothing unverified: take the token apart (proto/jwt),
 * find the keys configured for its iss (and kid), check alg against what the key allows
 * (the key decides, never the token), verify the signature (tls/jws), and only then read
 * the claims as facts: exp (required), nbf, iat against the wall clock with jwt-skew
 * seconds of slack, aud against the issuer line's (an identity provider signs tokens for
 * every application it serves: only those for this relay count), and the issuer's
 * location claim (a string or an array of strings) against the Location ID the client
 * asked for, or, when it asked for none, the one location the claim names; that location
 * must then be one the issuer line allows (`locations`: an issuer reaches only the
 * locations the operator gave it). docs/protocol.md section 4 is the contract.
 *
 * Two kinds of failure: a token that is no good (malformed, unknown issuer, wrong alg,
 * bad signature, outside its time, another audience) fails the authentication, `01 01`;
 * a good token that does not reach the asked location fails the request later, reply 0x05
 * ("authentication failure" in SAP's list), so a holder of a valid token learns nothing
 * about locations its token does not name. The token's decoding space is the caller's, and
 * wiped before jwtauth_check returns: header, claims and signature would rebuild the
 * bearer token. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "relay.h"
#include "secure_wipe.h"

static void fail(struct jwtauth *out, enum jwtauth_class cls, enum refusal rf,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(struct jwtauth *out, enum jwtauth_class cls, enum refusal rf,
                 const char *fmt, ...)
{
    va_list ap;
    out->cls = cls;
    out->rf = rf;
    va_start(ap, fmt);
    vsnprintf(out->why, sizeof out->why, fmt, ap);
    va_end(ap);
}

/* see relay.h */
const struct jwt_issuer *jwtauth_issuer_by_id(const struct relay_config *c,
                                              const uint8_t id[32])
{
    for (unsigned i = 0; i < c->nissuers; i++) {
        if (memcmp(c->issuers[i].id, id, 32) == 0) {
            return &c->issuers[i];
        }
    }
    return NULL;
}

/* The client's Location ID: base64 (SAP's clients use the standard alphabet) of an ID as
 * the relay's `location` lines spell them. 0, or -1. */
static int location_id(const uint8_t *b64, size_t len, char *out)
{
    uint8_t id[HELLO_LOCATION_MAX + 3];
    long n = base64_decode(id, sizeof id, (const char *)b64, len, BASE64_STD);
    if (n <= 0 || n > HELLO_LOCATION_MAX || !hello_location_valid((const char *)id, (size_t)n)) {
        return -1;
    }
    memcpy(out, id, (size_t)n);
    out[n] = 0;
    return 0;
}

/* One element of the location claim: 1 when it is the location (asked: want; not asked:
 * the first valid ID, copied into want), 0 not, -1 no string. Only valid Location IDs are
 * counted; a longer or stranger string names no location of ours. */
static int one_name(const struct json_value *e, int asked, char *want, unsigned *count)
{
    char name[HELLO_LOCATION_MAX + 1];
    if (e->type != JSON_STRING) {
        return -1;
    }
    long n = json_string(e, name, sizeof name);
    if (n == JSON_ERANGE || (n >= 0 && !hello_location_valid(name, (size_t)n))) {
        return 0;
    }
    if (n < 0) {
        return -1;
    }
    (*count)++;
    if (asked) {
        return strcmp(name, want) == 0;
    }
    if (*count == 1) {
        memcpy(want, name, (size_t)n + 1);
        return 1;
    }
    return 0;
}

/* Does the claim v (a string or an array of strings) name the location? As one_name, over
 * every element; *count is how many locations it names. */
static int claim_names(const struct json_value *v, int asked, char *want, unsigned *count)
{
    struct json_value e;
    size_t pos = 0;
    int found = 0, r;
    *count = 0;
    if (v->type == JSON_STRING) {
        return one_name(v, asked, want, count);
    }
    if (v->type != JSON_ARRAY) {
        return -1;
    }
    while ((r = json_array_next(v, &pos, &e)) == 1) {
        int m = one_name(&e, asked, want, count);
        if (m < 0) {
            return -1;
        }
        found |= m;
    }
    return r < 0 ? -1 : found;
}

/* The times, once the signature verified. 0, or the failure set in out. */
static int times(const struct jwt *j, unsigned skew, int64_t now, struct jwtauth *out)
{
    if (!(j->has & JWT_HAS_EXP)) {
        fail(out, JA_UNAUTHENTICATED, RF_JWT_NO_EXP, "token without exp (it would never "
             "expire)");
        return -1;
    }
    if (now >= j->exp + (int64_t)skew) {
        fail(out, JA_UNAUTHENTICATED, RF_JWT_EXPIRED, "token expired %lld s ago",
             (long long)(now - j->exp));
        return -1;
    }
    if ((j->has & JWT_HAS_NBF) && now + (int64_t)skew < j->nbf) {
        fail(out, JA_UNAUTHENTICATED, RF_JWT_NOT_YET, "token not valid for %lld s more (nbf)",
             (long long)(j->nbf - now));
        return -1;
    }
    if ((j->has & JWT_HAS_IAT) && (now + (int64_t)skew < j->iat || j->iat > j->exp)) {
        fail(out, JA_UNAUTHENTICATED, RF_JWT_IAT, j->iat > j->exp ? "token issued after it "
             "expires (iat > exp)" : "token issued %lld s in the future (iat)",
             (long long)(j->iat - now));
        return -1;
    }
    return 0;
}

/* Does aud (a string, or an array of strings) name want? 1, 0, or -1 for another type. */
static int aud_names(const struct json_value *v, const char *want)
{
    char name[RELAY_AUD_MAX];
    struct json_value e;
    size_t pos = 0;
    int found = 0, r;
    if (v->type == JSON_STRING) {
        long n = json_string(v, name, sizeof name);
        return n == JSON_ERANGE ? 0 : n < 0 ? -1 : strcmp(name, want) == 0;
    }
    if (v->type != JSON_ARRAY) {
        return -1;
    }
    while ((r = json_array_next(v, &pos, &e)) == 1) {
        int m = aud_names(&e, want);
        if (m < 0 || e.type != JSON_STRING) {
            return -1;
        }
        found |= m;
    }
    return r < 0 ? -1 : found;
}

/* see relay.h */
int jwtauth_issuer_allows(const struct jwt_issuer *is, const char *location)
{
    size_t n = strlen(location);
    if (strcmp(is->locations, "*") == 0) {
        return 1;
    }
    for (const char *p = is->locations; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, location, n) == 0) {
            return 1;
        }
        p += len + (end != NULL);
    }
    return 0;
}

/* The judgement proper; jwtauth_check wipes j whatever it returned. */
static void check(const struct relay_config *c, struct jwt *j, const uint8_t *tok,
                  size_t len, const uint8_t *loc_b64, size_t loc_len, int64_t now,
                  struct jwtauth *out)
{
    const struct jwt_issuer *keys[RELAY_ISSUER_KEYS_MAX];
    unsigned nkeys = 0, count = 0;
    struct json_value claim;
    memset(out, 0, sizeof *out);
    if (loc_len && location_id(loc_b64, loc_len, out->location) != 0) {
        fail(out, JA_UNAUTHENTICATED, RF_JWT_MALFORMED, "the Location ID is no base64 of a "
             "Location ID");
        return;
    }
    int r = jwt_parse(j, tok, len);
    if (r != 0) {
        fail(out, JA_UNAUTHENTICATED, r == JWT_ETOOBIG ? RF_JWT_TOO_LONG : RF_JWT_MALFORMED,
             "malformed token: %s", jwt_err_text(r));
        return;
    }
    enum jws_alg alg = jws_alg_named(j->alg);
    for (unsigned i = 0; i < c->nissuers && nkeys < RELAY_ISSUER_KEYS_MAX; i++) {
        const struct jwt_issuer *is = &c->issuers[i];
        if (strcmp(is->iss, j->iss) == 0 && (is->kid[0] == 0 || strcmp(is->kid, j->kid) == 0)) {
            keys[nkeys++] = is;
        }
    }
    if (nkeys == 0) {
        fail(out, JA_UNAUTHENTICATED, RF_JWT_ISSUER, "no jwt-issuer for this iss%s",
             j->kid[0] ? " and kid" : "");
        return;
    }
    /* The key decides the algorithm: a token naming another (none, HS256 with the public
     * key as its secret, RS256 for an EC key) is refused before anything is computed. */
    unsigned usable = 0;
    for (unsigned i = 0; i < nkeys; i++) {
        usable += alg != 0 && keys[i]->key.alg == alg;
    }
    if (usable == 0) {
        fail(out, JA_UNAUTHENTICATED, RF_JWT_ALG, "alg is not the one the issuer's key allows "
             "(%s)", jws_alg_name(keys[0]->key.alg));
        return;
    }
    for (unsigned i = 0; i < nkeys && out->issuer == NULL; i++) {
        if (keys[i]->key.alg == alg
            && jws_verify(&keys[i]->key, j->signing_input, j->signing_input_len, j->sig,
                          j->sig_len)) {
            out->issuer = keys[i];
        }
    }
    if (out->issuer == NULL) {
        fail(out, JA_UNAUTHENTICATED, RF_JWT_SIGNATURE, "signature does not verify with the "
             "issuer's key%s", usable > 1 ? "s" : "");
        return;
    }
    if (times(j, c->jwt_skew_s, now, out) != 0) {
        return;
    }
    /* A token the issuer signed for another application is no credential here. */
    r = jwt_claim(j, "aud", &claim);
    if (r <= 0 || aud_names(&claim, out->issuer->aud) != 1) {
        fail(out, JA_UNAUTHENTICATED, RF_JWT_AUDIENCE, r == 0 ? "token without aud (%s "
             "required)" : r > 1 ? "token with aud twice (%s required)" : "token's aud does "
             "not name %s", out->issuer->aud);
        return;
    }
    /* Authentic and current: from here on a failure is about where it may go. */
    r = jwt_claim(j, out->issuer->claim, &claim);
    if (r <= 0) {
        fail(out, JA_UNAUTHORIZED, RF_JWT_LOCATION, r == 0 ? "token has no %s claim"
             : "token has its %s claim twice", out->issuer->claim);
        return;
    }
    int asked = out->location[0] != 0;
    r = claim_names(&claim, asked, out->location, &count);
    if (r < 0) {
        fail(out, JA_UNAUTHORIZED, RF_JWT_LOCATION, "the token's %s claim is no string or "
             "array of strings", out->issuer->claim);
        return;
    }
    if (asked && r == 0) {
        fail(out, JA_UNAUTHORIZED, RF_JWT_LOCATION, "token not for location %s (claim %s)",
             out->location, out->issuer->claim);
        return;
    }
    if (!asked && count != 1) {
        out->location[0] = 0;
        fail(out, JA_UNAUTHORIZED, RF_JWT_LOCATION, "no Location ID given and the token's %s "
             "claim names %u locations (one needed)", out->issuer->claim, count);
        return;
    }
    if (!jwtauth_issuer_allows(out->issuer, out->location)) {
        fail(out, JA_UNAUTHORIZED, RF_JWT_LOCATION, "location %s is not among its jwt-issuer "
             "line's locations", out->location);
        return;
    }
    out->cls = JA_OK;
}

/* see relay.h */
void jwtauth_check(const struct relay_config *c, struct jwt *space, const uint8_t *tok,
                   size_t len, const uint8_t *loc_b64, size_t loc_len, int64_t now,
                   struct jwtauth *out)
{
    check(c, space, tok, len, loc_b64, loc_len, now, out);
    secure_wipe(space, sizeof *space);
}
