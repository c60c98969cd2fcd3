/* see json.h */
#include <string.h>

#include "json.h"

/* ---- the walk: each function takes the window and an index it advances ---- */

static void blanks(const uint8_t *p, size_t len, size_t *i)
{
    while (*i < len && (p[*i] == ' ' || p[*i] == '\t' || p[*i] == '\n' || p[*i] == '\r')) {
        (*i)++;
    }
}

static int hexval(uint8_t c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Four hex digits at p[*i]: the code unit, or -1. */
static long hex4(const uint8_t *p, size_t len, size_t *i)
{
    long v = 0;
    if (len - *i < 4) {
        return -1;
    }
    for (int k = 0; k < 4; k++) {
        int h = hexval(p[*i + (size_t)k]);
        if (h < 0) {
            return -1;
        }
        v = v << 4 | h;
    }
    *i += 4;
    return v;
}

/* The length of the valid UTF-8 sequence at p[i] (a byte >= 0x80), or 0: no overlong
 * forms, no surrogates, nothing above U+10FFFF (RFC 3629). */
static size_t utf8_len(const uint8_t *p, size_t len, size_t i)
{
    uint8_t c = p[i];
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0 || len - i < n) {
        return 0;
    }
    uint8_t lo = 0x80, hi = 0xbf;           /* the second byte's range */
    if (c == 0xe0) {
        lo = 0xa0;
    } else if (c == 0xed) {
        hi = 0x9f;
    } else if (c == 0xf0) {
        lo = 0x90;
    } else if (c == 0xf4) {
        hi = 0x8f;
    }
    if (p[i + 1] < lo || p[i + 1] > hi) {
        return 0;
    }
    for (size_t k = 2; k < n; k++) {
        if (p[i + k] < 0x80 || p[i + k] > 0xbf) {
            return 0;
        }
    }
    return n;
}

/* A string starting at its quote; *i ends after the closing quote. Decoded into out when
 * out is not NULL (cap bytes, NUL kept room for): returns the decoded length, or
 * JSON_ESYNTAX, or JSON_ERANGE (too long for out, or a NUL in it). */
static long string_walk(const uint8_t *p, size_t len, size_t *i, char *out, size_t cap)
{
    size_t o = 0;
    int range = 0;
    if (*i >= len || p[*i] != '"') {
        return JSON_ESYNTAX;
    }
    (*i)++;
    for (;;) {
        uint8_t buf[4];
        size_t n = 0;
        if (*i >= len) {
            return JSON_ESYNTAX;
        }
        uint8_t c = p[*i];
        if (c == '"') {
            (*i)++;
            break;
        }
        if (c < 0x20) {
            return JSON_ESYNTAX;
        }
        if (c == '\\') {
            if (len - *i < 2) {
                return JSON_ESYNTAX;
            }
            uint8_t e = p[*i + 1];
            *i += 2;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e != 0 && simple) {
                static const char dec[] = "\"\\/\b\f\n\r\t";
                buf[n++] = (uint8_t)dec[simple - "\"\\/bfnrt"];
            } else if (e == 'u') {
                long u = hex4(p, len, i);
                if (u < 0 || (u >= 0xdc00 && u <= 0xdfff)) {
                    return JSON_ESYNTAX;            /* a low surrogate alone */
                }
                if (u >= 0xd800 && u <= 0xdbff) {
                    if (len - *i < 2 || p[*i] != '\\' || p[*i + 1] != 'u') {
                        return JSON_ESYNTAX;        /* a high surrogate alone */
                    }
                    *i += 2;
                    long l = hex4(p, len, i);
                    if (l < 0xdc00 || l > 0xdfff) {
                        return JSON_ESYNTAX;
                    }
                    u = 0x10000 + ((u - 0xd800) << 10) + (l - 0xdc00);
                }
                if (u == 0) {
                    range = out != NULL;            /* valid JSON, but no C string */
                } else if (u < 0x80) {
                    buf[n++] = (uint8_t)u;
                } else if (u < 0x800) {
                    buf[n++] = (uint8_t)(0xc0 | u >> 6);
                    buf[n++] = (uint8_t)(0x80 | (u & 0x3f));
                } else if (u < 0x10000) {
                    buf[n++] = (uint8_t)(0xe0 | u >> 12);
                    buf[n++] = (uint8_t)(0x80 | (u >> 6 & 0x3f));
                    buf[n++] = (uint8_t)(0x80 | (u & 0x3f));
                } else {
                    buf[n++] = (uint8_t)(0xf0 | u >> 18);
                    buf[n++] = (uint8_t)(0x80 | (u >> 12 & 0x3f));
                    buf[n++] = (uint8_t)(0x80 | (u >> 6 & 0x3f));
                    buf[n++] = (uint8_t)(0x80 | (u & 0x3f));
                }
            } else {
                return JSON_ESYNTAX;
            }
        } else if (c < 0x80) {
            buf[n++] = c;
            (*i)++;
        } else {
            n = utf8_len(p, len, *i);
            if (n == 0) {
                return JSON_ESYNTAX;
            }
            memcpy(buf, p + *i, n);
            *i += n;
        }
        if (out) {
            if (cap - o <= n) {
                range = 1;
            } else {
                memcpy(out + o, buf, n);
                o += n;
            }
        }
    }
    if (out) {
        out[o] = 0;
    }
    return range ? JSON_ERANGE : (long)o;
}

