/* Device identity: `tunnel key generate`, `tunnel csr`, `tunnel cert import`. The CSR is
 * checked by openssl (`openssl req -verify`), then signed by the test PKI's intermediate,
 * and the certificate that comes back must match the key, and only that key. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "csr.h"
#include "keys.h"
#include "pem.h"
#include "test_tls_util.h"
#include "tls_err.h"

static struct device_key key, key2;
static char pem[CSR_PEM_MAX];

static void generated_key_survives_storage_and_reload(void)
{
    uint8_t stored[KEY_STORED_LEN], again[KEY_STORED_LEN];
    CHECK_EQ(key_generate(&key), 0);
    CHECK_EQ(key_store(&key, stored, sizeof stored), KEY_STORED_LEN);
    CHECK_EQ(stored[0], KEY_FORMAT_P256);
    CHECK_EQ(key_load(&key2, stored, sizeof stored), 0);
    CHECK(memcmp(key2.pk.q, key.pk.q, 65) == 0);
    CHECK_EQ(key_store(&key2, again, sizeof again), KEY_STORED_LEN);
    CHECK(memcmp(stored, again, sizeof stored) == 0);
    CHECK_EQ(key_store(&key2, again, KEY_STORED_LEN - 1), TLS_ENOSPC);
    /* A second key is another key. */
    CHECK_EQ(key_generate(&key2), 0);
    CHECK(memcmp(key2.pk.q, key.pk.q, 65) != 0);
    key_wipe(&key2);
    static const struct device_key zero;
    CHECK(memcmp(&key2, &zero, sizeof zero) == 0);
}

static void damaged_stored_key_is_refused(void)
{
    uint8_t stored[KEY_STORED_LEN], bad[KEY_STORED_LEN];
    CHECK_EQ(key_generate(&key), 0);
    CHECK_EQ(key_store(&key, stored, sizeof stored), KEY_STORED_LEN);
    CHECK_EQ(key_load(&key2, stored, sizeof stored - 1), TLS_EKEY);
    memcpy(bad, stored, sizeof bad);
    bad[0] = 0x02;                                      /* unknown format */
    CHECK_EQ(key_load(&key2, bad, sizeof bad), TLS_EKEY);
    memcpy(bad, stored, sizeof bad);
    bad[1] = 24;                                        /* P-384 */
    CHECK_EQ(key_load(&key2, bad, sizeof bad), TLS_EKEY);
    memset(bad + 2, 0, 32);                             /* zero scalar */
    bad[1] = 23;
    CHECK_EQ(key_load(&key2, bad, sizeof bad), TLS_EKEY);
    memset(bad + 2, 0xff, 32);                          /* scalar >= n: erased flash */
    CHECK_EQ(key_load(&key2, bad, sizeof bad), TLS_EKEY);
    static const uint8_t n_minus_1[32] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x50,
    };
    memcpy(bad + 2, n_minus_1, 32);
    CHECK_EQ(key_load(&key2, bad, sizeof bad), 0);
    bad[33] = 0x51;                                     /* exactly n */
    CHECK_EQ(key_load(&key2, bad, sizeof bad), TLS_EKEY);
}

static void csr_is_accepted_by_openssl_with_location_id_as_cn(void)
{
    CHECK_EQ(key_generate(&key), 0);
    int n = csr_build_pem(&key, "loc-7f3a-munich", pem, sizeof pem);
    CHECK(n > 0);
    CHECK_EQ((size_t)n, strlen(pem));
    CHECK(strncmp(pem, "-----BEGIN CERTIFICATE REQUEST-----\n", 36) == 0);
    const char *csr = pki_path("keys-device.csr");
    CHECK_EQ(write_file(csr, pem, (size_t)n), 0);
    CHECK_EQ(run_shell("openssl req -verify -in %s -noout 2>/dev/null", csr), 0);
    CHECK_EQ(run_shell("openssl req -in %s -noout -subject -nameopt RFC2253"
                       " | grep -qx 'subject=CN=loc-7f3a-munich'", csr), 0);
    CHECK_EQ(run_shell("openssl req -in %s -noout -text | grep -q 'ecdsa-with-SHA256'", csr), 0);
    /* The public key openssl sees is ours. */
    uint8_t spki[KEY_SPKI_LEN];
    CHECK_EQ(key_spki(&key, spki, sizeof spki), KEY_SPKI_LEN);
    const char *der = pki_path("keys-device.spki");
    CHECK_EQ(write_file(der, spki, sizeof spki), 0);
    CHECK_EQ(run_shell("openssl req -in %s -noout -pubkey | openssl pkey -pubin -outform DER"
                       " | cmp -s - %s", csr, der), 0);
}

