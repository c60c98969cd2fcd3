/* The relay's judgement of a SOCKS5 method 0x80 token (relay/jwtauth.c), case by case: what
 * is no good fails the authentication with its own cause; a good token for another location
 * fails only its request. Tokens are signed here with a P-256 key drawn from a fixed seed
 * (BearSSL), so every case is the same on every run. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "check.h"
#include "relay.h"

#define NOW 1800000000LL

static br_ec_private_key sk;
static uint8_t skbuf[BR_EC_KBUF_PRIV_MAX_SIZE];
static struct relay_config cfg;
static struct jwt_issuer issuers[2];
static struct jwt space;                            /* jwtauth_check's decoding space */

/* A P-256 key from a fixed seed, as the issuer line idx's key. */
static void make_key(unsigned idx, const char *seed, const char *kid)
{
    br_hmac_drbg_context rng;
    br_ec_public_key pk;
    uint8_t pkbuf[BR_EC_KBUF_PUB_MAX_SIZE];
    struct jwt_issuer *is = &issuers[idx];
    br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, strlen(seed));
    br_ec_keygen(&rng.vtable, br_ec_get_default(), &sk, skbuf, BR_EC_secp256r1);
    br_ec_compute_pub(br_ec_get_default(), &pk, pkbuf, &sk);
    memset(is, 0, sizeof *is);
    snprintf(is->iss, sizeof is->iss, "https://uaa.test");
    snprintf(is->kid, sizeof is->kid, "%s", kid);
    snprintf(is->claim, sizeof is->claim, "locations");
    snprintf(is->aud, sizeof is->aud, "relay-test");
    snprintf(is->locations, sizeof is->locations, "*");
    memcpy(is->key.buf, pk.q, pk.qlen);
    is->key.ec.curve = BR_EC_secp256r1;
    is->key.ec.q = is->key.buf;
    is->key.ec.qlen = pk.qlen;
    is->key.alg = JWS_ES256;
    is->key.bits = 256;
    is->id[0] = (uint8_t)(idx + 1);
}

/* header.claims.signature with the current key (sk): ES256, r || s. */
static size_t token(char *out, const char *header, const char *claims, int flip)
{
    uint8_t hash[32], sig[64];
    br_sha256_context h;
    size_t n = base64_encode(out, (const uint8_t *)header, strlen(header), BASE64_URL);
    out[n++] = '.';
    n += base64_encode(out + n, (const uint8_t *)claims, strlen(claims), BASE64_URL);
    br_sha256_init(&h);
    br_sha256_update(&h, out, n);
    br_sha256_out(&h, hash);
    size_t k = br_ecdsa_i31_sign_raw(br_ec_get_default(), &br_sha256_vtable, hash, &sk, sig);
    sig[10] ^= (uint8_t)flip;
    out[n++] = '.';
    n += base64_encode(out + n, sig, k, BASE64_URL);
    return n;
}

/* Judge claims (signed with the current key, header kid k1) asking for loc ("" none). */
static struct jwtauth judge_full(const char *header, const char *claims, const char *loc,
                                 int flip)
{
    static char tok[4096];
    char b64[128];
    struct jwtauth ja;
    size_t n = token(tok, header, claims, flip);
    size_t k = base64_encode(b64, (const uint8_t *)loc, strlen(loc), BASE64_STD);
    jwtauth_check(&cfg, &space, (const uint8_t *)tok, n, (const uint8_t *)b64, k, NOW, &ja);
    return ja;
}

static struct jwtauth judge(const char *claims, const char *loc)
{
    return judge_full("{\"alg\":\"ES256\",\"kid\":\"k1\"}", claims, loc, 0);
}

static void setup(void)
{
    make_key(0, "issuer key one", "k1");
    memset(&cfg, 0, sizeof cfg);
    cfg.issuers = issuers;
    cfg.nissuers = 1;
    cfg.jwt_skew_s = 60;
}

#define AUD "\"aud\":[\"other-app\",\"relay-test\"]"
#define GOOD "\"iss\":\"https://uaa.test\",\"exp\":1800000300," AUD

