/* The pieces of SOCKS5 method 0x80 that read an attacker's bytes (base64, the JSON reader,
 * the JWT's compact form, the 0x80 request): each takes exactly what it is given, refuses
 * what is not its grammar, and never reads past it (ASan build). fuzz_jwt runs the same
 * parsers on arbitrary input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "check.h"
#include "json.h"
#include "jwt.h"
#include "socks5.h"

/* A copy of exactly len bytes on the heap: ASan sees any read past it. */
static uint8_t *exact(const void *p, size_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    memcpy(c, p, len);
    return c;
}

static void base64url_and_std_decode_strictly(void)
{
    uint8_t out[16];
    CHECK_EQ(base64_decode(out, sizeof out, "aGk", 3, BASE64_URL), 2);
    CHECK(memcmp(out, "hi", 2) == 0);
    CHECK_EQ(base64_decode(out, sizeof out, "aGk=", 4, BASE64_STD), 2);
    CHECK_EQ(base64_decode(out, sizeof out, "bG9jMQ==", 8, BASE64_STD), 4);
    CHECK(memcmp(out, "loc1", 4) == 0);
    CHECK_EQ(base64_decode(out, sizeof out, "", 0, BASE64_URL), 0);
    CHECK_EQ(base64_decode(out, sizeof out, "-_8", 3, BASE64_URL), 2);
    CHECK_EQ(out[0], 0xfb);
    CHECK_EQ(out[1], 0xff);
    /* Not base64url: padding, the other alphabet, a lone character, stray low bits. */
    CHECK_EQ(base64_decode(out, sizeof out, "aGk=", 4, BASE64_URL), -1);
    CHECK_EQ(base64_decode(out, sizeof out, "+/8", 3, BASE64_URL), -1);
    CHECK_EQ(base64_decode(out, sizeof out, "aGkxa", 5, BASE64_URL), -1);
    CHECK_EQ(base64_decode(out, sizeof out, "aGl", 3, BASE64_URL), -1);
    /* Standard: whole quads, '=' only at the end, the URL alphabet refused. */
    CHECK_EQ(base64_decode(out, sizeof out, "aGk", 3, BASE64_STD), -1);
    CHECK_EQ(base64_decode(out, sizeof out, "a=Gk", 4, BASE64_STD), -1);
    CHECK_EQ(base64_decode(out, sizeof out, "====", 4, BASE64_STD), -1);
    CHECK_EQ(base64_decode(out, sizeof out, "-_8=", 4, BASE64_STD), -1);
    /* No room: nothing written past cap. */
    CHECK_EQ(base64_decode(out, 1, "aGk", 3, BASE64_URL), -1);
    /* Round trip of every length 0..15 in both alphabets. */
    uint8_t in[15], back[16];
    char enc[BASE64_SIZE(15)];
    for (size_t n = 0; n <= sizeof in; n++) {
        for (size_t i = 0; i < n; i++) {
            in[i] = (uint8_t)(i * 37 + 250);
        }
        for (int a = BASE64_STD; a <= BASE64_URL; a++) {
            size_t k = base64_encode(enc, in, n, (enum base64_alphabet)a);
            CHECK_EQ(base64_decode(back, sizeof back, enc, k, (enum base64_alphabet)a), n);
            CHECK(memcmp(back, in, n) == 0);
        }
    }
}

static int check_json(const char *s)
{
    uint8_t *c = exact(s, strlen(s));
    int r = json_object_check(c, strlen(s));
    free(c);
    return r;
}

static void json_accepts_one_object_and_nothing_else(void)
{
    CHECK_EQ(check_json("{}"), 0);
    CHECK_EQ(check_json(" {\"a\" : [1, -2.5e3, true, false, null, {\"b\":\"\\u00e9\\n\"}]} \n"), 0);
    CHECK_EQ(check_json("{\"s\":\"\\ud83d\\ude00 \xc3\xa9\"}"), 0);
    const char *bad[] = {
        "", "[]", "\"x\"", "{", "{}}", "{} {}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}",
        "{a:1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":tru}",
        "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"\xe2\x82\"}", "{\"a\":'x'}", "{\"a\":+1}", "{\"a\":NaN}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (check_json(bad[i]) != JSON_ESYNTAX) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            CHECK(0);
        }
    }
    /* Depth: JSON_DEPTH_MAX levels pass, one more does not (the walk's stack is bounded). */
    char deep[2 * JSON_DEPTH_MAX + 16];
    size_t k = 0;
    deep[k++] = '{';
    deep[k++] = '"';
    deep[k++] = 'a';
    deep[k++] = '"';
    deep[k++] = ':';
    for (int i = 0; i < JSON_DEPTH_MAX - 1; i++) {
        deep[k++] = '[';
    }
    for (int i = 0; i < JSON_DEPTH_MAX - 1; i++) {
        deep[k++] = ']';
    }
    deep[k++] = '}';
    deep[k] = 0;
    CHECK_EQ(check_json(deep), 0);
    memmove(deep + 6, deep + 5, k - 4);
    deep[5] = '[';
    memmove(deep + JSON_DEPTH_MAX + 5, deep + JSON_DEPTH_MAX + 4, k - JSON_DEPTH_MAX + 1);
    deep[JSON_DEPTH_MAX + 4] = ']';
    CHECK_EQ(check_json(deep), JSON_ESYNTAX);
}

