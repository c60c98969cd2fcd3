/* Base64 (RFC 4648): the standard alphabet with padding (SASL PLAIN, PEM), and base64url
 * without padding (the relay's tokens, which go on command lines and in URLs). */
#ifndef GW_BASE64_H
#define GW_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Room for n bytes encoded, and the NUL. */
#define BASE64_SIZE(n) (((n) + 2) / 3 * 4 + 1)

enum base64_alphabet { BASE64_STD, BASE64_URL };

/* n bytes into out (BASE64_SIZE(n) bytes), NUL-terminated; BASE64_URL leaves the padding
 * out. Returns the characters written. */
size_t base64_encode(char *out, const uint8_t *in, size_t n, enum base64_alphabet alpha);
/* The value of one character of the standard alphabet, 0..63, or -1 (also for '='). */
int base64_value(char c);

/* Room for the bytes that len characters decode to, at most. */
#define BASE64_DECODED_MAX(len) ((len) / 4 * 3 + ((len) % 4 * 3) / 4)

/* Decode exactly len characters at in into out (cap bytes): strict RFC 4648, no blanks or
 * line breaks. BASE64_STD wants the padding ('=') to a multiple of 4; BASE64_URL (JWS,
 * RFC 7515 section 2) wants none. The unused bits of the last character must be zero, so
 * each byte string has exactly one encoding. Never reads past len or writes past cap.
 * Returns the bytes written, or -1 (a character outside the alphabet, bad padding, a
 * length no encoding has, or cap too small). */
long base64_decode(uint8_t *out, size_t cap, const char *in, size_t len,
                   enum base64_alphabet alpha);

#endif
