/* see tls_server.h */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "certtime.h"
#include "pem.h"
#include "tls_err.h"
#include "tls_server.h"
#include "x509_info.h"

/* ---- the identity ---- */

static void skey_push(void *ctx, const void *p, size_t len)
{
    br_skey_decoder_push(ctx, p, len);
}

static int is_key_block(const char *name)
{
    return strcmp(name, "EC PRIVATE KEY") == 0 || strcmp(name, "RSA PRIVATE KEY") == 0
           || strcmp(name, "PRIVATE KEY") == 0;
}

/* The first private key block of the text into id->key. */
static int load_key(struct tls_server_identity *id, const uint8_t *p, size_t len)
{
    br_pem_decoder_context pc;
    int in_key = 0, found = 0, err = 0;
    br_pem_decoder_init(&pc);
    for (int pass = 0; pass < 2 && !err; pass++) {
        /* A final newline lets the decoder see an END line the text did not end. */
        const uint8_t *q = pass == 0 ? p : (const uint8_t *)"\n";
        size_t n = pass == 0 ? len : 1;
        while (n > 0 && !err) {
            size_t k = br_pem_decoder_push(&pc, q, n);
            q += k;
            n -= k;
            switch (br_pem_decoder_event(&pc)) {
            case BR_PEM_BEGIN_OBJ:
                in_key = !found && is_key_block(br_pem_decoder_name(&pc));
                if (in_key) {
                    br_skey_decoder_init(&id->key);
                }
                br_pem_decoder_setdest(&pc, in_key ? skey_push : NULL, &id->key);
                break;
            case BR_PEM_END_OBJ:
                if (in_key) {
                    found = 1;
                    in_key = 0;
                    err = br_skey_decoder_last_error(&id->key) != 0;
                }
                break;
            case BR_PEM_ERROR:
                err = 1;
                break;
            default:
                break;
            }
        }
    }
    if (err || !found) {
        return TLS_EKEY;
    }
    id->key_type = br_skey_decoder_key_type(&id->key);
    return id->key_type == BR_KEYTYPE_RSA || id->key_type == BR_KEYTYPE_EC ? 0 : TLS_EKEYTYPE;
}