static void a_good_token_reaches_the_locations_its_claim_names(void)
{
    setup();
    struct jwtauth ja = judge("{" GOOD ",\"locations\":[\"loc1\",\"loc2\"]}", "loc2");
    CHECK_EQ(ja.cls, JA_OK);
    CHECK(strcmp(ja.location, "loc2") == 0);
    CHECK(ja.issuer == &issuers[0]);
    /* No Location ID: the claim's one location; strings that are no ID do not count. */
    ja = judge("{" GOOD ",\"locations\":[\"a b\",\"loc1\"]}", "");
    CHECK_EQ(ja.cls, JA_OK);
    CHECK(strcmp(ja.location, "loc1") == 0);
    ja = judge("{" GOOD ",\"locations\":\"loc1\"}", "");
    CHECK_EQ(ja.cls, JA_OK);
    /* Within jwt-skew of exp, nbf, iat. */
    ja = judge("{\"iss\":\"https://uaa.test\",\"exp\":1799999950," AUD ",\"locations\":"
               "\"loc1\"}", "loc1");
    CHECK_EQ(ja.cls, JA_OK);
    ja = judge("{" GOOD ",\"nbf\":1800000050,\"iat\":1800000050,\"locations\":\"loc1\"}",
               "loc1");
    CHECK_EQ(ja.cls, JA_OK);
}

static void a_good_token_for_another_location_fails_only_its_request(void)
{
    setup();
    const char *claims[] = {
        "{" GOOD ",\"locations\":[\"loc2\"]}",          /* another location */
        "{" GOOD "}",                                   /* no claim */
        "{" GOOD ",\"locations\":7}",                   /* no string */
        "{" GOOD ",\"locations\":[\"loc1\",7]}",
        "{" GOOD ",\"locations\":\"loc1\",\"locations\":\"loc1\"}",   /* twice */
    };
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        struct jwtauth ja = judge(claims[i], "loc1");
        if (ja.cls != JA_UNAUTHORIZED || ja.rf != RF_JWT_LOCATION || ja.issuer == NULL) {
            fprintf(stderr, "case %zu: class %d cause %d (%s)\n", i, ja.cls, ja.rf, ja.why);
            CHECK(0);
        }
    }
    /* No Location ID and two locations in the claim: which one is not guessed. */
    struct jwtauth ja = judge("{" GOOD ",\"locations\":[\"loc1\",\"loc2\"]}", "");
    CHECK_EQ(ja.cls, JA_UNAUTHORIZED);
    CHECK(strstr(ja.why, "names 2 locations") != NULL);
    CHECK_EQ(ja.location[0], 0);
}