/* A number in JSON's grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int number_walk(const uint8_t *p, size_t len, size_t *i)
{
    size_t k = *i;
    if (k < len && p[k] == '-') {
        k++;
    }
    if (k < len && p[k] == '0') {
        k++;
    } else if (k < len && p[k] >= '1' && p[k] <= '9') {
        while (k < len && p[k] >= '0' && p[k] <= '9') {
            k++;
        }
    } else {
        return JSON_ESYNTAX;
    }
    if (k < len && p[k] == '.') {
        size_t d = ++k;
        while (k < len && p[k] >= '0' && p[k] <= '9') {
            k++;
        }
        if (k == d) {
            return JSON_ESYNTAX;
        }
    }
    if (k < len && (p[k] == 'e' || p[k] == 'E')) {
        k++;
        if (k < len && (p[k] == '+' || p[k] == '-')) {
            k++;
        }
        size_t d = k;
        while (k < len && p[k] >= '0' && p[k] <= '9') {
            k++;
        }
        if (k == d) {
            return JSON_ESYNTAX;
        }
    }
    *i = k;
    return 0;
}

static int word(const uint8_t *p, size_t len, size_t *i, const char *w)
{
    size_t n = strlen(w);
    if (len - *i < n || memcmp(p + *i, w, n) != 0) {
        return JSON_ESYNTAX;
    }
    *i += n;
    return 0;
}

/* One value at p[*i] (no blanks before it): its type in *t; *i ends after it. */
static int value_walk(const uint8_t *p, size_t len, size_t *i, unsigned depth,
                      enum json_type *t)
{
    if (*i >= len) {
        return JSON_ESYNTAX;
    }
    switch (p[*i]) {
    case '{':
    case '[': {
        uint8_t close = p[*i] == '{' ? '}' : ']';
        int obj = close == '}';
        *t = obj ? JSON_OBJECT : JSON_ARRAY;
        if (depth >= JSON_DEPTH_MAX) {
            return JSON_ESYNTAX;
        }
        (*i)++;
        blanks(p, len, i);
        if (*i < len && p[*i] == close) {
            (*i)++;
            return 0;
        }
        for (;;) {
            enum json_type et;
            if (obj) {
                if (string_walk(p, len, i, NULL, 0) < 0) {
                    return JSON_ESYNTAX;
                }
                blanks(p, len, i);
                if (*i >= len || p[*i] != ':') {
                    return JSON_ESYNTAX;
                }
                (*i)++;
                blanks(p, len, i);
            }
            int err = value_walk(p, len, i, depth + 1, &et);
            if (err) {
                return err;
            }
            blanks(p, len, i);
            if (*i < len && p[*i] == ',') {
                (*i)++;
                blanks(p, len, i);
                continue;
            }
            if (*i < len && p[*i] == close) {
                (*i)++;
                return 0;
            }
            return JSON_ESYNTAX;
        }
    }
    case '"':
        *t = JSON_STRING;
        return string_walk(p, len, i, NULL, 0) < 0 ? JSON_ESYNTAX : 0;
    case 't':
        *t = JSON_TRUE;
        return word(p, len, i, "true");
    case 'f':
        *t = JSON_FALSE;
        return word(p, len, i, "false");
    case 'n':
        *t = JSON_NULL;
        return word(p, len, i, "null");
    default:
        *t = JSON_NUMBER;
        return number_walk(p, len, i);
    }
}

