/* see verify.h */
#include <stdio.h>
#include <string.h>

#include "certtime.h"
#include "hostname.h"
#include "verify.h"

/* The engine hands us &v->vtable; the vtable is the first member. */
static struct tls_verify *ctx_of(const br_x509_class **ctx)
{
    return (struct tls_verify *)(void *)ctx;
}

static const br_x509_class **mini_of(struct tls_verify *v)
{
    return &v->mini.vtable;
}

/* BearSSL 0.6 keeps its sticky error in the context and offers no accessor; it is the only
 * way to learn which certificate of the chain failed (the Debian source is pinned). */
static int mini_err(const struct tls_verify *v)
{
    return v->mini.err;
}

static void facts_from(struct tls_cert_facts *f, const struct x509_info *xi, unsigned index,
                       size_t der_len, int known)
{
    memset(f, 0, sizeof *f);
    f->index = index;
    f->der_len = der_len;
    f->known = known;
    if (!known) {
        return;
    }
    memcpy(f->subject, xi->subject, sizeof f->subject);
    memcpy(f->issuer, xi->issuer, sizeof f->issuer);
    f->not_before = xi->not_before;
    f->not_after = xi->not_after;
    f->self_issued = xi->self_issued;
    f->is_ca = xi->is_ca;
    memcpy(f->key_text, xi->key_text, sizeof f->key_text);
}

static void v_start_chain(const br_x509_class **ctx, const char *server_name)
{
    struct tls_verify *v = ctx_of(ctx);
    (void)server_name;          /* SNI; the name we check is v->host, matched by us */
    v->mini.vtable->start_chain(mini_of(v), NULL);
    v->ncerts = 0;
    v->err = 0;
    v->anchored_at = -1;
    v->name_ok = -1;
    v->eku_ok = 0;
    v->leaf_too_big = 0;
    v->have[0] = 0;
    memset(&v->cur, 0, sizeof v->cur);
    memset(&v->prev, 0, sizeof v->prev);
    memset(&v->failed, 0, sizeof v->failed);
    memset(&v->failed_prev, 0, sizeof v->failed_prev);
    if (v->chain) {
        v->chain->count = 0;
    }
}

static void v_start_cert(const br_x509_class **ctx, uint32_t length)
{
    struct tls_verify *v = ctx_of(ctx);
    v->err_before = mini_err(v);
    v->mini.vtable->start_cert(mini_of(v), length);
    v->cert_len = 0;
    v->cert_total = length;
}

static void v_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
    struct tls_verify *v = ctx_of(ctx);
    v->mini.vtable->append(mini_of(v), buf, len);
    if (v->cert_total <= VERIFY_CERT_MAX && len <= VERIFY_CERT_MAX - v->cert_len) {
        memcpy(v->cert + v->cert_len, buf, len);
        v->cert_len += len;
    }
}

static void check_leaf_name(struct tls_verify *v, int known)
{
    struct x509_parts x;
    if (!known || x509_split(v->cert, v->cert_len, &x) != 0) {
        v->leaf_too_big = v->cert_total > VERIFY_CERT_MAX ? v->cert_total : 0;
        v->name_ok = -1;
        return;
    }
    int r = host_check_cert(&x, v->host, v->have, sizeof v->have);
    if (r < 0) {
        snprintf(v->have, sizeof v->have, "malformed names");
    }
    v->name_ok = r < 0 ? 0 : r;
    /* a certificate issued for clients only (a gateway's, say) never vouches for a server */
    v->eku_ok = x509_eku_allows(&x, X509_PURPOSE_SERVER) == 1;
}

static void v_end_cert(const br_x509_class **ctx)
{
    struct tls_verify *v = ctx_of(ctx);
    int before = v->err_before;
    v->mini.vtable->end_cert(mini_of(v));

    int known = v->cert_total <= VERIFY_CERT_MAX && v->cert_len == v->cert_total
        && x509_info_parse(&v->xi, v->cert, v->cert_len) == 0;
    v->prev = v->cur;
    facts_from(&v->cur, &v->xi, v->ncerts, v->cert_total, known);
    if (v->ncerts == 0) {
        check_leaf_name(v, known);
    }
    if (v->chain && v->ncerts < TLS_CHAIN_MAX) {
        v->chain->cert[v->ncerts] = v->cur;
    }
    if (v->chain) {
        v->chain->count++;
    }
    /* The error BearSSL raised while reading this certificate: it concerns this one (dates,
     * CA flag, DN linkage to the previous one) or, for a signature, the previous one. */
    int after = mini_err(v);
    if (before == 0 && after == BR_ERR_X509_OK) {
        v->anchored_at = (int)v->ncerts;
        v->anchored = v->cur;
    } else if (before == 0 && after != 0) {
        v->failed = v->cur;
        v->failed_prev = v->prev;
    }
    v->ncerts++;
}

