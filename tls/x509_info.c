/* see x509_info.h */
#include <stdio.h>
#include <string.h>

#include "bearssl.h"
#include "certtime.h"
#include "hex.h"
#include "tls_err.h"
#include "x509_info.h"

static const uint8_t OID_SAN[] = { 0x55, 0x1d, 0x11 };           /* 2.5.29.17 */
static const uint8_t OID_CN[] = { 0x55, 0x04, 0x03 };            /* 2.5.4.3 */

/* ---- bounded text output ---- */

/* Appends to a fixed buffer; once full, the text ends in "..." and stays NUL-terminated. */
struct text {
    char *p;
    size_t cap, len;
    int cut;
};

static void text_init(struct text *t, char *p, size_t cap)
{
    t->p = p;
    t->cap = cap;
    t->len = 0;
    t->cut = 0;
    if (cap) {
        p[0] = 0;
    }
}

static void text_putc(struct text *t, char c)
{
    if (t->cut || t->cap < 5) {
        t->cut = 1;
        return;
    }
    if (t->len + 1 > t->cap - 4) {           /* keep room for "..." and the NUL */
        memcpy(t->p + t->len, "...", 4);
        t->len += 3;
        t->cut = 1;
        return;
    }
    t->p[t->len++] = c;
    t->p[t->len] = 0;
}

static void text_puts(struct text *t, const char *s)
{
    while (*s) {
        text_putc(t, *s++);
    }
}

static void text_hex(struct text *t, uint8_t b)
{
    static const char hex[] = "0123456789ABCDEF";
    text_putc(t, hex[b >> 4]);
    text_putc(t, hex[b & 15]);
}

/* ---- the certificate's outline ---- */

/* see x509_info.h */
int x509_split(const uint8_t *der, size_t len, struct x509_parts *x)
{
    struct der_tlv cert, t, sigalg, validity, nb, na, sig;
    struct der_reader r, tbs, v;
    memset(x, 0, sizeof *x);

    if (der_parse_whole(der, len, &cert) || cert.tag != DER_SEQUENCE) {
        return TLS_EDER;
    }
    der_enter(&r, &cert);
    der_expect(&r, DER_SEQUENCE, &x->tbs);
    der_expect(&r, DER_SEQUENCE, &sigalg);
    der_expect(&r, DER_BIT_STRING, &sig);
    if (r.err || der_more(&r)) {
        return TLS_EDER;
    }

    der_enter(&tbs, &x->tbs);
    if (der_peek(&tbs) == (DER_CONTEXT | DER_CONSTRUCTED | 0)) {
        der_get(&tbs, &t);                   /* [0] version */
    }
    der_expect(&tbs, DER_INTEGER, &t);       /* serial */
    der_expect(&tbs, DER_SEQUENCE, &t);      /* signature algorithm */
    der_expect(&tbs, DER_SEQUENCE, &x->issuer);
    der_expect(&tbs, DER_SEQUENCE, &validity);
    der_expect(&tbs, DER_SEQUENCE, &x->subject);
    der_expect(&tbs, DER_SEQUENCE, &x->spki);
    while (der_more(&tbs)) {                 /* [1], [2] unique IDs; [3] extensions */
        der_get(&tbs, &t);
        if (t.tag == (DER_CONTEXT | DER_CONSTRUCTED | 3)) {
            struct der_reader e;
            der_enter(&e, &t);
            if (der_expect(&e, DER_SEQUENCE, &x->exts) || der_more(&e)) {
                return TLS_EDER;
            }
        }
    }
    if (tbs.err) {
        return TLS_EDER;
    }

    der_enter(&v, &validity);
    if (der_get(&v, &nb) || der_get(&v, &na) || der_more(&v)
        || certtime_parse(&nb, &x->not_before) || certtime_parse(&na, &x->not_after)) {
        return TLS_EDER;
    }
    return 0;
}

