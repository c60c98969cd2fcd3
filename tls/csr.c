/* see csr.h */
#include <string.h>

#include "csr.h"
#include "der.h"
#include "tls_err.h"

static const uint8_t OID_CN[] = { 0x55, 0x04, 0x03 };
static const uint8_t OID_ECDSA_SHA256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };

static int cn_ok(const char *cn, size_t *len)
{
    size_t n = strnlen(cn, CSR_CN_MAX + 1);
    if (n == 0 || n > CSR_CN_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (cn[i] < 0x20 || cn[i] > 0x7e) {
            return 0;
        }
    }
    *len = n;
    return 1;
}

/* see csr.h */
int csr_build_der(const struct device_key *k, const char *cn, uint8_t *out, size_t cap)
{
    struct der_writer w;
    uint8_t spki[KEY_SPKI_LEN], sig[KEY_SIG_MAX];
    size_t cn_len;
    if (!cn_ok(cn, &cn_len)) {
        return TLS_ENAME;
    }
    key_spki(k, spki, sizeof spki);
    der_writer_init(&w, out, cap);

    size_t req = der_open(&w, DER_SEQUENCE);             /* CertificationRequest */
    size_t info = der_open(&w, DER_SEQUENCE);            /* CertificationRequestInfo */
    der_put_small_int(&w, 0);                            /* version v1 */
    size_t name = der_open(&w, DER_SEQUENCE);            /* subject Name */
    size_t rdn = der_open(&w, DER_SET);
    size_t atv = der_open(&w, DER_SEQUENCE);
    der_put(&w, DER_OID, OID_CN, sizeof OID_CN);
    der_put(&w, DER_UTF8_STRING, cn, cn_len);
    der_close(&w, atv);
    der_close(&w, rdn);
    der_close(&w, name);
    der_put_raw(&w, spki, sizeof spki);                  /* subjectPKInfo */
    der_put(&w, DER_CONTEXT | DER_CONSTRUCTED | 0, NULL, 0);   /* attributes: none */
    der_close(&w, info);
    if (w.err) {
        return w.err;
    }

    /* The info is complete and in place: sign exactly its bytes. */
    int sig_len = key_sign_sha256(k, out + info, w.pos - info, sig, sizeof sig);
    if (sig_len < 0) {
        return sig_len;
    }
    size_t alg = der_open(&w, DER_SEQUENCE);             /* ecdsa-with-SHA256, no params */
    der_put(&w, DER_OID, OID_ECDSA_SHA256, sizeof OID_ECDSA_SHA256);
    der_close(&w, alg);
    der_put_bits(&w, sig, (size_t)sig_len);
    der_close(&w, req);
    long n = der_finish(&w);
    return (int)n;
}

/* see csr.h */
int csr_build_pem(const struct device_key *k, const char *cn, char *out, size_t cap)
{
    uint8_t der[CSR_DER_MAX];
    int n = csr_build_der(k, cn, der, sizeof der);
    if (n < 0) {
        return n;
    }
    size_t need = br_pem_encode(NULL, der, (size_t)n, "CERTIFICATE REQUEST", BR_PEM_LINE64);
    if (need + 1 > cap) {
        return TLS_ENOSPC;
    }
    return (int)br_pem_encode(out, der, (size_t)n, "CERTIFICATE REQUEST", BR_PEM_LINE64);
}