static void json_members_names_decoded_and_duplicates_refused(void)
{
    const char *doc = "{\"iss\":\"a\\/b\",\"\\u0065xp\":1700000000.75,\"locs\":[\"x\",\"y\"],"
                      "\"n\":-3,\"big\":9007199254740993,\"e\":1e3}";
    struct json_value root, v, e;
    char s[16];
    int64_t x;
    CHECK_EQ(json_object_check((const uint8_t *)doc, strlen(doc)), 0);
    CHECK_EQ(json_root((const uint8_t *)doc, strlen(doc), &root), 0);
    CHECK_EQ(json_member(&root, "iss", &v), 1);
    CHECK_EQ(json_string(&v, s, sizeof s), 3);
    CHECK(strcmp(s, "a/b") == 0);
    CHECK_EQ(json_member(&root, "exp", &v), 1);
    CHECK_EQ(json_int(&v, &x), 0);
    CHECK_EQ(x, 1700000000);
    CHECK_EQ(json_member(&root, "n", &v), 1);
    CHECK_EQ(json_int(&v, &x), 0);
    CHECK_EQ(x, -3);
    CHECK_EQ(json_member(&root, "big", &v), 1);
    CHECK_EQ(json_int(&v, &x), JSON_ERANGE);
    CHECK_EQ(json_member(&root, "e", &v), 1);
    CHECK_EQ(json_int(&v, &x), JSON_ERANGE);
    CHECK_EQ(json_member(&root, "nope", &v), 0);
    CHECK_EQ(json_member(&root, "locs", &v), 1);
    CHECK_EQ(json_int(&v, &x), JSON_ETYPE);
    size_t pos = 0;
    CHECK_EQ(json_array_next(&v, &pos, &e), 1);
    CHECK_EQ(json_string(&e, s, sizeof s), 1);
    CHECK(strcmp(s, "x") == 0);
    CHECK_EQ(json_array_next(&v, &pos, &e), 1);
    CHECK_EQ(json_string(&e, s, sizeof s), 1);
    CHECK(strcmp(s, "y") == 0);
    CHECK_EQ(json_array_next(&v, &pos, &e), 0);
    CHECK_EQ(json_string(&e, s, 1), JSON_ERANGE);     /* too long for the buffer */
    /* Two exp (one spelled with an escape): refused, whichever a reader would take. */
    const char *dup = "{\"exp\":1,\"e\\u0078p\":2000000000}";
    CHECK_EQ(json_root((const uint8_t *)dup, strlen(dup), &root), 0);
    CHECK_EQ(json_member(&root, "exp", &v), JSON_EDUPLICATE);
    /* A NUL inside a string: no C string can hold it. */
    const char *nul = "{\"iss\":\"a\\u0000b\"}";
    CHECK_EQ(json_root((const uint8_t *)nul, strlen(nul), &root), 0);
    CHECK_EQ(json_member(&root, "iss", &v), 1);
    CHECK_EQ(json_string(&v, s, sizeof s), JSON_ERANGE);
}

/* "header.claims.sig" from JSON texts and raw signature bytes. */
static size_t compact(char *out, const char *hdr, const char *claims, const char *sig)
{
    size_t n = base64_encode(out, (const uint8_t *)hdr, strlen(hdr), BASE64_URL);
    out[n++] = '.';
    n += base64_encode(out + n, (const uint8_t *)claims, strlen(claims), BASE64_URL);
    out[n++] = '.';
    n += base64_encode(out + n, (const uint8_t *)sig, strlen(sig), BASE64_URL);
    return n;
}

static int parse_text(struct jwt *j, const char *tok, size_t len)
{
    uint8_t *c = exact(tok, len);
    int r = jwt_parse(j, c, len);
    free(c);
    return r;
}

