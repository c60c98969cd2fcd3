/* see trust.h */
#include <string.h>

#include "tls_err.h"
#include "trust.h"

/* see trust.h */
void trust_init(struct trust_store *ts, br_x509_trust_anchor *ta, size_t max,
                uint8_t *arena, size_t cap)
{
    ts->ta = ta;
    ts->max = max;
    ts->count = 0;
    ts->section = 0;
    ts->arena = arena;
    ts->cap = cap;
    ts->used = 0;
}

/* see trust.h */
void trust_clear(struct trust_store *ts)
{
    ts->count = 0;
    ts->section = 0;
    ts->used = 0;
}

/* see trust.h */
void trust_section(struct trust_store *ts)
{
    ts->section = ts->count;
}

/* The subject DN arrives from BearSSL's decoder in pieces; it goes straight to the arena. */
struct dn_sink {
    struct trust_store *ts;
    size_t start, len;
    int overflow;
};

static void dn_append(void *arg, const void *p, size_t len)
{
    struct dn_sink *s = arg;
    if (s->overflow || s->len + len > TRUST_DN_MAX
        || len > s->ts->cap - s->ts->used - s->len) {
        s->overflow = 1;
        return;
    }
    memcpy(s->ts->arena + s->start + s->len, p, len);
    s->len += len;
}

static uint8_t *arena_take(struct trust_store *ts, const void *p, size_t len)
{
    if (len > ts->cap - ts->used) {
        return NULL;
    }
    uint8_t *dst = ts->arena + ts->used;
    memcpy(dst, p, len);
    ts->used += len;
    return dst;
}

static int same_key(const br_x509_pkey *a, const br_x509_pkey *b)
{
    if (a->key_type != b->key_type) {
        return 0;
    }
    if (a->key_type == BR_KEYTYPE_RSA) {
        return a->key.rsa.nlen == b->key.rsa.nlen && a->key.rsa.elen == b->key.rsa.elen
            && memcmp(a->key.rsa.n, b->key.rsa.n, a->key.rsa.nlen) == 0
            && memcmp(a->key.rsa.e, b->key.rsa.e, a->key.rsa.elen) == 0;
    }
    return a->key.ec.curve == b->key.ec.curve && a->key.ec.qlen == b->key.ec.qlen
        && memcmp(a->key.ec.q, b->key.ec.q, a->key.ec.qlen) == 0;
}

/* see trust.h */
int trust_add_der(struct trust_store *ts, const uint8_t *der, size_t len)
{
    br_x509_decoder_context dc;
    struct dn_sink dn = { .ts = ts, .start = ts->used };
    br_x509_decoder_init(&dc, dn_append, &dn);
    br_x509_decoder_push(&dc, der, len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    if (pk == NULL) {
        return br_x509_decoder_last_error(&dc) == BR_ERR_X509_UNSUPPORTED ? TLS_EKEYTYPE
                                                                         : TLS_ECERT;
    }
    if (dn.overflow || ts->count == ts->max) {
        return TLS_ETRUST_FULL;
    }
    unsigned flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
    for (size_t i = ts->section; i < ts->count; i++) {
        const br_x509_trust_anchor *t = &ts->ta[i];
        if (t->dn.len == dn.len && memcmp(t->dn.data, ts->arena + dn.start, dn.len) == 0
            && t->flags == flags && same_key(&t->pkey, pk)) {
            return (int)i;                       /* already there: the DN bytes are dropped */
        }
    }

    size_t mark = ts->used;
    br_x509_trust_anchor *ta = &ts->ta[ts->count];
    ts->used += dn.len;                          /* the DN is already in place */
    ta->dn.data = ts->arena + dn.start;
    ta->dn.len = dn.len;
    ta->flags = flags;
    ta->pkey.key_type = pk->key_type;
    if (pk->key_type == BR_KEYTYPE_RSA) {
        ta->pkey.key.rsa.n = arena_take(ts, pk->key.rsa.n, pk->key.rsa.nlen);
        ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
        ta->pkey.key.rsa.e = arena_take(ts, pk->key.rsa.e, pk->key.rsa.elen);
        ta->pkey.key.rsa.elen = pk->key.rsa.elen;
        if (!ta->pkey.key.rsa.n || !ta->pkey.key.rsa.e) {
            ts->used = mark;
            return TLS_ETRUST_FULL;
        }
    } else {
        ta->pkey.key.ec.curve = pk->key.ec.curve;
        ta->pkey.key.ec.q = arena_take(ts, pk->key.ec.q, pk->key.ec.qlen);
        ta->pkey.key.ec.qlen = pk->key.ec.qlen;
        if (!ta->pkey.key.ec.q) {
            ts->used = mark;
            return TLS_ETRUST_FULL;
        }
    }
    return (int)ts->count++;
}