static void a_token_that_is_no_good_fails_with_its_own_cause(void)
{
    setup();
    const struct {
        const char *header, *claims, *loc;
        int flip;
        enum refusal rf;
    } cases[] = {
        { NULL, "{" GOOD ",\"locations\":\"loc1\"}", "loc1", 1, RF_JWT_SIGNATURE },
        { NULL, "{\"iss\":\"https://uaa.test\",\"locations\":\"loc1\"}", "loc1", 0,
          RF_JWT_NO_EXP },
        { NULL, "{\"iss\":\"https://uaa.test\",\"exp\":1799999939,\"locations\":\"loc1\"}",
          "loc1", 0, RF_JWT_EXPIRED },
        { NULL, "{" GOOD ",\"nbf\":1800000061,\"locations\":\"loc1\"}", "loc1", 0,
          RF_JWT_NOT_YET },
        { NULL, "{" GOOD ",\"iat\":1800000061,\"locations\":\"loc1\"}", "loc1", 0, RF_JWT_IAT },
        { NULL, "{" GOOD ",\"iat\":1800000301,\"locations\":\"loc1\"}", "loc1", 0, RF_JWT_IAT },
        { NULL, "{\"iss\":\"https://other\",\"exp\":1800000300}", "loc1", 0, RF_JWT_ISSUER },
        { "{\"alg\":\"ES256\",\"kid\":\"k2\"}", "{" GOOD "}", "loc1", 0, RF_JWT_ISSUER },
        { "{\"alg\":\"ES256\"}", "{" GOOD "}", "loc1", 0, RF_JWT_ISSUER },
        { "{\"alg\":\"HS256\",\"kid\":\"k1\"}", "{" GOOD "}", "loc1", 0, RF_JWT_ALG },
        { "{\"alg\":\"none\",\"kid\":\"k1\"}", "{" GOOD "}", "loc1", 0, RF_JWT_ALG },
        { "{\"alg\":\"RS256\",\"kid\":\"k1\"}", "{" GOOD "}", "loc1", 0, RF_JWT_ALG },
        { NULL, "{" GOOD ",\"exp\":1}", "loc1", 0, RF_JWT_MALFORMED },
        { NULL, "{" GOOD "}", "loc 1", 0, RF_JWT_MALFORMED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *h = cases[i].header ? cases[i].header : "{\"alg\":\"ES256\",\"kid\":\"k1\"}";
        struct jwtauth ja = judge_full(h, cases[i].claims, cases[i].loc, cases[i].flip);
        if (ja.cls != JA_UNAUTHENTICATED || ja.rf != cases[i].rf || ja.why[0] == 0) {
            fprintf(stderr, "case %zu: class %d cause %d, want cause %d (%s)\n", i, ja.cls,
                    ja.rf, cases[i].rf, ja.why);
            CHECK(0);
        }
    }
    /* A Location ID whose base64 has no padding (SAP's clients pad it). */
    static char tok[4096];
    size_t n = token(tok, "{\"alg\":\"ES256\",\"kid\":\"k1\"}", "{" GOOD "}", 0);
    struct jwtauth ja;
    jwtauth_check(&cfg, &space, (const uint8_t *)tok, n, (const uint8_t *)"bG9jMQ", 6, NOW, &ja);
    CHECK_EQ(ja.rf, RF_JWT_MALFORMED);
}

static void a_rotation_overlaps_two_keys_of_one_issuer(void)
{
    setup();
    make_key(1, "issuer key two", "");              /* no kid: tried for any token */
    cfg.nissuers = 2;
    struct jwtauth ja = judge_full("{\"alg\":\"ES256\",\"kid\":\"k1\"}",
                                   "{" GOOD ",\"locations\":\"loc1\"}", "loc1", 0);
    CHECK_EQ(ja.cls, JA_OK);
    CHECK(ja.issuer == &issuers[1]);                /* signed with key two */
    CHECK(jwtauth_issuer_by_id(&cfg, issuers[1].id) == &issuers[1]);
    uint8_t gone[32] = { 9 };
    CHECK(jwtauth_issuer_by_id(&cfg, gone) == NULL);
    ja = judge_full("{\"alg\":\"ES256\",\"kid\":\"k1\"}", "{" GOOD ",\"locations\":\"loc1\"}",
                    "loc1", 1);
    CHECK_EQ(ja.rf, RF_JWT_SIGNATURE);
    CHECK(strstr(ja.why, "keys") != NULL);          /* both were tried */
}

static void a_token_the_issuer_signed_for_another_audience_fails_authentication(void)
{
    setup();
    const char *claims[] = {
        "{\"iss\":\"https://uaa.test\",\"exp\":1800000300,\"locations\":\"loc1\"}",
        "{\"iss\":\"https://uaa.test\",\"exp\":1800000300,\"aud\":\"other-app\","
        "\"locations\":\"loc1\"}",
        "{\"iss\":\"https://uaa.test\",\"exp\":1800000300,\"aud\":[\"other-app\","
        "\"relay-test2\"],\"locations\":\"loc1\"}",
        "{\"iss\":\"https://uaa.test\",\"exp\":1800000300,\"aud\":7,\"locations\":\"loc1\"}",
        "{\"iss\":\"https://uaa.test\",\"exp\":1800000300,\"aud\":[\"relay-test\",7],"
        "\"locations\":\"loc1\"}",
        "{" GOOD ",\"aud\":\"relay-test\",\"locations\":\"loc1\"}",   /* twice */
    };
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        struct jwtauth ja = judge(claims[i], "loc1");
        if (ja.cls != JA_UNAUTHENTICATED || ja.rf != RF_JWT_AUDIENCE) {
            fprintf(stderr, "case %zu: class %d cause %d (%s)\n", i, ja.cls, ja.rf, ja.why);
            CHECK(0);
        }
    }
    /* aud as one string is as good as an array naming it. */
    struct jwtauth ja = judge("{\"iss\":\"https://uaa.test\",\"exp\":1800000300,\"aud\":"
                              "\"relay-test\",\"locations\":\"loc1\"}", "loc1");
    CHECK_EQ(ja.cls, JA_OK);
}

