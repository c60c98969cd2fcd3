/* see pwhash.h */
#include <stdio.h>
#include <string.h>

#include "bearssl.h"
#include "hex.h"
#include "pwhash.h"
#include "random.h"

/* see pwhash.h */
void pbkdf2_sha256(const void *pw, size_t pwlen, const void *salt, size_t saltlen,
                   uint32_t iter, uint8_t *out, size_t outlen)
{
    br_hmac_key_context kc;
    br_hmac_key_init(&kc, &br_sha256_vtable, pw, pwlen);
    for (uint32_t block = 1; outlen > 0; block++) {
        uint8_t u[32], t[32], be[4] = { (uint8_t)(block >> 24), (uint8_t)(block >> 16),
                                        (uint8_t)(block >> 8), (uint8_t)block };
        br_hmac_context hc;
        br_hmac_init(&hc, &kc, 0);
        br_hmac_update(&hc, salt, saltlen);
        br_hmac_update(&hc, be, sizeof be);
        br_hmac_out(&hc, u);
        memcpy(t, u, sizeof t);
        for (uint32_t i = 1; i < iter; i++) {
            br_hmac_init(&hc, &kc, 0);
            br_hmac_update(&hc, u, sizeof u);
            br_hmac_out(&hc, u);
            for (size_t j = 0; j < sizeof t; j++) {
                t[j] ^= u[j];
            }
        }
        size_t n = outlen < sizeof t ? outlen : sizeof t;
        memcpy(out, t, n);
        out += n;
        outlen -= n;
    }
    memset(&kc, 0, sizeof kc);
}

/* see pwhash.h */
int pwhash_make(const char *pw, size_t pwlen, char *text, size_t cap)
{
    uint8_t salt[PWHASH_SALT_LEN], hash[PWHASH_LEN];
    char salt_hex[2 * PWHASH_SALT_LEN + 1], hash_hex[2 * PWHASH_LEN + 1];
    if (rng_ready() == 0 || cap < PWHASH_TEXT_MAX) {
        return -1;
    }
    rng_bytes(salt, sizeof salt);
    pbkdf2_sha256(pw, pwlen, salt, sizeof salt, PWHASH_ITERATIONS, hash, sizeof hash);
    hex_encode(salt_hex, salt, sizeof salt);
    hex_encode(hash_hex, hash, sizeof hash);
    snprintf(text, cap, "pbkdf2-sha256$%u$%s$%s", (unsigned)PWHASH_ITERATIONS, salt_hex,
             hash_hex);
    memset(hash, 0, sizeof hash);
    return 0;
}

/* see pwhash.h */
int pwhash_check(const char *text, const char *pw, size_t pwlen)
{
    static const char prefix[] = "pbkdf2-sha256$";
    if (strncmp(text, prefix, sizeof prefix - 1) != 0) {
        return 0;
    }
    const char *p = text + sizeof prefix - 1;
    uint32_t iter = 0;
    while (*p >= '0' && *p <= '9' && iter < 10000000) {
        iter = iter * 10 + (uint32_t)(*p++ - '0');
    }
    if (*p++ != '$' || iter == 0 || iter >= 10000000) {
        return 0;
    }
    const char *dollar = strchr(p, '$');
    uint8_t salt[PWHASH_SALT_LEN], want[PWHASH_LEN], got[PWHASH_LEN];
    if (dollar == NULL || hex_decode(p, (size_t)(dollar - p), salt, sizeof salt) != 0 ||
        hex_decode(dollar + 1, strlen(dollar + 1), want, sizeof want) != 0) {
        return 0;
    }
    pbkdf2_sha256(pw, pwlen, salt, sizeof salt, iter, got, sizeof got);
    unsigned diff = 0;
    for (size_t i = 0; i < sizeof got; i++) {
        diff |= (unsigned)(got[i] ^ want[i]);
    }
    memset(got, 0, sizeof got);
    return diff == 0;
}
