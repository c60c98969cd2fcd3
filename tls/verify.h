/* Server certificate validation: BearSSL's br_x509_minimal, wrapped so that
 *
 *   - the validation time is always the caller's, set explicitly (never the system's, and
 *     a clock before VERIFY_TIME_MIN counts as not set: validation then fails closed);
 *   - the host name is checked by us (hostname.h: SAN DNS with wildcards, SAN IP, CN only
 *     without SAN), never skipped: there is no "trust all" and no "any name";
 *   - the leaf's extended key usage, when it has one, must allow serverAuth: a certificate
 *     issued for a client (a gateway's own) never vouches for a server;
 *   - every failure leaves the facts a one-line verdict needs (verdict.h): which
 *     certificate, its names and dates;
 *   - optionally, the chain the server sent is captured for `tls probe`.
 *
 * Give BearSSL &v->vtable as the X.509 engine (br_ssl_engine_set_x509), or run a chain
 * through it with tls_verify_chain() (offline checks, tests). The context is reusable: one
 * tls_verify_init() per handshake.
 *
 * RAM: sizeof(struct tls_verify), about 14 KiB on 64-bit: br_x509_minimal_context (~3.2
 * KiB), the buffer for one certificate (VERIFY_CERT_MAX; the leaf must fit, larger chain
 * certificates are validated but not described), one parsed summary (~1.2 KiB) and the
 * facts of two certificates. Per connection, only during the handshake if the caller
 * wants (it may be reused once the handshake is done). */
#ifndef GW_VERIFY_H
#define GW_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "bearssl.h"
#include "x509_info.h"

#ifndef VERIFY_CERT_MAX
#define VERIFY_CERT_MAX 8192     /* largest server certificate we parse ourselves */
#endif
#define VERIFY_TIME_MIN 1735689600   /* 2025-01-01: an earlier clock is not set */
#define VERIFY_HAVE_MAX 96       /* the names a mismatching leaf has, as text */
#define TLS_CHAIN_MAX 6          /* certificates of a chain captured for `tls probe` */

/* What the verdict says about one certificate. */
struct tls_cert_facts {
    char subject[X509_DN_TEXT_MAX];
    char issuer[X509_DN_TEXT_MAX];
    int64_t not_before, not_after;
    int self_issued, is_ca;
    char key_text[16];
    unsigned index;              /* 0 for the leaf */
    size_t der_len;
    int known;                   /* 0 when the certificate could not be parsed (or too big) */
};

/* The chain as the server sent it, for `tls probe`. */
struct tls_chain {
    unsigned count;              /* certificates sent (may exceed TLS_CHAIN_MAX) */
    struct tls_cert_facts cert[TLS_CHAIN_MAX];
};

struct tls_verify {
    const br_x509_class *vtable;            /* first: BearSSL calls through &v->vtable */
    br_x509_minimal_context mini;
    /* set by tls_verify_init() */
    const char *host;
    int64_t now;
    struct tls_chain *chain;                /* NULL: no capture */
    /* the certificate being received */
    uint8_t cert[VERIFY_CERT_MAX];
    size_t cert_len;
    uint32_t cert_total;
    int err_before;              /* BearSSL's error when this certificate began */
    unsigned ncerts;
    struct x509_info xi;
    struct tls_cert_facts prev, cur;
    /* outcome */
    int err;                     /* 0 or the BR_ERR_X509_* the chain failed with */
    struct tls_cert_facts failed, failed_prev;   /* the certificate it concerns, and the
                                                    one before it in the chain */
    int anchored_at;             /* index of the certificate whose issuer is an anchor; -1 */
    struct tls_cert_facts anchored;
    int name_ok;                 /* leaf names the host: 1, 0, or -1 when not checked */
    int eku_ok;                  /* the leaf may serve as a server (extended key usage) */
    uint32_t leaf_too_big;       /* the leaf's size when over VERIFY_CERT_MAX, else 0 */
    char have[VERIFY_HAVE_MAX];  /* the names the leaf has, when they do not match */
};

/* Prepare for one chain: the anchors (kept by reference), the host the connection meant
 * to reach (a DNS name or an IP literal; required), the validation time (Unix seconds from
 * a clock the caller believes), and an optional capture. */
void tls_verify_init(struct tls_verify *v, const br_x509_trust_anchor *anchors, size_t n,
                     const char *host, int64_t now, struct tls_chain *chain);

/* Run a chain (leaf first) through the engine as a handshake would. Returns 0 when the
 * chain is trusted and names the host, else the BR_ERR_X509_* code (also in v->err). */
int tls_verify_chain(struct tls_verify *v, const br_x509_certificate *certs, size_t n);

#endif
