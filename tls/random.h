/* Random numbers: BearSSL's HMAC-DRBG (SHA-256), seeded from a true entropy source the
 * program hands in (the gateway's board, the relay's getrandom) and reseeded from it every
 * RNG_RESEED_BYTES of output. Fails closed: without entropy rng_init() fails and nothing may
 * use the generator. */
#ifndef GW_RANDOM_H
#define GW_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#define RNG_SEED_BYTES 32              /* 256 bits from the board per (re)seed */
#define RNG_RESEED_BYTES (1u << 20)    /* fresh entropy after every MiB of output */

/* The entropy source: fills buf with len true random bytes and returns 0, or a negative
 * error (then no weak bytes). */
typedef int (*rng_entropy_fn)(void *buf, size_t len);
/* Seed from entropy (kept for reseeding). Returns 0, or the source's negative error. */
int rng_init(rng_entropy_fn entropy);
/* Fresh entropy from the source now (before a long-term key, for each TLS connection).
 * Returns 0, or negative when there is no source or it failed. */
int rng_reseed(void);
/* 1 once rng_init() succeeded. */
int rng_ready(void);
/* Fill buf. Aborts (through the assert path) if called before a successful rng_init(). */
void rng_bytes(void *buf, size_t len);
uint32_t rng_u32(void);

#endif