static unsigned v_end_chain(const br_x509_class **ctx)
{
    struct tls_verify *v = ctx_of(ctx);
    unsigned r = v->mini.vtable->end_chain(mini_of(v));
    if (v->now < VERIFY_TIME_MIN) {
        v->err = BR_ERR_X509_TIME_UNKNOWN;       /* fail closed, whatever the dates */
    } else if (r == BR_ERR_X509_NOT_TRUSTED) {
        v->err = (int)r;
        v->failed = v->cur;                      /* the last certificate sent */
        v->failed_prev = v->prev;
    } else if (r != 0) {
        v->err = (int)r;
    } else if (v->leaf_too_big) {
        v->err = BR_ERR_X509_LIMIT_EXCEEDED;
    } else if (v->name_ok != 1) {
        v->err = BR_ERR_X509_BAD_SERVER_NAME;
    } else if (!v->eku_ok) {
        v->err = BR_ERR_X509_FORBIDDEN_KEY_USAGE;
    }
    return (unsigned)v->err;
}

static const br_x509_pkey *v_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
    const struct tls_verify *v = (const struct tls_verify *)(const void *)ctx;
    if (v->err) {
        return NULL;
    }
    return v->mini.vtable->get_pkey(&v->mini.vtable, usages);
}

static const br_x509_class verify_vtable = {
    sizeof(struct tls_verify),
    v_start_chain,
    v_start_cert,
    v_append,
    v_end_cert,
    v_end_chain,
    v_get_pkey,
};

/* see verify.h */
void tls_verify_init(struct tls_verify *v, const br_x509_trust_anchor *anchors, size_t n,
                     const char *host, int64_t now, struct tls_chain *chain)
{
    uint32_t days, seconds;
    memset(v, 0, sizeof *v);
    v->vtable = &verify_vtable;
    v->host = host ? host : "";
    v->now = now;
    v->chain = chain;
    v->anchored_at = -1;
    v->name_ok = -1;

    /* Signatures: RSA PKCS#1 v1.5 and ECDSA on P-256/384/521, with SHA-224 and up; SHA-1
     * signed certificates are refused. i31/m31 suit 64-bit and Cortex-A cores. */
    br_x509_minimal_init(&v->mini, &br_sha256_vtable, anchors, n);
    br_x509_minimal_set_hash(&v->mini, br_sha224_ID, &br_sha224_vtable);
    br_x509_minimal_set_hash(&v->mini, br_sha256_ID, &br_sha256_vtable);
    br_x509_minimal_set_hash(&v->mini, br_sha384_ID, &br_sha384_vtable);
    br_x509_minimal_set_hash(&v->mini, br_sha512_ID, &br_sha512_vtable);
    br_x509_minimal_set_rsa(&v->mini, br_rsa_i31_pkcs1_vrfy);
    br_x509_minimal_set_ecdsa(&v->mini, &br_ec_all_m31, br_ecdsa_i31_vrfy_asn1);
    br_x509_minimal_set_minrsa(&v->mini, 256);  /* RSA-2048 and up, except anchors */
    certtime_to_bearssl(now, &days, &seconds);
    br_x509_minimal_set_time(&v->mini, days, seconds);
}

/* see verify.h */
int tls_verify_chain(struct tls_verify *v, const br_x509_certificate *certs, size_t n)
{
    const br_x509_class **x = &v->vtable;
    (*x)->start_chain(x, v->host);
    for (size_t i = 0; i < n; i++) {
        (*x)->start_cert(x, (uint32_t)certs[i].data_len);
        /* In record-sized pieces, as a handshake delivers them. */
        for (size_t off = 0; off < certs[i].data_len; off += 512) {
            size_t len = certs[i].data_len - off < 512 ? certs[i].data_len - off : 512;
            (*x)->append(x, certs[i].data + off, len);
        }
        (*x)->end_cert(x);
    }
    return (int)(*x)->end_chain(x);
}
