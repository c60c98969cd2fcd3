/* see hello_delivery.h */
#include <string.h>

#include "bytes.h"
#include "hello_delivery.h"

/* ---- framing ---- */

/* see hello_delivery.h */
int hello_peek(const uint8_t *p, size_t len, uint8_t *kind, uint8_t *version)
{
    if (len < HELLO_HDR_LEN) {
        return 0;
    }
    *kind = p[0];
    *version = p[1];
    return 1;
}

/* The body of a message of the expected kind: returns the message length, 0, or error. */
static long frame(const uint8_t *p, size_t len, uint8_t kind, uint8_t maxver,
                  const uint8_t **body, size_t *body_len)
{
    if (len >= 1 && p[0] != kind) {
        return HELLO_EKIND;
    }
    if (len >= 2 && (p[1] < HELLO_VERSION || p[1] > maxver)) {
        return HELLO_EVERSION;
    }
    if (len < HELLO_HDR_LEN) {
        return 0;
    }
    size_t n = (size_t)p[2] << 8 | p[3];
    if (n > HELLO_BODY_MAX) {
        return HELLO_ETOOBIG;
    }
    if (len < HELLO_HDR_LEN + n) {
        return 0;
    }
    *body = p + HELLO_HDR_LEN;
    *body_len = n;
    return (long)(HELLO_HDR_LEN + n);
}

/* Walks the fields: calls fn for each; duplicates of known tags (< 32) are errors. */
typedef int (*field_fn)(void *arg, uint8_t tag, const uint8_t *v, size_t n);
static int fields(const uint8_t *b, size_t n, field_fn fn, void *arg, uint32_t *seen)
{
    size_t i = 0;
    *seen = 0;
    while (i < n) {
        if (n - i < 2 || n - i - 2 < b[i + 1]) {
            return HELLO_EFIELD;
        }
        uint8_t tag = b[i], flen = b[i + 1];
        if (tag < 32) {
            if (*seen & (1u << tag)) {
                return HELLO_EFIELD;
            }
            *seen |= 1u << tag;
        }
        int err = fn(arg, tag, b + i + 2, flen);
        if (err) {
            return err;
        }
        i += 2 + (size_t)flen;
    }
    return 0;
}

/* Text: printable ASCII, or with `utf8` also bytes >= 0x80 (folder names). */
static int text(char *out, size_t cap, const uint8_t *v, size_t n, int utf8)
{
    if (n >= cap) {
        return HELLO_EFIELD;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((v[i] >= 0x20 && v[i] < 0x7f) || (utf8 && v[i] >= 0x80))) {
            return HELLO_ETEXT;
        }
    }
    memcpy(out, v, n);
    out[n] = 0;
    return 0;
}

/* ---- writer ---- */

struct wr {
    uint8_t *out;
    size_t cap, len;
    int err;
};

static void put(struct wr *w, uint8_t tag, const void *v, size_t n)
{
    if (n > 255 || w->len + 2 + n > w->cap || w->len + 2 + n > HELLO_MSG_MAX) {
        w->err = HELLO_ENOSPC;
        return;
    }
    w->out[w->len] = tag;
    w->out[w->len + 1] = (uint8_t)n;
    memcpy(w->out + w->len + 2, v, n);
    w->len += 2 + n;
}

static void put_uint(struct wr *w, uint8_t tag, uint64_t x, size_t n)
{
    uint8_t b[8];
    put_be(b, x, n);
    put(w, tag, b, n);
}

static void begin(struct wr *w, uint8_t *out, size_t cap, uint8_t kind, uint8_t version)
{
    w->out = out;
    w->cap = cap;
    w->len = HELLO_HDR_LEN;
    w->err = cap < HELLO_HDR_LEN ? HELLO_ENOSPC : 0;
    if (!w->err) {
        out[0] = kind;
        out[1] = version;
    }
}