static void a_jwt_is_taken_apart_and_its_registered_claims_read(void)
{
    static struct jwt j;
    static char tok[JWT_MAX + 64];
    size_t n = compact(tok, "{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"JWT\"}",
                       "{\"iss\":\"https://uaa.test\",\"exp\":2000000000,\"nbf\":1,\"iat\":2,"
                       "\"locations\":\"loc1\"}", "sig");
    uint8_t *c = exact(tok, n);
    CHECK_EQ(jwt_parse(&j, c, n), 0);
    CHECK(strcmp(j.alg, "ES256") == 0);
    CHECK(strcmp(j.kid, "k1") == 0);
    CHECK(strcmp(j.iss, "https://uaa.test") == 0);
    CHECK_EQ(j.exp, 2000000000);
    CHECK_EQ(j.nbf, 1);
    CHECK_EQ(j.iat, 2);
    CHECK_EQ(j.has, JWT_HAS_EXP | JWT_HAS_NBF | JWT_HAS_IAT | JWT_HAS_KID);
    CHECK_EQ(j.sig_len, 3);
    CHECK(memcmp(j.sig, "sig", 3) == 0);
    CHECK(j.signing_input == c);
    CHECK_EQ(j.signing_input[j.signing_input_len], '.');
    struct json_value v;
    CHECK_EQ(jwt_claim(&j, "locations", &v), 1);
    CHECK_EQ(v.type, JSON_STRING);
    free(c);
}

static void malformed_tokens_are_refused_each_with_its_reason(void)
{
    static struct jwt j;
    static char tok[JWT_MAX + 64];
    const char *ok_h = "{\"alg\":\"ES256\"}", *ok_c = "{\"iss\":\"i\",\"exp\":1}";
    struct { const char *h, *c; int want; } cases[] = {
        { "{\"alg\":1}", ok_c, JWT_EHEADER },
        { "{\"typ\":\"JWT\"}", ok_c, JWT_EHEADER },
        { "{\"alg\":\"ES256\",\"crit\":[\"exp\"]}", ok_c, JWT_EHEADER },
        { "{\"alg\":\"ES256\",\"kid\":7}", ok_c, JWT_EHEADER },
        { "{\"alg\":\"ES256\",\"alg\":\"none\"}", ok_c, JWT_EHEADER },
        { "[\"ES256\"]", ok_c, JWT_EJSON },
        { ok_h, "{\"iss\":\"i\",\"exp\":\"1\"}", JWT_ECLAIM },
        { ok_h, "{\"iss\":\"i\",\"exp\":1,\"exp\":2}", JWT_ECLAIM },
        { ok_h, "{\"iss\":7}", JWT_ECLAIM },
        { ok_h, "{\"iss\":\"i\",\"nbf\":1e9}", JWT_ECLAIM },
        { ok_h, "not json", JWT_EJSON },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = compact(tok, cases[i].h, cases[i].c, "s");
        int r = parse_text(&j, tok, n);
        if (r != cases[i].want) {
            fprintf(stderr, "case %zu: %d, want %d\n", i, r, cases[i].want);
            CHECK(0);
        }
        CHECK_EQ(j.alg[0], 0);                      /* nothing half-read is left */
        CHECK_EQ(j.exp, 0);
    }
    const char *fmt[] = { "", "a", "a.b", "a.b.c.d", "a.b.c.d.e", "..", "eyJ.e30.",
                          "e30.e30.!!", "e30=.e30.", "e30.e30.e30." };
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        CHECK(parse_text(&j, fmt[i], strlen(fmt[i])) < 0);
    }
    CHECK_EQ(parse_text(&j, "a.b.c.d", 7), JWT_EFORMAT);
    CHECK_EQ(parse_text(&j, "eyJhbGciOiJFUzI1NiJ9.e30.!!", 27), JWT_EBASE64);
    /* Over the cap: refused before any decoding. */
    memset(tok, 'A', JWT_MAX + 1);
    tok[10] = tok[20] = '.';
    CHECK_EQ(parse_text(&j, tok, JWT_MAX + 1), JWT_ETOOBIG);
    /* A header larger than its buffer, within the cap. */
    char big[JWT_HEADER_MAX * 2];
    memset(big, ' ', sizeof big - 1);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = 0;
    size_t n = compact(tok, big, ok_c, "s");
    CHECK_EQ(parse_text(&j, tok, n), JWT_ETOOBIG);
}

