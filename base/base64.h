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

#endif
