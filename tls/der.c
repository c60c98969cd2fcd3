/* see der.h */
#include <string.h>

#include "der.h"
#include "tls_err.h"

/* ---- reader ---- */

/* see der.h */
void der_reader_init(struct der_reader *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->err = 0;
}

/* see der.h */
void der_enter(struct der_reader *sub, const struct der_tlv *t)
{
    der_reader_init(sub, t->p, t->len);
}

static int fail(struct der_reader *r)
{
    r->err = TLS_EDER;
    r->len = 0;
    return TLS_EDER;
}

/* see der.h */
int der_get(struct der_reader *r, struct der_tlv *t)
{
    /* A failed read leaves an empty TLV, never stale pointers: callers read a whole
     * structure and check err once at the end, entering what a failed read returned. */
    memset(t, 0, sizeof *t);
    if (r->err) {
        return r->err;
    }
    if (r->len < 2) {
        return fail(r);
    }
    const uint8_t *p = r->p;
    uint8_t tag = p[0];
    if ((tag & 0x1f) == 0x1f) {
        return fail(r);               /* high tag numbers: never in what we parse */
    }
    size_t hdr = 2, len = p[1];
    if (len & 0x80) {
        size_t n = len & 0x7f;
        if (n == 0 || n > 4 || r->len < 2 + n) {
            return fail(r);           /* indefinite, absurd, or cut short */
        }
        len = 0;
        for (size_t i = 0; i < n; i++) {
            len = (len << 8) | p[2 + i];
        }
        hdr += n;
    }
    if (len > r->len - hdr) {
        return fail(r);
    }
    t->tag = tag;
    t->p = p + hdr;
    t->len = len;
    t->raw = p;
    t->raw_len = hdr + len;
    r->p += t->raw_len;
    r->len -= t->raw_len;
    return 0;
}

/* see der.h */
int der_expect(struct der_reader *r, uint8_t tag, struct der_tlv *t)
{
    int err = der_get(r, t);
    if (err) {
        return err;
    }
    if (t->tag != tag) {
        return fail(r);
    }
    return 0;
}

/* see der.h */
int der_more(const struct der_reader *r)
{
    return !r->err && r->len > 0;
}

/* see der.h */
int der_peek(const struct der_reader *r)
{
    return der_more(r) ? r->p[0] : -1;
}

/* see der.h */
int der_oid_eq(const struct der_tlv *t, const uint8_t *oid, size_t oid_len)
{
    return t->tag == DER_OID && t->len == oid_len && memcmp(t->p, oid, oid_len) == 0;
}

/* see der.h */
int der_parse_whole(const uint8_t *p, size_t len, struct der_tlv *t)
{
    struct der_reader r;
    der_reader_init(&r, p, len);
    int err = der_get(&r, t);
    if (err) {
        return err;
    }
    return r.len == 0 ? 0 : TLS_EDER;
}

/* ---- writer ---- */

/* see der.h */
void der_writer_init(struct der_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->pos = 0;
    w->err = 0;
}

static void put_bytes(struct der_writer *w, const void *p, size_t len)
{
    if (w->err) {
        return;
    }
    if (len > w->cap - w->pos) {
        w->err = TLS_ENOSPC;
        return;
    }
    if (len) {
        memcpy(w->buf + w->pos, p, len);
    }
    w->pos += len;
}

/* Encode a definite length; returns how many bytes that takes (at most 4 here). */
static size_t encode_len(uint8_t out[4], size_t len)
{
    if (len < 0x80) {
        out[0] = (uint8_t)len;
        return 1;
    }
    if (len <= 0xff) {
        out[0] = 0x81;
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[0] = 0x82;
        out[1] = (uint8_t)(len >> 8);
        out[2] = (uint8_t)len;
        return 3;
    }
    out[0] = 0x83;
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
}

/* see der.h */
size_t der_open(struct der_writer *w, uint8_t tag)
{
    /* Reserve the tag and three length bytes (0x82 + two): room for DER_WRITE_MAX. */
    static const uint8_t reserve[3] = { 0, 0, 0 };
    size_t mark = w->pos;
    put_bytes(w, &tag, 1);
    put_bytes(w, reserve, sizeof reserve);
    return mark;
}

/* see der.h */
void der_close(struct der_writer *w, size_t mark)
{
    if (w->err) {
        return;
    }
    size_t start = mark + 4;
    size_t content = w->pos - start;
    if (content > DER_WRITE_MAX) {
        w->err = TLS_EINVAL;
        return;
    }
    uint8_t len[4];
    size_t n = encode_len(len, content);
    memmove(w->buf + mark + 1 + n, w->buf + start, content);
    memcpy(w->buf + mark + 1, len, n);
    w->pos = mark + 1 + n + content;
}

/* see der.h */
void der_put(struct der_writer *w, uint8_t tag, const void *content, size_t len)
{
    uint8_t hdr[5];
    hdr[0] = tag;
    size_t n = encode_len(hdr + 1, len);
    put_bytes(w, hdr, 1 + n);
    put_bytes(w, content, len);
}

/* see der.h */
void der_put_raw(struct der_writer *w, const void *p, size_t len)
{
    put_bytes(w, p, len);
}

/* see der.h */
void der_put_small_int(struct der_writer *w, uint32_t v)
{
    uint8_t b[5];
    size_t n = 0;
    /* Big-endian, minimal, with a leading zero when the top bit would read as a sign. */
    for (int shift = 24; shift >= 0; shift -= 8) {
        uint8_t byte = (uint8_t)(v >> shift);
        if (n == 0 && byte == 0 && shift > 0) {
            continue;
        }
        if (n == 0 && (byte & 0x80)) {
            b[n++] = 0;
        }
        b[n++] = byte;
    }
    der_put(w, DER_INTEGER, b, n);
}

/* see der.h */
void der_put_bits(struct der_writer *w, const void *p, size_t len)
{
    uint8_t hdr[5];
    hdr[0] = DER_BIT_STRING;
    size_t n = encode_len(hdr + 1, len + 1);
    hdr[1 + n] = 0;                   /* no unused bits */
    put_bytes(w, hdr, 2 + n);
    put_bytes(w, p, len);
}

/* see der.h */
long der_finish(const struct der_writer *w)
{
    return w->err ? w->err : (long)w->pos;
}
