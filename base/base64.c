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