/* Does the leaf carry the public half of our key? */
static int key_matches_leaf(struct tls_server_identity *id)
{
    br_x509_decoder_context dc;
    br_x509_decoder_init(&dc, NULL, NULL);
    br_x509_decoder_push(&dc, id->chain[0].data, id->chain[0].data_len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    if (pk == NULL) {
        return TLS_ECERT;
    }
    if (id->key_type == BR_KEYTYPE_EC) {
        const br_ec_private_key *sk = br_skey_decoder_get_ec(&id->key);
        uint8_t pub[BR_EC_KBUF_PUB_MAX_SIZE];
        br_ec_public_key mine;
        size_t n = br_ec_compute_pub(&br_ec_all_m31, &mine, pub, sk);
        return pk->key_type == BR_KEYTYPE_EC && n == pk->key.ec.qlen
               && memcmp(pub, pk->key.ec.q, n) == 0 ? 0 : TLS_EKEY_MISMATCH;
    }
    const br_rsa_private_key *sk = br_skey_decoder_get_rsa(&id->key);
    uint8_t mod[512];
    size_t n = br_rsa_i31_compute_modulus(NULL, sk);
    if (pk->key_type != BR_KEYTYPE_RSA || n == 0 || n > sizeof mod) {
        return TLS_EKEY_MISMATCH;
    }
    br_rsa_i31_compute_modulus(mod, sk);
    /* The certificate's modulus may carry leading zeros. */
    const uint8_t *m = pk->key.rsa.n;
    size_t mlen = pk->key.rsa.nlen;
    while (mlen > 0 && *m == 0) {
        m++;
        mlen--;
    }
    return mlen == n && memcmp(m, mod, n) == 0 ? 0 : TLS_EKEY_MISMATCH;
}

/* see tls_server.h */
int tls_server_identity_load(struct tls_server_identity *id,
                             const uint8_t *chain_pem, size_t chain_len,
                             const uint8_t *key_pem, size_t key_len,
                             const uint8_t *ca_pem, size_t ca_len, char *err, size_t errlen)
{
    static struct pem_decoder d;     /* scratch; the relay loads once, single-threaded */
    struct pem_cert certs[TLS_SERVER_CHAIN_MAX > TLS_CLIENT_CA_MAX ? TLS_SERVER_CHAIN_MAX
                                                                   : TLS_CLIENT_CA_MAX];
    static uint8_t ca_der[TLS_SERVER_DER_MAX];
    char why[PEM_MSG_MAX];
    memset(id, 0, sizeof *id);

    int n = pem_decode_certs(&d, chain_pem, chain_len, id->chain_der, sizeof id->chain_der,
                             certs, TLS_SERVER_CHAIN_MAX);
    if (n < 0) {
        snprintf(err, errlen, "cert: %s", pem_describe(&d, why, sizeof why));
        return n;
    }
    for (int i = 0; i < n; i++) {
        id->chain[i].data = (unsigned char *)(uintptr_t)certs[i].der;
        id->chain[i].data_len = certs[i].len;
    }
    id->chain_len = (size_t)n;

    int r = load_key(id, key_pem, key_len);
    if (r != 0) {
        snprintf(err, errlen, "key: %s", r == TLS_EKEYTYPE ? "unsupported key type"
                 : "no private key (EC PRIVATE KEY, RSA PRIVATE KEY or PRIVATE KEY) found");
        return r;
    }
    r = key_matches_leaf(id);
    if (r != 0) {
        snprintf(err, errlen, "key: %s", r == TLS_ECERT ? "cannot decode the leaf certificate"
                 : "the key does not belong to the first certificate of the chain");
        return r;
    }

    n = pem_decode_certs(&d, ca_pem, ca_len, ca_der, sizeof ca_der, certs, TLS_CLIENT_CA_MAX);
    if (n < 0) {
        snprintf(err, errlen, "client-ca: %s", pem_describe(&d, why, sizeof why));
        return n;
    }
    trust_init(&id->cas, id->ca, TLS_CLIENT_CA_MAX, id->ca_arena, sizeof id->ca_arena);
    for (int i = 0; i < n; i++) {
        r = trust_add_der(&id->cas, certs[i].der, certs[i].len);
        if (r < 0) {
            snprintf(err, errlen, "client-ca: certificate %d: %s", i + 1, tls_strerror(r));
            return r;
        }
    }
    return 0;
}

/* see tls_server.h */
void tls_server_identity_wipe(struct tls_server_identity *id)
{
    memset(id, 0, sizeof *id);
    __asm__ __volatile__("" : : "r"(id) : "memory");
}

/* ---- the client's chain ---- */

static struct tls_peer_check *check_of(const br_x509_class **ctx)
{
    return (struct tls_peer_check *)(void *)ctx;
}

static void c_start_chain(const br_x509_class **ctx, const char *server_name)
{
    struct tls_peer_check *c = check_of(ctx);
    (void)server_name;
    c->mini.vtable->start_chain(&c->mini.vtable, NULL);   /* a client has no host name */
    c->ncerts = 0;
    c->leaf_len = 0;
    c->leaf_total = 0;
    c->cn[0] = 0;
    c->err = 0;
}

static void c_start_cert(const br_x509_class **ctx, uint32_t length)
{
    struct tls_peer_check *c = check_of(ctx);
    c->mini.vtable->start_cert(&c->mini.vtable, length);
    if (c->ncerts == 0) {
        c->leaf_total = length;
    }
}

static void c_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
    struct tls_peer_check *c = check_of(ctx);
    c->mini.vtable->append(&c->mini.vtable, buf, len);
    if (c->ncerts == 0 && c->leaf_total <= TLS_PEER_CERT_MAX
        && len <= TLS_PEER_CERT_MAX - c->leaf_len) {
        memcpy(c->leaf + c->leaf_len, buf, len);
        c->leaf_len += len;
    }
}

static void c_end_cert(const br_x509_class **ctx)
{
    struct tls_peer_check *c = check_of(ctx);
    c->mini.vtable->end_cert(&c->mini.vtable);
    c->ncerts++;
}

