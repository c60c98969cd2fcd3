/* see pem.h */
#include <stdio.h>
#include <string.h>

#include "der.h"
#include "pem.h"
#include "tls_err.h"

/* BearSSL hands decoded bytes here, 255 at a time: copy them into the caller's buffer. */
static void sink(void *arg, const void *src, size_t len)
{
    struct pem_decoder *d = arg;
    if (d->err) {
        return;
    }
    size_t cur = d->used - (size_t)(d->certs[d->count].der - d->out);
    if (cur + len > PEM_CERT_MAX) {
        d->err = TLS_EPEM_TOOBIG;
        return;
    }
    if (len > d->cap - d->used) {
        d->err = TLS_ENOSPC;
        return;
    }
    memcpy(d->out + d->used, src, len);
    d->used += len;
}

/* see pem.h */
void pem_init(struct pem_decoder *d, uint8_t *out, size_t cap,
              struct pem_cert *certs, size_t max_certs)
{
    memset(d, 0, sizeof *d);
    br_pem_decoder_init(&d->br);
    d->out = out;
    d->cap = cap;
    d->certs = certs;
    d->max_certs = max_certs;
    d->state = PEM_OUTSIDE;
    d->line = 1;
    d->at_line_start = 1;
}

static int is_cert_name(const char *name)
{
    /* "X509 CERTIFICATE" is the pre-RFC 7468 spelling some tools still write. */
    return strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0;
}