static void the_0x80_request_is_read_as_sap_clients_send_it(void)
{
    const char jwt[] = "aaa.bbb.ccc";
    uint8_t msg[64];
    struct socks5_jwt_auth a;
    size_t need;
    long n = socks5_jwt_auth_encode(msg, sizeof msg, (const uint8_t *)jwt, strlen(jwt),
                                    "bG9jMQ==");
    CHECK_EQ(n, 1 + 4 + 11 + 1 + 8);
    /* The SAP Cloud SDK's bytes for this request (socket-proxy.js): 01, length, JWT, 8, b64. */
    const uint8_t sdk[] = { 1, 0, 0, 0, 11, 'a', 'a', 'a', '.', 'b', 'b', 'b', '.', 'c', 'c',
                            'c', 8, 'b', 'G', '9', 'j', 'M', 'Q', '=', '=' };
    CHECK_EQ(n, sizeof sdk);
    CHECK(memcmp(msg, sdk, sizeof sdk) == 0);
    for (size_t len = 0; len < (size_t)n; len++) {
        uint8_t *c = exact(msg, len);
        CHECK_EQ(socks5_jwt_auth_parse(c, len, &a, &need), 0);
        CHECK(a.jwt == NULL);
        CHECK_EQ(need, len < 5 ? 0 : len < 17 ? 5 + 11 + 1 + 255 : (size_t)n);
        free(c);
    }
    uint8_t *c = exact(msg, (size_t)n);
    CHECK_EQ(socks5_jwt_auth_parse(c, (size_t)n, &a, &need), n);
    CHECK_EQ(a.jwt_len, 11);
    CHECK(memcmp(a.jwt, jwt, 11) == 0);
    CHECK_EQ(a.loc_b64_len, 8);
    CHECK(memcmp(a.loc_b64, "bG9jMQ==", 8) == 0);
    free(c);
    /* No Location ID: length 0. */
    n = socks5_jwt_auth_encode(msg, sizeof msg, (const uint8_t *)jwt, strlen(jwt), "");
    CHECK_EQ(socks5_jwt_auth_parse(msg, (size_t)n, &a, NULL), n);
    CHECK_EQ(a.loc_b64_len, 0);
    CHECK(a.loc_b64 == NULL);
    /* A JWT over 16 KiB is refused from the first 5 bytes; an empty one, a wrong version. */
    const uint8_t big[] = { 1, 0, 0, 0x40, 0x01 };
    CHECK_EQ(socks5_jwt_auth_parse(big, sizeof big, &a, &need), SOCKS5_ETOOBIG);
    const uint8_t huge[] = { 1, 0xff, 0xff, 0xff, 0xff };
    CHECK_EQ(socks5_jwt_auth_parse(huge, sizeof huge, &a, &need), SOCKS5_ETOOBIG);
    const uint8_t max[] = { 1, 0, 0, 0x40, 0x00 };
    CHECK_EQ(socks5_jwt_auth_parse(max, sizeof max, &a, &need), 0);
    CHECK_EQ(need, SOCKS5_JWT_AUTH_MAX);
    const uint8_t empty[] = { 1, 0, 0, 0, 0, 0 };
    CHECK_EQ(socks5_jwt_auth_parse(empty, sizeof empty, &a, &need), SOCKS5_EMALFORMED);
    const uint8_t v2[] = { 2, 0, 0, 0, 1, 'x', 0 };
    CHECK_EQ(socks5_jwt_auth_parse(v2, sizeof v2, &a, &need), SOCKS5_EVERSION);
    /* The greeting of the SAP Cloud SDK (socks 2.8): no-auth and 0x80. */
    const uint8_t greet[] = { 5, 2, 0, 0x80 };
    int offered;
    CHECK_EQ(socks5_greeting_offers(greet, sizeof greet, SOCKS5_M_JWT, &offered), 4);
    CHECK_EQ(offered, 1);
    CHECK_EQ(socks5_greeting_offers(greet, sizeof greet, SOCKS5_M_USERPASS, &offered), 4);
    CHECK_EQ(offered, 0);
}

CHECK_MAIN(
    { "base64url_and_std_decode_strictly", base64url_and_std_decode_strictly },
    { "json_accepts_one_object_and_nothing_else", json_accepts_one_object_and_nothing_else },
    { "json_members_names_decoded_and_duplicates_refused",
      json_members_names_decoded_and_duplicates_refused },
    { "a_jwt_is_taken_apart_and_its_registered_claims_read",
      a_jwt_is_taken_apart_and_its_registered_claims_read },
    { "malformed_tokens_are_refused_each_with_its_reason",
      malformed_tokens_are_refused_each_with_its_reason },
    { "the_0x80_request_is_read_as_sap_clients_send_it",
      the_0x80_request_is_read_as_sap_clients_send_it })