static void same_key_and_name_give_the_same_request(void)
{
    uint8_t a[CSR_DER_MAX], b[CSR_DER_MAX];
    CHECK_EQ(key_generate(&key), 0);
    int na = csr_build_der(&key, "loc-1", a, sizeof a);
    int nb = csr_build_der(&key, "loc-1", b, sizeof b);
    CHECK(na > 0 && na == nb);
    CHECK(memcmp(a, b, (size_t)na) == 0);
    /* A 64-character Location ID still fits the stated maximum. */
    char cn[CSR_CN_MAX + 1];
    memset(cn, 'x', CSR_CN_MAX);
    cn[CSR_CN_MAX] = 0;
    CHECK(csr_build_der(&key, cn, a, sizeof a) > 0);
    CHECK(csr_build_pem(&key, cn, pem, sizeof pem) > 0);
    CHECK_EQ(csr_build_der(&key, cn, a, 100), TLS_ENOSPC);
}

static void location_id_that_cannot_be_a_cn_is_refused(void)
{
    uint8_t out[CSR_DER_MAX];
    char cn[CSR_CN_MAX + 2];
    CHECK_EQ(key_generate(&key), 0);
    CHECK_EQ(csr_build_der(&key, "", out, sizeof out), TLS_ENAME);
    CHECK_EQ(csr_build_der(&key, "loc\n1", out, sizeof out), TLS_ENAME);
    CHECK_EQ(csr_build_der(&key, "loc\xc3\xa9", out, sizeof out), TLS_ENAME);
    memset(cn, 'x', CSR_CN_MAX + 1);
    cn[CSR_CN_MAX + 1] = 0;
    CHECK_EQ(csr_build_der(&key, cn, out, sizeof out), TLS_ENAME);
}

static void certificate_signed_for_the_csr_matches_and_others_do_not(void)
{
    static uint8_t text[8192], der[8192], other[8192];
    static struct pem_decoder dec;
    struct pem_cert cert[2];
    CHECK_EQ(key_generate(&key), 0);
    int n = csr_build_pem(&key, "loc-42", pem, sizeof pem);
    CHECK(n > 0);
    const char *csr = pki_path("keys-cert.csr");
    CHECK_EQ(write_file(csr, pem, (size_t)n), 0);
    /* The CA's side: sign it (openssl 3.0's x509 -req takes the request as it is). */
    CHECK_EQ(run_shell("cd %s && openssl x509 -req -in keys-cert.csr -CA inter.pem"
                       " -CAkey inter.key -CAcreateserial -days 30 -out keys-cert.pem 2>/dev/null",
                       pki_dir), 0);
    /* The operator pastes the certificate and the intermediate: `tunnel cert import`. */
    size_t len = pki_load("keys-cert.pem", text, sizeof text);
    len += pki_load("inter.pem", text + len, sizeof text - len);
    CHECK_EQ(pem_decode_certs(&dec, text, len, der, sizeof der, cert, 2), 2);
    CHECK_EQ(key_matches_cert(&key, cert[0].der, cert[0].len), 0);
    /* The intermediate, another device's certificate, an RSA one: not ours. */
    CHECK_EQ(key_matches_cert(&key, cert[1].der, cert[1].len), TLS_EKEY_MISMATCH);
    len = pki_load("leaf-ec.der", other, sizeof other);
    CHECK_EQ(key_matches_cert(&key, other, len), TLS_EKEY_MISMATCH);
    len = pki_load("leaf-rsa.der", other, sizeof other);
    CHECK_EQ(key_matches_cert(&key, other, len), TLS_EKEY_MISMATCH);
    CHECK_EQ(key_matches_cert(&key, other, len / 2), TLS_ECERT);
    /* A new key after the certificate was issued: the old certificate no longer fits. */
    CHECK_EQ(key_generate(&key2), 0);
    CHECK_EQ(key_matches_cert(&key2, cert[0].der, cert[0].len), TLS_EKEY_MISMATCH);
}

TLS_TEST_MAIN(
    { "generated_key_survives_storage_and_reload", generated_key_survives_storage_and_reload },
    { "damaged_stored_key_is_refused", damaged_stored_key_is_refused },
    { "csr_is_accepted_by_openssl_with_location_id_as_cn",
      csr_is_accepted_by_openssl_with_location_id_as_cn },
    { "same_key_and_name_give_the_same_request", same_key_and_name_give_the_same_request },
    { "location_id_that_cannot_be_a_cn_is_refused", location_id_that_cannot_be_a_cn_is_refused },
    { "certificate_signed_for_the_csr_matches_and_others_do_not",
      certificate_signed_for_the_csr_matches_and_others_do_not })
