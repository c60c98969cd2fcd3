/* Fuzz the issuer key loader (tls/jws: PEM, then SubjectPublicKeyInfo or a certificate) on
 * arbitrary text: a key file is an operator's, but a wrong paste must be refused with a
 * reason, never read past, never leave a half-set key; a key it accepts verifies nothing
 * that is not its signature (a fixed input and signature of the key's size). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct jws_key k;
    static uint8_t sig[JWS_RSA_MAX_BITS / 8];
    char why[160];
    if (size > JWS_PEM_MAX) {
        size = JWS_PEM_MAX;
    }
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    why[0] = 0;
    if (jws_key_load(&k, copy, size, why, sizeof why) == 0) {
        if ((k.alg != JWS_ES256 && k.alg != JWS_RS256) || (k.alg == JWS_ES256 && k.bits != 256)
            || (k.alg == JWS_RS256 && (k.bits < JWS_RSA_MIN_BITS || k.bits > JWS_RSA_MAX_BITS))) {
            abort();
        }
        size_t n = k.alg == JWS_ES256 ? 64 : k.rsa.nlen;
        memset(sig, 0x5a, sizeof sig);
        if (jws_verify(&k, (const uint8_t *)"x.y", 3, sig, n)) {
            abort();                             /* a constant is no signature */
        }
    } else if (why[0] == 0 || k.alg != 0) {
        abort();                                 /* a refusal says why and leaves no key */
    }
    free(copy);
    return 0;
}