/* The leaf's CN, printable ASCII of 1..64 bytes; else the chain is refused. */
static int leaf_cn(struct tls_peer_check *c)
{
    struct x509_parts x;
    const uint8_t *cn;
    size_t len;
    if (c->leaf_total > TLS_PEER_CERT_MAX || c->leaf_len != c->leaf_total
        || x509_split(c->leaf, c->leaf_len, &x) != 0 || x509_subject_cn(&x, &cn, &len) != 1
        || len == 0 || len >= TLS_PEER_CN_MAX) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (cn[i] < 0x21 || cn[i] > 0x7e) {
            return -1;
        }
    }
    memcpy(c->cn, cn, len);
    c->cn[len] = 0;
    return 0;
}

static unsigned c_end_chain(const br_x509_class **ctx)
{
    struct tls_peer_check *c = check_of(ctx);
    unsigned r = c->mini.vtable->end_chain(&c->mini.vtable);
    if (r == 0 && leaf_cn(c) != 0) {
        r = BR_ERR_X509_NOT_TRUSTED;
    }
    c->err = (int)r;
    return r;
}

static const br_x509_pkey *c_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
    const struct tls_peer_check *c = (const struct tls_peer_check *)(const void *)ctx;
    return c->err ? NULL : c->mini.vtable->get_pkey(&c->mini.vtable, usages);
}

static const br_x509_class check_vtable = {
    sizeof(struct tls_peer_check), c_start_chain, c_start_cert, c_append, c_end_cert,
    c_end_chain, c_get_pkey,
};

static void check_init(struct tls_peer_check *c, const struct trust_store *cas, int64_t now)
{
    uint32_t days, seconds;
    memset(c, 0, offsetof(struct tls_peer_check, leaf));
    c->vtable = &check_vtable;
    br_x509_minimal_init(&c->mini, &br_sha256_vtable, cas->ta, cas->count);
    br_x509_minimal_set_hash(&c->mini, br_sha224_ID, &br_sha224_vtable);
    br_x509_minimal_set_hash(&c->mini, br_sha256_ID, &br_sha256_vtable);
    br_x509_minimal_set_hash(&c->mini, br_sha384_ID, &br_sha384_vtable);
    br_x509_minimal_set_hash(&c->mini, br_sha512_ID, &br_sha512_vtable);
    br_x509_minimal_set_rsa(&c->mini, br_rsa_i31_pkcs1_vrfy);
    br_x509_minimal_set_ecdsa(&c->mini, &br_ec_all_m31, br_ecdsa_i31_vrfy_asn1);
    br_x509_minimal_set_minrsa(&c->mini, 256);
    certtime_to_bearssl(now, &days, &seconds);
    br_x509_minimal_set_time(&c->mini, days, seconds);
}

/* ---- the server ---- */

static struct tls_server *server_of(struct tls_engine *e)
{
    return (struct tls_server *)(void *)e;
}

static void server_verdict(struct tls_engine *e, int err)
{
    struct tls_server *s = server_of(e);
    if (e->state == TLS_ST_OPEN) {
        memcpy(s->cn, s->check->cn, sizeof s->cn);
        snprintf(e->verdict, sizeof e->verdict, "ok: client \"%s\"", s->cn);
    } else if (err == BR_ERR_OK) {
        snprintf(e->verdict, sizeof e->verdict, "handshake failed: client closed the connection");
    } else if (err == BR_ERR_NO_CLIENT_AUTH) {
        snprintf(e->verdict, sizeof e->verdict, "client certificate refused: the client sent none");
    } else if (err >= BR_ERR_X509_OK + 1 && err < BR_ERR_RECV_FATAL_ALERT) {
        const char *name = verdict_br_err_name(err);
        snprintf(e->verdict, sizeof e->verdict,
                 "client certificate refused: BearSSL error %d (%s)", err,
                 name ? name : "unknown");
    } else {
        verdict_handshake(err, NULL, e->verdict, sizeof e->verdict);
    }
}

static int server_reset(struct tls_engine *e)
{
    return br_ssl_server_reset(&server_of(e)->sc);
}

static const struct tls_engine_class server_class = {
    "client", server_verdict, server_reset,
};

_Static_assert(offsetof(struct tls_server, engine) == 0, "server_of() needs the engine first");