/* see x509_info.h */
int x509_find_ext(const struct x509_parts *x, const uint8_t *oid, size_t oid_len,
                  struct der_tlv *value, int *critical)
{
    struct der_reader r;
    der_enter(&r, &x->exts);
    while (der_more(&r)) {
        struct der_tlv ext, id, t;
        struct der_reader e;
        if (der_expect(&r, DER_SEQUENCE, &ext)) {
            break;
        }
        der_enter(&e, &ext);
        der_expect(&e, DER_OID, &id);
        int crit = 0;
        if (der_peek(&e) == DER_BOOLEAN) {
            der_get(&e, &t);
            crit = t.len == 1 && t.p[0] != 0;
        }
        der_expect(&e, DER_OCTET_STRING, &t);
        if (e.err || der_more(&e)) {
            return TLS_EDER;
        }
        if (der_oid_eq(&id, oid, oid_len)) {
            *value = t;
            if (critical) {
                *critical = crit;
            }
            return 1;
        }
    }
    return r.err ? TLS_EDER : 0;
}

/* see x509_info.h */
int x509_eku_allows(const struct x509_parts *x, enum x509_purpose purpose)
{
    unsigned bits, want = purpose == X509_PURPOSE_SERVER ? X509_EKU_SERVER_AUTH
                                                         : X509_EKU_CLIENT_AUTH;
    int r = x509_eku(x, &bits);
    if (r <= 0) {
        return r < 0 ? r : 1;                /* no extension: no restriction */
    }
    return (bits & (want | X509_EKU_ANY)) != 0;
}

/* see x509_info.h */
int x509_san_foreach(const struct x509_parts *x, x509_san_fn fn, void *arg)
{
    struct der_tlv value, names, gn;
    struct der_reader r, n;
    int found = x509_find_ext(x, OID_SAN, sizeof OID_SAN, &value, NULL);
    if (found <= 0) {
        return found;
    }
    der_enter(&r, &value);
    if (der_expect(&r, DER_SEQUENCE, &names) || der_more(&r)) {
        return TLS_EDER;
    }
    der_enter(&n, &names);
    while (der_more(&n)) {
        if (der_get(&n, &gn)) {
            break;
        }
        if (gn.tag == (DER_CONTEXT | X509_SAN_DNS) || gn.tag == (DER_CONTEXT | X509_SAN_IP)) {
            if (fn(arg, gn.tag & 0x1f, gn.p, gn.len)) {
                break;
            }
        }
    }
    return n.err ? TLS_EDER : 1;
}

/* ---- extended key usage ---- */

static const uint8_t OID_EKU[] = { 0x55, 0x1d, 0x25 };           /* 2.5.29.37 */

/* see x509_info.h */
int x509_eku(const struct x509_parts *x, unsigned *bits)
{
    /* id-kp-* are 1.3.6.1.5.5.7.3.N: these 7 bytes, then N. */
    static const uint8_t kp[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03 };
    static const uint8_t any[] = { 0x55, 0x1d, 0x25, 0x00 };     /* 2.5.29.37.0 */
    struct der_tlv value, seq, oid;
    struct der_reader r, q;
    *bits = 0;
    int found = x509_find_ext(x, OID_EKU, sizeof OID_EKU, &value, NULL);
    if (found <= 0) {
        return found;
    }
    der_enter(&r, &value);
    if (der_expect(&r, DER_SEQUENCE, &seq) || der_more(&r)) {
        return TLS_EDER;
    }
    der_enter(&q, &seq);
    if (!der_more(&q)) {
        return TLS_EDER;                     /* KeyPurposeId: SIZE (1..MAX) */
    }
    while (der_more(&q)) {
        if (der_expect(&q, DER_OID, &oid)) {
            break;
        }
        if (oid.len == sizeof kp + 1 && memcmp(oid.p, kp, sizeof kp) == 0 && oid.p[7] >= 1
            && oid.p[7] <= 9) {
            *bits |= 1u << (oid.p[7] - 1);
        } else if (der_oid_eq(&oid, any, sizeof any)) {
            *bits |= X509_EKU_ANY;
        } else {
            *bits |= X509_EKU_OTHER;
        }
    }
    return q.err ? TLS_EDER : 1;
}

