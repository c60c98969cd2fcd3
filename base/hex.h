/* Bytes as hexadecimal text and back (fingerprints, token hashes, password hashes). */
#ifndef GW_HEX_H
#define GW_HEX_H

#include <stddef.h>
#include <stdint.h>

/* n bytes as 2n lower-case digits and a NUL into out (2n + 1 bytes). */
void hex_encode(char *out, const uint8_t *p, size_t n);
/* Exactly 2n digits of s (slen bytes, either case) into n bytes: 0, or -1 when slen is not
 * 2n or a character is not a digit (out is then undefined). Parser: reads slen bytes. */
int hex_decode(const char *s, size_t slen, uint8_t *out, size_t n);

#endif