static void begin_block(struct pem_decoder *d)
{
    const char *name = br_pem_decoder_name(&d->br);   /* BearSSL upper-cases it */
    d->block++;
    d->block_line = d->line;
    /* Kept for messages: printable ASCII only, whatever the paste held; and without the
     * trailing blanks and dashes BearSSL leaves when the BEGIN line ends in a space. */
    size_t i = 0;
    for (; name[i] && i < sizeof d->name - 1; i++) {
        d->name[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
    }
    while (i > 0 && (d->name[i - 1] == ' ' || d->name[i - 1] == '-')) {
        i--;
    }
    d->name[i] = 0;
    name = d->name;
    if (strstr(name, "PRIVATE KEY")) {
        d->err = TLS_EPEM_PRIVKEY;
        return;
    }
    if (!is_cert_name(name)) {
        d->err = TLS_EPEM_TYPE;
        return;
    }
    if (d->count == d->max_certs) {
        d->err = TLS_EPEM_TOOMANY;
        return;
    }
    d->certs[d->count].der = d->out + d->used;
    d->certs[d->count].len = 0;
    br_pem_decoder_setdest(&d->br, sink, d);
    d->state = PEM_IN_CERT;
}

static void end_block(struct pem_decoder *d)
{
    struct pem_cert *c = &d->certs[d->count];
    struct der_tlv t;
    br_pem_decoder_setdest(&d->br, NULL, NULL);
    d->state = PEM_OUTSIDE;
    if (d->err) {
        return;                      /* the sink refused the bytes */
    }
    c->len = (size_t)(d->out + d->used - c->der);
    if (c->len == 0 || der_parse_whole(c->der, c->len, &t) || t.tag != DER_SEQUENCE) {
        d->err = TLS_EPEM_NOTDER;
        return;
    }
    d->count++;
}

static void on_error(struct pem_decoder *d)
{
    /* BearSSL reports a BEGIN line met inside a block as bad Base64; it is a missing END. */
    static const char begin[] = "-----BEGIN ";
    if (d->state == PEM_IN_CERT && d->head_len >= sizeof begin - 1
        && memcmp(d->head, begin, sizeof begin - 1) == 0) {
        d->err = TLS_EPEM_TRUNC;
    } else {
        d->err = TLS_EPEM_BASE64;
    }
}

/* Push one piece of one line (indentation already skipped) through BearSSL. */
static void feed(struct pem_decoder *d, const uint8_t *p, size_t len)
{
    while (len > 0 && !d->err) {
        size_t n = br_pem_decoder_push(&d->br, p, len);
        p += n;
        len -= n;
        switch (br_pem_decoder_event(&d->br)) {
        case BR_PEM_BEGIN_OBJ:
            begin_block(d);
            break;
        case BR_PEM_END_OBJ:
            if (d->state == PEM_IN_CERT) {
                end_block(d);
            }
            break;
        case BR_PEM_ERROR:
            on_error(d);
            break;
        default:
            break;
        }
    }
}

/* see pem.h */
int pem_push(struct pem_decoder *d, const uint8_t *p, size_t len)
{
    while (len > 0 && !d->err) {
        if (d->at_line_start && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
            continue;
        }
        if (d->at_line_start) {
            d->at_line_start = 0;
            d->head_len = 0;
        }
        const uint8_t *nl = memchr(p, '\n', len);
        size_t n = nl ? (size_t)(nl - p) + 1 : len;
        for (size_t i = 0; i < n && d->head_len < sizeof d->head; i++) {
            d->head[d->head_len++] = p[i];
        }
        /* CRs never reach BearSSL: in a BEGIN line they end up inside the block name. */
        for (size_t i = 0, j; i < n; i = j + 1) {
            for (j = i; j < n && p[j] != '\r'; j++) {
            }
            feed(d, p + i, j - i);
        }
        p += n;
        len -= n;
        if (nl && !d->err) {
            d->line++;
            d->at_line_start = 1;
        }
    }
    return d->err;
}

/* see pem.h */
int pem_finish(struct pem_decoder *d)
{
    if (!d->err) {
        /* BearSSL acts on a line only at its newline: end the last one for it. */
        int was_in_cert = d->state == PEM_IN_CERT;
        static const uint8_t nl = '\n';
        feed(d, &nl, 1);
        if (!d->err && d->state == PEM_IN_CERT) {
            d->err = TLS_EPEM_TRUNC;
        } else if (d->err == TLS_EPEM_BASE64 && was_in_cert) {
            d->err = TLS_EPEM_TRUNC;   /* the text stopped in the middle of a line */
        }
    }
    if (!d->err && d->count == 0) {
        d->err = TLS_EPEM_NONE;
    }
    /* The decoder's staging buffer may hold the tail of whatever it decoded last. */
    memset(&d->br, 0, sizeof d->br);
    __asm__ __volatile__("" : : "r"(&d->br) : "memory");
    return d->err ? d->err : (int)d->count;
}

/* see pem.h */
int pem_decode_certs(struct pem_decoder *d, const uint8_t *p, size_t len,
                     uint8_t *out, size_t cap, struct pem_cert *certs, size_t max_certs)
{
    pem_init(d, out, cap, certs, max_certs);
    pem_push(d, p, len);
    return pem_finish(d);
}

/* see pem.h */
char *pem_describe(const struct pem_decoder *d, char *buf, size_t len)
{
    unsigned b = d->block, l = d->block_line;
    switch (d->err) {
    case 0:
        snprintf(buf, len, "%zu certificate%s", d->count, d->count == 1 ? "" : "s");
        break;
    case TLS_EPEM_NONE:
        snprintf(buf, len, "no \"-----BEGIN CERTIFICATE-----\" block found");
        break;
    case TLS_EPEM_PRIVKEY:
        snprintf(buf, len, "block %u (line %u) is a private key (%s): paste certificates only",
                 b, l, d->name);
        break;
    case TLS_EPEM_TYPE:
        snprintf(buf, len, "block %u (line %u) is a \"%s\", not a certificate", b, l, d->name);
        break;
    case TLS_EPEM_BASE64:
        snprintf(buf, len, "block %u (line %u): bad Base64 at line %u", b, l, d->line);
        break;
    case TLS_EPEM_TRUNC:
        snprintf(buf, len, "block %u (line %u) has no END line: the paste is cut short", b, l);
        break;
    case TLS_EPEM_TOOBIG:
        snprintf(buf, len, "block %u (line %u): certificate larger than %u bytes", b, l,
                 (unsigned)PEM_CERT_MAX);
        break;
    case TLS_EPEM_TOOMANY:
        snprintf(buf, len, "block %u (line %u): more than %zu certificates", b, l,
                 d->max_certs);
        break;
    case TLS_ENOSPC:
        snprintf(buf, len, "block %u (line %u): no room left for it (%zu bytes in all)", b, l,
                 d->cap);
        break;
    case TLS_EPEM_NOTDER:
        snprintf(buf, len, "block %u (line %u) does not hold a DER certificate", b, l);
        break;
    default:
        snprintf(buf, len, "%s", tls_strerror(d->err));
        break;
    }
    return buf;
}