/* ---- names as text ---- */

struct attr_name {
    uint8_t len;
    uint8_t oid[10];
    const char *name;
};

static const struct attr_name attr_names[] = {
    { 3, { 0x55, 0x04, 0x03 }, "CN" },
    { 3, { 0x55, 0x04, 0x06 }, "C" },
    { 3, { 0x55, 0x04, 0x07 }, "L" },
    { 3, { 0x55, 0x04, 0x08 }, "ST" },
    { 3, { 0x55, 0x04, 0x09 }, "STREET" },
    { 3, { 0x55, 0x04, 0x0a }, "O" },
    { 3, { 0x55, 0x04, 0x0b }, "OU" },
    { 3, { 0x55, 0x04, 0x05 }, "serialNumber" },
    { 3, { 0x55, 0x04, 0x04 }, "SN" },
    { 3, { 0x55, 0x04, 0x2a }, "GN" },
    { 3, { 0x55, 0x04, 0x0c }, "title" },
    { 10, { 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19 }, "DC" },
    { 10, { 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01 }, "UID" },
    { 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01 }, "emailAddress" },
};

/* An OID as dotted numbers; arcs larger than 32 bits print as "?". */
static void put_oid(struct text *t, const uint8_t *p, size_t len)
{
    uint32_t arc = 0;
    int first = 1, overflow = 0;
    char num[12];
    for (size_t i = 0; i < len; i++) {
        overflow |= arc > (UINT32_MAX >> 7);
        arc = (arc << 7) | (p[i] & 0x7f);
        if (p[i] & 0x80) {
            continue;
        }
        if (first) {
            uint32_t top = arc < 40 ? 0 : arc < 80 ? 1 : 2;
            snprintf(num, sizeof num, "%u.", (unsigned)top);
            text_puts(t, num);
            arc -= top * 40;
            first = 0;
        } else {
            text_putc(t, '.');
        }
        if (overflow) {
            text_putc(t, '?');
        } else {
            snprintf(num, sizeof num, "%u", (unsigned)arc);
            text_puts(t, num);
        }
        arc = 0;
        overflow = 0;
    }
}

static void put_char_escaped(struct text *t, uint32_t c)
{
    if (c < 0x20 || c >= 0x7f) {
        text_putc(t, '\\');
        text_hex(t, (uint8_t)(c > 0xff ? '?' : c));
        return;
    }
    if (strchr(",+\"\\<>;", (int)c)) {
        text_putc(t, '\\');
    }
    text_putc(t, (char)c);
}

static void put_value(struct text *t, const struct der_tlv *v)
{
    switch (v->tag) {
    case DER_UTF8_STRING:
    case DER_PRINTABLE_STRING:
    case DER_T61_STRING:
    case DER_IA5_STRING:
    case 0x1a:                                 /* VisibleString */
        for (size_t i = 0; i < v->len; i++) {
            put_char_escaped(t, v->p[i]);
        }
        return;
    case DER_BMP_STRING:                       /* UCS-2, big-endian */
        for (size_t i = 0; i + 1 < v->len; i += 2) {
            uint32_t c = (uint32_t)v->p[i] << 8 | v->p[i + 1];
            put_char_escaped(t, c < 0x80 ? c : '?');
        }
        return;
    default:                                   /* RFC 4514: #hex of the whole element */
        text_putc(t, '#');
        for (size_t i = 0; i < v->raw_len; i++) {
            text_hex(t, v->raw[i]);
        }
        return;
    }
}

static void put_atv(struct text *t, const struct der_tlv *atv)
{
    struct der_reader r;
    struct der_tlv oid, value;
    der_enter(&r, atv);
    if (der_expect(&r, DER_OID, &oid) || der_get(&r, &value)) {
        text_putc(t, '?');
        return;
    }
    const char *name = NULL;
    for (size_t i = 0; i < sizeof attr_names / sizeof attr_names[0]; i++) {
        if (der_oid_eq(&oid, attr_names[i].oid, attr_names[i].len)) {
            name = attr_names[i].name;
        }
    }
    if (name) {
        text_puts(t, name);
    } else {
        put_oid(t, oid.p, oid.len);
    }
    text_putc(t, '=');
    put_value(t, &value);
}