static long finish(struct wr *w)
{
    if (w->err) {
        return w->err;
    }
    size_t n = w->len - HELLO_HDR_LEN;
    w->out[2] = (uint8_t)(n >> 8);
    w->out[3] = (uint8_t)n;
    return (long)w->len;
}

/* ---- hello ---- */

/* see hello_delivery.h */
int hello_location_valid(const char *s, size_t len)
{
    if (len == 0 || len > HELLO_LOCATION_MAX || (len == 1 && s[0] == '.')
        || (len == 2 && s[0] == '.' && s[1] == '.')) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static int hello_field(void *arg, uint8_t tag, const uint8_t *v, size_t n)
{
    struct hello *h = arg;
    switch (tag) {
    case 1:
        if (!hello_location_valid((const char *)v, n)) {
            return HELLO_ETEXT;
        }
        return text(h->location, sizeof h->location, v, n, 0);
    case 2:
        return text(h->hostname, sizeof h->hostname, v, n, 0);
    case 3:
        return text(h->firmware, sizeof h->firmware, v, n, 0);
    case 4:
        if (n != 1) {
            return HELLO_EFIELD;
        }
        h->delivery_version = v[0];
        return 0;
    default:
        return 0;
    }
}

/* see hello_delivery.h */
long hello_parse(const uint8_t *p, size_t len, struct hello *h)
{
    const uint8_t *b;
    size_t n;
    uint32_t seen;
    long m = frame(p, len, HELLO_K_HELLO, HELLO_VERSION, &b, &n);
    if (m <= 0) {
        return m;
    }
    memset(h, 0, sizeof *h);
    int err = fields(b, n, hello_field, h, &seen);
    if (err) {
        return err;
    }
    return (seen & (1u << 1)) ? m : HELLO_EMISSING;
}

/* see hello_delivery.h */
long hello_encode(uint8_t *out, size_t cap, const struct hello *h)
{
    struct wr w;
    if (!hello_location_valid(h->location, strlen(h->location))) {
        return HELLO_ETEXT;
    }
    begin(&w, out, cap, HELLO_K_HELLO, HELLO_VERSION);
    put(&w, 1, h->location, strlen(h->location));
    if (h->hostname[0]) {
        put(&w, 2, h->hostname, strlen(h->hostname));
    }
    if (h->firmware[0]) {
        put(&w, 3, h->firmware, strlen(h->firmware));
    }
    if (h->delivery_version) {
        put(&w, 4, &h->delivery_version, 1);
    }
    return finish(&w);
}

/* ---- delivery ---- */

static int delivery_field(void *arg, uint8_t tag, const uint8_t *v, size_t n)
{
    struct delivery *d = arg;
    switch (tag) {
    case 1:
        if (n != 8) {
            return HELLO_EFIELD;
        }
        d->length = get_be(v, 8);
        return d->length > DELIVERY_SIZE_MAX ? HELLO_ETOOBIG : 0;
    case 2:
        if (n != 32 || d->version != 1) {  /* version 2: the trailer has it */
            return HELLO_EFIELD;
        }
        memcpy(d->sha256, v, 32);
        return 0;
    case 3:
    case 4:
        if (n != 4) {
            return HELLO_EFIELD;
        }
        *(tag == 3 ? &d->uidvalidity : &d->uid) = (uint32_t)get_be(v, 4);
        return 0;
    case 5:
        return text(d->folder, sizeof d->folder, v, n, 1);
    default:
        return 0;
    }
}

/* see hello_delivery.h */
long delivery_parse(const uint8_t *p, size_t len, struct delivery *d)
{
    const uint8_t *b;
    size_t n;
    uint32_t seen;
    long m = frame(p, len, HELLO_K_DELIVERY, DELIVERY_VERSION_MAX, &b, &n);
    if (m <= 0) {
        return m;
    }
    memset(d, 0, sizeof *d);
    d->version = p[1];
    int err = fields(b, n, delivery_field, d, &seen);
    if (err) {
        return err;
    }
    uint32_t need = 1u << 1 | (d->version == 1 ? 1u << 2 : 0) | 1u << 3 | 1u << 4 | 1u << 5;
    return (seen & need) == need ? m : HELLO_EMISSING;
}

/* see hello_delivery.h */
long delivery_encode(uint8_t *out, size_t cap, const struct delivery *d)
{
    struct wr w;
    if (d->length > DELIVERY_SIZE_MAX) {
        return HELLO_ETOOBIG;
    }
    uint8_t version = d->version ? d->version : 1;      /* 0: callers from before version 2 */
    if (version > DELIVERY_VERSION_MAX) {
        return HELLO_EVERSION;
    }
    begin(&w, out, cap, HELLO_K_DELIVERY, version);
    put_uint(&w, 1, d->length, 8);
    if (version == 1) {
        put(&w, 2, d->sha256, 32);
    }
    put_uint(&w, 3, d->uidvalidity, 4);
    put_uint(&w, 4, d->uid, 4);
    put(&w, 5, d->folder, strlen(d->folder));
    return finish(&w);
}

/* ---- answers ---- */

static int answer_field(void *arg, uint8_t tag, const uint8_t *v, size_t n)
{
    struct hello_answer *a = arg;
    switch (tag) {
    case 1:
        if (n != 1) {
            return HELLO_EFIELD;
        }
        a->status = v[0];
        return 0;
    case 2:
        return text(a->text, sizeof a->text, v, n, 0);
    case 3:
        if (n != 1) {
            return HELLO_EFIELD;
        }
        a->delivery_version = v[0];
        return 0;
    case 4:
        if (n != 2) {
            return HELLO_EFIELD;
        }
        a->deliveries = (uint16_t)(v[0] << 8 | v[1]);
        return 0;
    default:
        return 0;
    }
}

/* see hello_delivery.h */
long answer_parse(const uint8_t *p, size_t len, uint8_t kind, struct hello_answer *a)
{
    const uint8_t *b;
    size_t n;
    uint32_t seen;
    long m = frame(p, len, kind, HELLO_VERSION, &b, &n);
    if (m <= 0) {
        return m;
    }
    memset(a, 0, sizeof *a);
    int err = fields(b, n, answer_field, a, &seen);
    if (err) {
        return err;
    }
    return (seen & (1u << 1)) ? m : HELLO_EMISSING;
}

static void answer_fields(struct wr *w, uint8_t status, const char *txt)
{
    put(w, 1, &status, 1);
    if (txt && txt[0]) {
        size_t n = strlen(txt);
        put(w, 2, txt, n > HELLO_TEXT_MAX ? HELLO_TEXT_MAX : n);
    }
}

/* see hello_delivery.h */
long answer_encode(uint8_t *out, size_t cap, uint8_t kind, uint8_t status, const char *txt)
{
    struct wr w;
    begin(&w, out, cap, kind, HELLO_VERSION);
    answer_fields(&w, status, txt);
    return finish(&w);
}

/* see hello_delivery.h */
long hello_answer_encode(uint8_t *out, size_t cap, uint8_t status, const char *txt,
                         uint8_t delivery_version, unsigned deliveries)
{
    struct wr w;
    begin(&w, out, cap, HELLO_K_HELLO_ANSWER, HELLO_VERSION);
    answer_fields(&w, status, txt);
    if (delivery_version) {
        put(&w, 3, &delivery_version, 1);
    }
    if (deliveries) {
        put_uint(&w, 4, deliveries > 0xffffu ? 0xffffu : deliveries, 2);
    }
    return finish(&w);
}

/* see hello_delivery.h */
const char *hello_strerror(long err)
{
    switch (err) {
    case HELLO_EKIND: return "unexpected message kind";
    case HELLO_EVERSION: return "unsupported message version";
    case HELLO_ETOOBIG: return "message too large";
    case HELLO_EFIELD: return "malformed field";
    case HELLO_EMISSING: return "required field missing";
    case HELLO_ETEXT: return "bad characters in a text field";
    case HELLO_ENOSPC: return "buffer too small";
    default: return "ok";
    }
}
