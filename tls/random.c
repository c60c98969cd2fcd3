/* see random.h */
#include <string.h>

#include "bearssl.h"
#include "log.h"
#include "random.h"
#include "secure_wipe.h"

static br_hmac_drbg_context drbg;
static rng_entropy_fn source;
static int seeded;
static uint32_t since_seed;

static int reseed(void)
{
    uint8_t seed[RNG_SEED_BYTES];
    int err = source != NULL ? source(seed, sizeof seed) : -1;
    if (err) {
        return err;
    }
    if (!seeded) {
        br_hmac_drbg_init(&drbg, &br_sha256_vtable, seed, sizeof seed);
    } else {
        br_hmac_drbg_update(&drbg, seed, sizeof seed);
    }
    secure_wipe(seed, sizeof seed);
    seeded = 1;
    since_seed = 0;
    return 0;
}

/* see random.h */
int rng_init(rng_entropy_fn entropy)
{
    source = entropy;
    int err = reseed();
    if (err) {
        log_err("%s: no entropy: TLS and keys are unavailable", __func__);
    }
    return err;
}

/* see random.h */
int rng_reseed(void)
{
    return reseed();
}

/* see random.h */
int rng_ready(void)
{
    return seeded;
}

/* see random.h */
void rng_bytes(void *buf, size_t len)
{
    if (!seeded) {
        log_err("%s: generator used before it was seeded", __func__);
        __builtin_trap();
    }
    if (since_seed >= RNG_RESEED_BYTES && reseed() != 0) {
        log_warnx("%s: reseed failed; continuing on the existing state", __func__);
    }
    br_hmac_drbg_generate(&drbg, buf, len);
    since_seed += (uint32_t)(len > RNG_RESEED_BYTES ? RNG_RESEED_BYTES : len);
}

/* see random.h */
uint32_t rng_u32(void)
{
    uint32_t v;
    rng_bytes(&v, sizeof v);
    return v;
}
