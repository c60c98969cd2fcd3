/* Fuzz what SOCKS5 method 0x80 reads from a client before anything is verified: the 0x80
 * request (cut at every length a reading loop sees), the token's compact form, base64 of
 * either alphabet, and the JSON reader on the input as a document (every member, element,
 * string and number it holds is asked for). None may read past its input (exact-size
 * copies: ASan), claim more than it was given, or leave half-read output on an error. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "json.h"
#include "jwt.h"
#include "socks5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every question about every value of a document that passed the check. */
static void walk(const struct json_value *v, unsigned depth)
{
    char s[64];
    int64_t x;
    struct json_value e;
    size_t pos = 0;
    int r;
    if (depth > JSON_DEPTH_MAX + 1) {
        abort();                                 /* deeper than the check allows */
    }
    (void)json_string(v, s, sizeof s);
    (void)json_int(v, &x);
    if (v->type == JSON_ARRAY) {
        while ((r = json_array_next(v, &pos, &e)) == 1) {
            if (e.p < v->p || e.p + e.len > v->p + v->len) {
                abort();
            }
            walk(&e, depth + 1);
        }
        if (r < 0) {
            abort();                             /* a checked document has no bad element */
        }
    } else if (v->type == JSON_OBJECT) {
        static const char *names[] = { "iss", "exp", "nbf", "iat", "alg", "kid", "locations",
                                       "a", "" };
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            r = json_member(v, names[i], &e);
            if (r == 1) {
                walk(&e, depth + 1);
            } else if (r != 0 && r != JSON_EDUPLICATE) {
                abort();
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct jwt j;
    static uint8_t out[JWT_MAX];
    struct socks5_jwt_auth a;
    struct json_value root, v;
    size_t need;
    if (size > JWT_MAX + 64) {
        size = JWT_MAX + 64;
    }
    uint8_t *copy = malloc(size ? size : 1);     /* exact size: ASan sees any overread */
    memcpy(copy, data, size);
    /* The 0x80 request: more bytes than given are never claimed; a whole one points inside. */
    for (size_t len = 0; len <= size && len < 600; len++) {
        long n = socks5_jwt_auth_parse(copy, len, &a, &need);
        if (n > (long)len || (n > 0 && (a.jwt < copy || a.jwt + a.jwt_len > copy + n))
            || (n <= 0 && a.jwt != NULL) || (n > 0 && (size_t)n != need)) {
            abort();
        }
    }
    /* base64 of both alphabets: the length is what the input could hold, at most. */
    for (int alpha = BASE64_STD; alpha <= BASE64_URL; alpha++) {
        long n = base64_decode(out, sizeof out, (const char *)copy, size,
                               (enum base64_alphabet)alpha);
        if (n > (long)BASE64_DECODED_MAX(size)) {
            abort();
        }
    }
    /* The token. */
    int r = jwt_parse(&j, copy, size);
    if (r == 0) {
        if (j.alg[0] == 0 || j.signing_input != copy || j.signing_input_len >= size
            || j.sig_len > sizeof j.sig || json_object_check(j.claims, j.claims_len) != 0) {
            abort();
        }
        walk(&j.claims_root, 0);
        (void)jwt_claim(&j, "locations", &v);
    } else if (j.alg[0] != 0 || j.has != 0 || j.iss[0] != 0) {
        abort();                                 /* nothing half-read */
    }
    /* The input itself as a JSON document. */
    if (json_object_check(copy, size) == 0) {
        if (json_root(copy, size, &root) != 0) {
            abort();
        }
        walk(&root, 0);
    }
    free(copy);
    return 0;
}