/* ---- questions about a document that passed json_object_check ---- */

/* see json.h */
int json_object_check(const uint8_t *p, size_t len)
{
    size_t i = 0;
    enum json_type t = JSON_NONE;
    blanks(p, len, &i);
    if (i >= len || p[i] != '{' || value_walk(p, len, &i, 0, &t) != 0) {
        return JSON_ESYNTAX;
    }
    blanks(p, len, &i);
    return i == len ? 0 : JSON_ESYNTAX;
}

/* see json.h */
int json_root(const uint8_t *p, size_t len, struct json_value *v)
{
    size_t i = 0, start;
    blanks(p, len, &i);
    start = i;
    if (value_walk(p, len, &i, 0, &v->type) != 0 || v->type != JSON_OBJECT) {
        v->type = JSON_NONE;
        return JSON_ESYNTAX;
    }
    v->p = p + start;
    v->len = i - start;
    return 0;
}

/* The value at p[*i] into *v (its depth is not rechecked: the document passed). */
static int take(const uint8_t *p, size_t len, size_t *i, struct json_value *v)
{
    size_t start = *i;
    int err = value_walk(p, len, i, 1, &v->type);
    v->p = p + start;
    v->len = *i - start;
    return err;
}

/* see json.h */
int json_member(const struct json_value *obj, const char *name, struct json_value *v)
{
    const uint8_t *p = obj->p;
    size_t len = obj->len, i = 1;
    int found = 0;
    if (obj->type != JSON_OBJECT) {
        return JSON_ETYPE;
    }
    blanks(p, len, &i);
    while (i < len && p[i] == '"') {
        char key[JSON_NAME_MAX];
        struct json_value val;
        long k = string_walk(p, len, &i, key, sizeof key);
        blanks(p, len, &i);
        i++;                                        /* ':' */
        blanks(p, len, &i);
        if (k == JSON_ESYNTAX || take(p, len, &i, &val) != 0) {
            return JSON_ESYNTAX;
        }
        if (k >= 0 && strcmp(key, name) == 0) {     /* a name too long for key is not ours */
            if (found) {
                return JSON_EDUPLICATE;
            }
            found = 1;
            *v = val;
        }
        blanks(p, len, &i);
        if (i < len && p[i] == ',') {
            i++;
            blanks(p, len, &i);
        }
    }
    return found;
}

/* see json.h */
int json_array_next(const struct json_value *arr, size_t *pos, struct json_value *v)
{
    const uint8_t *p = arr->p;
    size_t len = arr->len, i = *pos ? *pos : 1;
    if (arr->type != JSON_ARRAY) {
        return JSON_ETYPE;
    }
    blanks(p, len, &i);
    if (i < len && p[i] == ',') {
        i++;
        blanks(p, len, &i);
    }
    if (i >= len || p[i] == ']') {
        *pos = len;
        return 0;
    }
    if (take(p, len, &i, v) != 0) {
        return JSON_ESYNTAX;
    }
    *pos = i;
    return 1;
}

/* see json.h */
long json_string(const struct json_value *v, char *out, size_t cap)
{
    size_t i = 0;
    if (v->type != JSON_STRING) {
        return JSON_ETYPE;
    }
    if (cap == 0) {
        return JSON_ERANGE;
    }
    return string_walk(v->p, v->len, &i, out, cap);
}

/* see json.h */
int json_int(const struct json_value *v, int64_t *out)
{
    const uint8_t *p = v->p;
    size_t i = 0;
    int neg = 0;
    int64_t x = 0;
    if (v->type != JSON_NUMBER) {
        return JSON_ETYPE;
    }
    if (p[0] == '-') {
        neg = 1;
        i++;
    }
    for (; i < v->len && p[i] >= '0' && p[i] <= '9'; i++) {
        x = x * 10 + (p[i] - '0');
        if (x > ((int64_t)1 << 53)) {
            return JSON_ERANGE;
        }
    }
    if (i < v->len && p[i] == '.') {                /* a fraction of a second: dropped */
        for (i++; i < v->len && p[i] >= '0' && p[i] <= '9'; i++) {
        }
    }
    if (i != v->len) {
        return JSON_ERANGE;                         /* an exponent */
    }
    *out = neg ? -x : x;
    return 0;
}