/* see x509_info.h */
char *x509_dn_text(const uint8_t *dn, size_t len, char *out, size_t cap)
{
    struct text t;
    struct der_tlv name, rdns[X509_DN_RDN_MAX];
    struct der_reader r;
    size_t n = 0;
    int more = 0;
    text_init(&t, out, cap);
    if (der_parse_whole(dn, len, &name) || name.tag != DER_SEQUENCE) {
        text_puts(&t, "(malformed name)");
        return out;
    }
    der_enter(&r, &name);
    while (der_more(&r)) {
        struct der_tlv rdn;
        if (der_expect(&r, DER_SET, &rdn)) {
            break;
        }
        if (n == X509_DN_RDN_MAX) {
            more = 1;
            break;
        }
        rdns[n++] = rdn;
    }
    if (r.err) {
        text_puts(&t, "(malformed name)");
        return out;
    }
    if (n == 0) {
        text_puts(&t, "(empty name)");
    }
    for (size_t i = n; i-- > 0;) {           /* most specific first */
        struct der_reader s;
        struct der_tlv atv;
        int first = 1;
        der_enter(&s, &rdns[i]);
        while (der_more(&s) && der_expect(&s, DER_SEQUENCE, &atv) == 0) {
            if (!first) {
                text_putc(&t, '+');
            }
            put_atv(&t, &atv);
            first = 0;
        }
        if (i > 0) {
            text_puts(&t, ", ");
        }
    }
    if (more) {
        text_puts(&t, ", ...");
    }
    return out;
}

/* see x509_info.h */
int x509_subject_cn(const struct x509_parts *x, const uint8_t **cn, size_t *cn_len)
{
    struct der_reader r, s, a;
    struct der_tlv rdn, atv, oid, value;
    int found = 0;
    der_enter(&r, &x->subject);
    while (der_more(&r) && der_expect(&r, DER_SET, &rdn) == 0) {
        der_enter(&s, &rdn);
        while (der_more(&s) && der_expect(&s, DER_SEQUENCE, &atv) == 0) {
            der_enter(&a, &atv);
            if (der_expect(&a, DER_OID, &oid) || der_get(&a, &value)) {
                return TLS_EDER;
            }
            if (der_oid_eq(&oid, OID_CN, sizeof OID_CN)) {
                *cn = value.p;               /* the last one wins: the most specific */
                *cn_len = value.len;
                found = 1;
            }
        }
        if (s.err) {
            return TLS_EDER;
        }
    }
    return r.err ? TLS_EDER : found;
}

/* see x509_info.h */
char *x509_ip_text(const uint8_t *addr, size_t len, char *out, size_t cap)
{
    if (len == 4) {
        snprintf(out, cap, "%u.%u.%u.%u", addr[0], addr[1], addr[2], addr[3]);
        return out;
    }
    if (len != 16) {
        snprintf(out, cap, "(bad address)");
        return out;
    }
    /* RFC 5952: the longest run of two or more zero groups becomes "::". */
    uint16_t g[8];
    int best = -1, best_len = 0;
    for (int i = 0; i < 8; i++) {
        g[i] = (uint16_t)(addr[2 * i] << 8 | addr[2 * i + 1]);
    }
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && g[j] == 0) {
            j++;
        }
        if (j - i > best_len && j - i >= 2) {
            best = i;
            best_len = j - i;
        }
        i = j > i ? j : i + 1;
    }
    struct text t;
    char num[8];
    text_init(&t, out, cap);
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            text_puts(&t, "::");
            i += best_len - 1;
            continue;
        }
        if (i > 0 && i != best + best_len) {
            text_putc(&t, ':');
        }
        snprintf(num, sizeof num, "%x", g[i]);
        text_puts(&t, num);
    }
    return out;
}

