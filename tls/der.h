/* A small bounded DER reader and writer: just what certificates, keys and requests need.
 *
 * Reader: a window [p, p+len) of input, from which elements are taken one at a time. Only
 * single-byte tags (tag numbers 0..30: every tag X.509 uses) and definite lengths of up to
 * four bytes are accepted; an element that claims more bytes than its window holds is an
 * error, so nothing ever reads past the window. Errors are sticky in the reader: after the
 * first, every call fails with it, and the caller checks once at the end of a structure.
 *
 * Writer: appends into a caller-provided buffer. A constructed element is opened with
 * der_open(), filled, and closed with der_close(), which fixes up the length (moving the
 * content if the length needed fewer bytes than reserved). Overflow is sticky too: the
 * writer stops writing and der_finish() reports TLS_ENOSPC. */
#ifndef GW_DER_H
#define GW_DER_H

#include <stddef.h>
#include <stdint.h>

/* Universal tags, and the constructed/context bits, as they appear in the tag byte. */
#define DER_BOOLEAN 0x01
#define DER_INTEGER 0x02
#define DER_BIT_STRING 0x03
#define DER_OCTET_STRING 0x04
#define DER_NULL 0x05
#define DER_OID 0x06
#define DER_UTF8_STRING 0x0c
#define DER_PRINTABLE_STRING 0x13
#define DER_T61_STRING 0x14
#define DER_IA5_STRING 0x16
#define DER_UTC_TIME 0x17
#define DER_GENERALIZED_TIME 0x18
#define DER_UNIVERSAL_STRING 0x1c
#define DER_BMP_STRING 0x1e
#define DER_SEQUENCE 0x30
#define DER_SET 0x31
#define DER_CONTEXT 0x80        /* context-specific class: DER_CONTEXT | n (primitive) */
#define DER_CONSTRUCTED 0x20    /* DER_CONTEXT | DER_CONSTRUCTED | n: [n] EXPLICIT */

/* Largest content length the writer's der_open() reserves room for (3 length bytes). */
#define DER_WRITE_MAX 0xffff

/* One element: its tag, its content, and the whole encoding (tag, length and content). */
struct der_tlv {
    uint8_t tag;
    const uint8_t *p;     /* content */
    size_t len;
    const uint8_t *raw;   /* the element's first byte (its tag) */
    size_t raw_len;
};

struct der_reader {
    const uint8_t *p;     /* next byte */
    size_t len;           /* bytes left in the window */
    int err;              /* sticky: 0 or TLS_EDER */
};

void der_reader_init(struct der_reader *r, const uint8_t *p, size_t len);
/* A reader over a constructed element's content. */
void der_enter(struct der_reader *sub, const struct der_tlv *t);
/* Take the next element. Returns 0, or TLS_EDER when malformed or when the window is
 * empty (test der_more() first where an element is optional); then *t is empty (len 0),
 * so entering it reads nothing and the caller may check the readers' err at the end. */
int der_get(struct der_reader *r, struct der_tlv *t);
/* Take the next element and require its tag. */
int der_expect(struct der_reader *r, uint8_t tag, struct der_tlv *t);
/* 1 when the window holds another element (and no error happened), else 0. */
int der_more(const struct der_reader *r);
/* The tag of the next element without taking it, or -1 at the end or after an error. */
int der_peek(const struct der_reader *r);
/* 1 when the OID content t->p/t->len equals oid/oid_len (content bytes, no tag/length). */
int der_oid_eq(const struct der_tlv *t, const uint8_t *oid, size_t oid_len);

/* Parse one whole DER element spanning exactly len bytes at p: returns 0 or TLS_EDER. */
int der_parse_whole(const uint8_t *p, size_t len, struct der_tlv *t);

struct der_writer {
    uint8_t *buf;
    size_t cap;
    size_t pos;
    int err;              /* sticky: 0 or TLS_ENOSPC / TLS_EINVAL */
};

void der_writer_init(struct der_writer *w, uint8_t *buf, size_t cap);
/* Open a constructed element; returns a mark to give to der_close(). */
size_t der_open(struct der_writer *w, uint8_t tag);
void der_close(struct der_writer *w, size_t mark);
/* A primitive element with the given content. */
void der_put(struct der_writer *w, uint8_t tag, const void *content, size_t len);
/* Raw bytes (an already encoded element). */
void der_put_raw(struct der_writer *w, const void *p, size_t len);
/* INTEGER from a small non-negative value. */
void der_put_small_int(struct der_writer *w, uint32_t v);
/* BIT STRING with no unused bits. */
void der_put_bits(struct der_writer *w, const void *p, size_t len);
/* Returns the encoded length, or the sticky error (negative). */
long der_finish(const struct der_writer *w);

#endif
