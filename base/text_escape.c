/* see text_escape.h */
#include "text_escape.h"

/* see text_escape.h */
size_t text_escape(char *out, size_t cap, const void *in, size_t len, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = in;
    size_t o = 0, i = 0;
    if (cap == 0) {
        if (used) {
            *used = 0;
        }
        return 0;
    }
    for (; i < len; i++) {
        uint8_t c = p[i];
        if (text_escape_plain(c)) {
            if (cap - o < 2) {
                break;
            }
            out[o++] = (char)c;
        } else {
            if (cap - o < 5) {
                break;
            }
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = 0;
    if (used) {
        *used = i;
    }
    return o;
}

/* see text_escape.h */
size_t text_quote_field(char *out, size_t cap, const void *in, size_t len, size_t *used)
{
    const uint8_t *p = in;
    size_t o = 0, i = 0;
    if (cap == 0) {
        if (used) {
            *used = 0;
        }
        return 0;
    }
    for (; i < len; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '%') {
            if (cap - o < 4) {
                break;
            }
            out[o++] = '%';
            out[o++] = '2';
            out[o++] = c == '"' ? '2' : '5';
        } else {
            if (cap - o < 2) {
                break;
            }
            out[o++] = (char)c;
        }
    }
    out[o] = 0;
    if (used) {
        *used = i;
    }
    return o;
}
