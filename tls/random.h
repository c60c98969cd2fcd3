/* The firmware's random numbers: BearSSL's HMAC-DRBG (SHA-256), seeded from the board's
 * entropy source and reseeded from it every RNG_RESEED_BYTES of output. Fails closed: if
 * the board has no entropy, rng_init() fails and nothing may use the generator. */
#ifndef GW_RANDOM_H
#define GW_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#define RNG_SEED_BYTES 32              /* 256 bits from the board per (re)seed */
#define RNG_RESEED_BYTES (1u << 20)    /* fresh entropy after every MiB of output */

/* Returns 0, or a negative board error when the board gives no entropy. */
int rng_init(void);
/* 1 once rng_init() succeeded. */
int rng_ready(void);
/* Fill buf. Aborts (through the assert path) if called before a successful rng_init(). */
void rng_bytes(void *buf, size_t len);
uint32_t rng_u32(void);

#endif