static void an_issuer_reaches_only_the_locations_its_line_allows(void)
{
    setup();
    snprintf(issuers[0].locations, sizeof issuers[0].locations, "loc1,loc3");
    struct jwtauth ja = judge("{" GOOD ",\"locations\":[\"loc2\",\"loc3\"]}", "loc3");
    CHECK_EQ(ja.cls, JA_OK);
    /* The claim names loc2, but the operator gave this issuer loc1 and loc3 only. */
    ja = judge("{" GOOD ",\"locations\":[\"loc2\",\"loc3\"]}", "loc2");
    CHECK_EQ(ja.cls, JA_UNAUTHORIZED);
    CHECK_EQ(ja.rf, RF_JWT_LOCATION);
    CHECK(strstr(ja.why, "not among its jwt-issuer line's locations") != NULL);
    ja = judge("{" GOOD ",\"locations\":\"loc2\"}", "");     /* taken from the claim */
    CHECK_EQ(ja.cls, JA_UNAUTHORIZED);
    /* Whole IDs only: neither a prefix nor an extension of a listed one. */
    CHECK_EQ(jwtauth_issuer_allows(&issuers[0], "loc"), 0);
    CHECK_EQ(jwtauth_issuer_allows(&issuers[0], "loc10"), 0);
    CHECK_EQ(jwtauth_issuer_allows(&issuers[0], "loc1"), 1);
    CHECK_EQ(jwtauth_issuer_allows(&issuers[0], "loc3"), 1);
}

static void the_decoded_token_is_wiped_whatever_the_judgement(void)
{
    static const uint8_t zero[sizeof space];
    setup();
    struct jwtauth ja = judge("{" GOOD ",\"locations\":\"loc1\"}", "loc1");
    CHECK_EQ(ja.cls, JA_OK);
    CHECK(memcmp(&space, zero, sizeof space) == 0);
    ja = judge("{" GOOD ",\"locations\":\"loc2\"}", "loc1");
    CHECK_EQ(ja.cls, JA_UNAUTHORIZED);
    CHECK(memcmp(&space, zero, sizeof space) == 0);
    ja = judge_full("{\"alg\":\"ES256\",\"kid\":\"k1\"}", "{" GOOD "}", "loc1", 1);
    CHECK_EQ(ja.rf, RF_JWT_SIGNATURE);
    CHECK(memcmp(&space, zero, sizeof space) == 0);
}

CHECK_MAIN(
    { "a_token_the_issuer_signed_for_another_audience_fails_authentication",
      a_token_the_issuer_signed_for_another_audience_fails_authentication },
    { "an_issuer_reaches_only_the_locations_its_line_allows",
      an_issuer_reaches_only_the_locations_its_line_allows },
    { "the_decoded_token_is_wiped_whatever_the_judgement",
      the_decoded_token_is_wiped_whatever_the_judgement },
    { "a_good_token_reaches_the_locations_its_claim_names",
      a_good_token_reaches_the_locations_its_claim_names },
    { "a_good_token_for_another_location_fails_only_its_request",
      a_good_token_for_another_location_fails_only_its_request },
    { "a_token_that_is_no_good_fails_with_its_own_cause",
      a_token_that_is_no_good_fails_with_its_own_cause },
    { "a_rotation_overlaps_two_keys_of_one_issuer", a_rotation_overlaps_two_keys_of_one_issuer })
