/* Console password hashes: PBKDF2-HMAC-SHA256 (RFC 8018) on BearSSL's HMAC, with a random
 * salt, stored as text: "pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX". Verification runs in
 * constant time over the hash. The iteration count makes each guess cost tens of
 * milliseconds on a small ARM box; the console adds its own delay after a failure. */
#ifndef GW_PWHASH_H
#define GW_PWHASH_H

#include <stddef.h>
#include <stdint.h>

#define PWHASH_ITERATIONS 20000
#define PWHASH_SALT_LEN 16
#define PWHASH_LEN 32
#define PWHASH_TEXT_MAX 128   /* "pbkdf2-sha256$" + digits + 2 hex fields, NUL included */

/* PBKDF2-HMAC-SHA256 of (pw, salt) with iter iterations into out[outlen]. */
void pbkdf2_sha256(const void *pw, size_t pwlen, const void *salt, size_t saltlen,
                   uint32_t iter, uint8_t *out, size_t outlen);
/* Hash a new password with a fresh random salt into text (PWHASH_TEXT_MAX bytes).
 * Returns 0, or -1 when the random generator is not seeded. */
int pwhash_make(const char *pw, size_t pwlen, char *text, size_t cap);
/* 1 when pw matches the stored text, 0 when not or when the text is malformed. */
int pwhash_check(const char *text, const char *pw, size_t pwlen);

#endif