/* see tls_server.h */
int tls_server_start(struct tls_server *s, const struct tls_server_identity *id, int64_t now,
                     const struct tls_io *io, const struct tls_server_mem *mem)
{
    memset(s, 0, sizeof *s);
    if (id->chain_len == 0 || id->cas.count == 0 || mem->check == NULL
        || mem->ibuf_len < TLS_SERVER_IBUF || mem->obuf_len < TLS_SERVER_OBUF) {
        snprintf(s->engine.verdict, sizeof s->engine.verdict, "handshake not finished");
        s->engine.state = TLS_ST_FAILED;
        return TLS_EINVAL;
    }
    br_ssl_server_zero(&s->sc);
    br_ssl_engine_remove_flags(&s->sc.eng, BR_OPT_TOLERATE_NO_CLIENT_AUTH);
    /* The chain is checked once: the checker may be gone after the handshake. */
    br_ssl_engine_add_flags(&s->sc.eng, BR_OPT_NO_RENEGOTIATION);
    /* The client's order of suites wins: a gateway without AES instructions asks for
     * ChaCha20-Poly1305 first, and the relay, fast at both, should not impose AES-GCM. */
    br_ssl_engine_remove_flags(&s->sc.eng, BR_OPT_ENFORCE_SERVER_PREFERENCES);
    if (id->key_type == BR_KEYTYPE_EC) {
        br_ssl_server_set_single_ec(&s->sc, id->chain, id->chain_len,
                                    br_skey_decoder_get_ec(&id->key), BR_KEYTYPE_SIGN,
                                    BR_KEYTYPE_EC, &br_ec_all_m31, br_ecdsa_i31_sign_asn1);
    } else {
        br_ssl_server_set_single_rsa(&s->sc, id->chain, id->chain_len,
                                     br_skey_decoder_get_rsa(&id->key), BR_KEYTYPE_SIGN,
                                     br_rsa_i31_private, br_rsa_i31_pkcs1_sign);
    }
    br_ssl_server_set_trust_anchor_names_alt(&s->sc, id->cas.ta, id->cas.count);
    s->ibuf = mem->ibuf;
    s->obuf = mem->obuf;
    br_ssl_engine_set_buffers_bidi(&s->sc.eng, mem->ibuf, TLS_SERVER_IBUF, mem->obuf,
                                   TLS_SERVER_OBUF);
    s->check = mem->check;
    check_init(s->check, &id->cas, now);
    br_ssl_engine_set_x509(&s->sc.eng, &s->check->vtable);
    return tls_engine_start(&s->engine, &s->sc.eng, &server_class, io, TLS_PREFER_AUTO);
}

/* see tls_server.h */
const char *tls_server_peer_cn(const struct tls_server *s)
{
    enum tls_state st = s->engine.state;
    return st == TLS_ST_OPEN || st == TLS_ST_CLOSED ? s->cn : "";
}

/* see tls_server.h */
const uint8_t *tls_server_peer_leaf(const struct tls_server *s, size_t *len)
{
    enum tls_state st = s->engine.state;
    if (s->check == NULL || (st != TLS_ST_OPEN && st != TLS_ST_CLOSED)) {
        *len = 0;
        return NULL;
    }
    *len = s->check->leaf_len;
    return s->check->leaf;
}

/* see tls_server.h */
void tls_server_forget_check(struct tls_server *s)
{
    s->check = NULL;
}

/* see tls_server.h */
int tls_server_quiescent(const struct tls_server *s)
{
    const br_ssl_engine_context *eng = &s->sc.eng;
    unsigned st = br_ssl_engine_current_state(eng);
    size_t len = 0;
    if (s->engine.state != TLS_ST_OPEN || (st & (BR_SSL_SENDREC | BR_SSL_RECVAPP))) {
        return 0;
    }
    /* Waiting for the first byte of a record header (ssl_engine.c: make_ready_in). */
    const unsigned char *in = br_ssl_engine_recvrec_buf(eng, &len);
    if (in != s->ibuf || len != 5) {
        return 0;
    }
    /* Nothing gathered for the next record: the payload would start right after the
     * header and explicit nonce, at most 5 + 16 bytes in (make_ready_out). */
    const unsigned char *out = br_ssl_engine_sendapp_buf(eng, &len);
    return out != NULL && out >= s->obuf && out - s->obuf <= 21;
}
