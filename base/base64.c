/* see base64.h */
#include "base64.h"

static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* see base64.h */
size_t base64_encode(char *out, const uint8_t *in, size_t n, enum base64_alphabet alpha)
{
    const char *tab = alpha == BASE64_URL ? url : std;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        v |= i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0;
        v |= i + 2 < n ? in[i + 2] : 0;
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        if (i + 1 < n) {
            out[o++] = tab[v >> 6 & 63];
        } else if (alpha == BASE64_STD) {
            out[o++] = '=';
        }
        if (i + 2 < n) {
            out[o++] = tab[v & 63];
        } else if (alpha == BASE64_STD) {
            out[o++] = '=';
        }
    }
    out[o] = '\0';
    return o;
}

/* see base64.h */
int base64_value(char c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
           : c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : -1;
}

static int url_value(char c)
{
    return c == '-' ? 62 : c == '_' ? 63 : c == '+' || c == '/' ? -1 : base64_value(c);
}

/* see base64.h */
long base64_decode(uint8_t *out, size_t cap, const char *in, size_t len,
                   enum base64_alphabet alpha)
{
    size_t o = 0, n = len;
    if (alpha == BASE64_STD) {
        /* Padded: whole quads, at most two '=' at the very end. */
        if (len % 4 != 0) {
            return -1;
        }
        if (n > 0 && in[n - 1] == '=') {
            n--;
            if (in[n - 1] == '=') {
                n--;
            }
        }
    }
    if (n % 4 == 1) {
        return -1;                   /* one character holds 6 bits: no byte ends there */
    }
    size_t want = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    if (want > cap) {
        return -1;
    }
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = alpha == BASE64_URL ? url_value(in[i]) : base64_value(in[i]);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits && (acc & ((1u << bits) - 1)) != 0) {
        return -1;                   /* stray low bits: a second spelling of the same bytes */
    }
    return (long)o;
}
