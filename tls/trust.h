/* BearSSL trust anchors from the trust store's DER certificates (roots and intermediates).
 *
 * A certificate that says it is a CA becomes a CA anchor (BR_X509_TA_CA): it may issue the
 * next certificate of a chain. So an intermediate in the store lets a chain validate even
 * when the server sends only its leaf: BearSSL stops at the first certificate whose issuer
 * is an anchor. A certificate that is not a CA (a server's own self-signed certificate) is
 * trusted directly: a server presenting exactly that name and key is accepted.
 *
 * An anchor is a name (the subject DN, DER) and a public key; both are copied into the
 * caller's arena, so the DER records may be dropped afterwards. Anchor validity dates are
 * not checked (RFC 5280 6.1.1: an anchor is trusted as such); chain certificates are.
 *
 * RAM: sizeof(br_x509_trust_anchor) (64 bytes on 64-bit, 32 on 32-bit) in the caller's
 * array, plus in the arena the DN (about 60..120 bytes for ours) and the key (EC P-256:
 * 65; RSA-2048: 256 + 3; RSA-4096: 512 + 3). TRUST_ARENA_PER_ANCHOR is a safe budget for
 * an RSA-2048 or EC anchor with a DN of up to 180 bytes. */
#ifndef GW_TRUST_H
#define GW_TRUST_H

#include <stddef.h>
#include <stdint.h>

#include "bearssl.h"

#define TRUST_ARENA_PER_ANCHOR 448
#define TRUST_DN_MAX 1024        /* longest subject DN accepted for an anchor */

struct trust_store {
    br_x509_trust_anchor *ta;    /* the caller's array */
    size_t max, count;
    size_t section;              /* first anchor of the current section (trust_section) */
    uint8_t *arena;              /* the caller's bytes for DNs and keys */
    size_t cap, used;
};

void trust_init(struct trust_store *ts, br_x509_trust_anchor *ta, size_t max,
                uint8_t *arena, size_t cap);
/* Add a DER certificate as an anchor. Returns its index (>= 0; the index of the existing
 * anchor when the same name and key are already there), or TLS_ECERT (BearSSL cannot
 * decode it), TLS_EKEYTYPE, TLS_ETRUST_FULL (no slot or arena room left). */
int trust_add_der(struct trust_store *ts, const uint8_t *der, size_t len);
/* Start a section: the anchors added from now on form a list of their own (ta + count at this
 * call), so a certificate already in an earlier section is added again. One table can then
 * hold two trust stores (the gateway's relay anchors and those of its internal servers). */
void trust_section(struct trust_store *ts);
/* Drop all anchors (the caller's buffers stay theirs). */
void trust_clear(struct trust_store *ts);

#endif