/* ---- the summary ---- */

static int collect_san(void *arg, int type, const uint8_t *p, size_t len)
{
    struct x509_info *xi = arg;
    if (type == X509_SAN_DNS) {
        if (xi->san_dns_count < X509_SAN_MAX) {
            char *d = xi->san_dns[xi->san_dns_count];
            size_t n = len < X509_NAME_MAX ? len : X509_NAME_MAX;
            for (size_t i = 0; i < n; i++) {
                d[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
            }
            d[n] = 0;
        }
        xi->san_dns_count++;
    } else if (len == 4 || len == 16) {
        if (xi->san_ip_count < X509_SAN_MAX) {
            xi->san_ip[xi->san_ip_count].len = (uint8_t)len;
            memcpy(xi->san_ip[xi->san_ip_count].addr, p, len);
        }
        xi->san_ip_count++;
    }
    return 0;
}

static void describe_key(struct x509_info *xi, const br_x509_pkey *pk)
{
    xi->key_type = pk->key_type;
    if (pk->key_type == BR_KEYTYPE_RSA) {
        const uint8_t *n = pk->key.rsa.n;
        size_t len = pk->key.rsa.nlen;
        while (len > 0 && *n == 0) {
            n++;
            len--;
        }
        unsigned bits = (unsigned)len * 8;
        for (uint8_t top = len ? n[0] : 0x80; !(top & 0x80); top <<= 1) {
            bits--;
        }
        xi->key_bits = bits;
        snprintf(xi->key_text, sizeof xi->key_text, "RSA-%u", bits);
        return;
    }
    xi->curve = pk->key.ec.curve;
    switch (xi->curve) {
    case BR_EC_secp256r1:
        xi->key_bits = 256;
        snprintf(xi->key_text, sizeof xi->key_text, "EC P-256");
        break;
    case BR_EC_secp384r1:
        xi->key_bits = 384;
        snprintf(xi->key_text, sizeof xi->key_text, "EC P-384");
        break;
    case BR_EC_secp521r1:
        xi->key_bits = 521;
        snprintf(xi->key_text, sizeof xi->key_text, "EC P-521");
        break;
    default:
        snprintf(xi->key_text, sizeof xi->key_text, "EC curve %d", xi->curve);
        break;
    }
}

/* see x509_info.h */
int x509_info_parse(struct x509_info *xi, const uint8_t *der, size_t len)
{
    struct x509_parts x;
    br_x509_decoder_context dc;
    br_sha256_context sha;
    memset(xi, 0, sizeof *xi);

    int err = x509_split(der, len, &x);
    if (err) {
        return err;
    }
    x509_dn_text(x.subject.raw, x.subject.raw_len, xi->subject, sizeof xi->subject);
    x509_dn_text(x.issuer.raw, x.issuer.raw_len, xi->issuer, sizeof xi->issuer);
    xi->self_issued = x.subject.raw_len == x.issuer.raw_len
        && memcmp(x.subject.raw, x.issuer.raw, x.issuer.raw_len) == 0;
    xi->not_before = x.not_before;
    xi->not_after = x.not_after;
    certtime_date(x.not_before, xi->not_before_date);
    certtime_date(x.not_after, xi->not_after_date);

    br_sha256_init(&sha);
    br_sha256_update(&sha, der, len);
    br_sha256_out(&sha, xi->sha256);
    hex_encode(xi->fingerprint, xi->sha256, sizeof xi->sha256);

    err = x509_san_foreach(&x, collect_san, xi);
    if (err < 0) {
        return err;
    }
    xi->has_san = err;

    br_x509_decoder_init(&dc, NULL, NULL);
    br_x509_decoder_push(&dc, der, len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    if (pk == NULL) {
        xi->br_err = br_x509_decoder_last_error(&dc);
        return xi->br_err == BR_ERR_X509_UNSUPPORTED ? TLS_EKEYTYPE : TLS_ECERT;
    }
    xi->is_ca = br_x509_decoder_isCA(&dc);
    describe_key(xi, pk);
    return 0;
}
