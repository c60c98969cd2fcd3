/* What `trust list` and `tls probe` show about a certificate, checked against what openssl
 * says about the same bytes; and the walker never reads past what it was given. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bearssl.h"
#include "certtime.h"
#include "test_tls_util.h"
#include "tls_err.h"
#include "x509_info.h"

static uint8_t der[8192];
static struct x509_info xi;

static size_t load(const char *name)
{
    return pki_load(name, der, sizeof der);
}

static void leaf_shows_names_dates_key_and_sans(void)
{
    size_t len = load("leaf-ec.der");
    CHECK(len > 0);
    CHECK_EQ(x509_info_parse(&xi, der, len), 0);
    CHECK(strcmp(xi.subject, "CN=mail.example.test, O=Gateway Test Lab") == 0);
    CHECK(strcmp(xi.issuer, "CN=Lab Intermediate CA, O=Gateway Test Lab") == 0);
    CHECK_EQ(xi.not_before, 1704067200);            /* 2024-01-01T00:00:00Z */
    CHECK(strcmp(xi.not_before_date, "2024-01-01") == 0);
    CHECK(strcmp(xi.not_after_date, "2040-01-01") == 0);
    CHECK_EQ(xi.is_ca, 0);
    CHECK_EQ(xi.self_issued, 0);
    CHECK_EQ(xi.key_type, BR_KEYTYPE_EC);
    CHECK_EQ(xi.curve, BR_EC_secp256r1);
    CHECK(strcmp(xi.key_text, "EC P-256") == 0);
    CHECK_EQ(xi.has_san, 1);
    CHECK_EQ(xi.san_dns_count, 2);
    CHECK(strcmp(xi.san_dns[0], "mail.example.test") == 0);
    CHECK(strcmp(xi.san_dns[1], "imap.example.test") == 0);
    CHECK_EQ(xi.san_ip_count, 0);
}

static void fingerprint_matches_openssl(void)
{
    size_t len = load("leaf-rsa.der");
    CHECK(len > 0);
    CHECK_EQ(x509_info_parse(&xi, der, len), 0);
    /* openssl prints "sha256 Fingerprint=AB:CD:..."; compare without colons, any case. */
    CHECK_EQ(run_shell("openssl x509 -inform DER -in %s -noout -fingerprint -sha256"
                       " | tr -d ':' | tr 'A-F' 'a-f' | grep -q '=%s$'",
                       pki_path("leaf-rsa.der"), xi.fingerprint), 0);
    CHECK(strcmp(xi.key_text, "RSA-2048") == 0);
    CHECK_EQ(xi.key_bits, 2048);
}

static void root_is_a_self_issued_ca_valid_past_2050(void)
{
    size_t len = load("root.der");
    CHECK(len > 0);
    CHECK_EQ(x509_info_parse(&xi, der, len), 0);
    CHECK_EQ(xi.is_ca, 1);
    CHECK_EQ(xi.self_issued, 1);
    CHECK(strcmp(xi.subject, "CN=Lab Root CA, O=Gateway Test Lab") == 0);
    CHECK(strcmp(xi.not_after_date, "2060-01-01") == 0);   /* a GeneralizedTime */
    CHECK_EQ(xi.not_after, 2840140800LL);
    CHECK(strcmp(xi.key_text, "RSA-2048") == 0);
}

static void ip_certificate_lists_its_addresses(void)
{
    char ip[X509_IP_TEXT_MAX];
    size_t len = load("ip.der");
    CHECK(len > 0);
    CHECK_EQ(x509_info_parse(&xi, der, len), 0);
    CHECK_EQ(xi.san_dns_count, 0);
    CHECK_EQ(xi.san_ip_count, 2);
    CHECK(strcmp(x509_ip_text(xi.san_ip[0].addr, xi.san_ip[0].len, ip, sizeof ip),
                 "127.0.0.1") == 0);
    CHECK(strcmp(x509_ip_text(xi.san_ip[1].addr, xi.san_ip[1].len, ip, sizeof ip), "::1") == 0);
}

static void certificate_without_san_says_so(void)
{
    struct x509_parts x;
    const uint8_t *cn;
    size_t cn_len;
    size_t len = load("cnonly.der");
    CHECK(len > 0);
    CHECK_EQ(x509_info_parse(&xi, der, len), 0);
    CHECK_EQ(xi.has_san, 0);
    CHECK_EQ(x509_split(der, len, &x), 0);
    CHECK_EQ(x509_subject_cn(&x, &cn, &cn_len), 1);
    CHECK(cn_len == 19 && memcmp(cn, "legacy.example.test", 19) == 0);
}

static void every_truncation_and_every_flipped_length_byte_is_refused_cleanly(void)
{
    size_t len = load("leaf-ec.der");
    CHECK(len > 0);
    /* Copy into an exact-size heap block so ASan sees any read past the end. */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        CHECK(p != NULL);
        memcpy(p, der, cut);
        int err = x509_info_parse(&xi, p, cut);
        free(p);
        CHECK(err < 0);
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t *p = malloc(len);
        CHECK(p != NULL);
        memcpy(p, der, len);
        p[i] ^= 0x80;
        (void)x509_info_parse(&xi, p, len);    /* any outcome but a crash */
        free(p);
    }
}

static void dn_text_escapes_what_a_terminal_must_not_see(void)
{
    /* SEQUENCE { SET { SEQUENCE { OID CN, UTF8String "a,b\x1b[2J" } },
     *            SET { SEQUENCE { OID 1.2.3.4, PrintableString "x" } } } */
    static const uint8_t dn[] = {
        0x30, 0x25,
        0x31, 0x13, 0x30, 0x11, 0x06, 0x03, 0x55, 0x04, 0x03,
        0x0c, 0x0a, 'a', ',', 'b', 0x1b, '[', '2', 'J', 0xc3, 0xa9, '+',
        0x31, 0x0e, 0x30, 0x0c, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x13, 0x05, 'x', 'y', 'z', 'z', 'y',
    };
    char out[X509_DN_TEXT_MAX];
    x509_dn_text(dn, sizeof dn, out, sizeof out);
    CHECK(strcmp(out, "1.2.3.4=xyzzy, CN=a\\,b\\1B[2J\\C3\\A9\\+") == 0);
    /* Too small a buffer: cut, marked, terminated. */
    x509_dn_text(dn, sizeof dn, out, 12);
    CHECK(strcmp(out, "1.2.3.4=...") == 0);
    x509_dn_text(dn, sizeof dn - 1, out, sizeof out);
    CHECK(strcmp(out, "(malformed name)") == 0);
}

static void calendar_matches_bearssl_epoch_and_leap_years(void)
{
    char d[CERTTIME_DATE_LEN];
    uint32_t days, secs;
    CHECK_EQ(certtime_days(1970, 1, 1), 0);
    CHECK_EQ(certtime_days(0, 1, 1), -CERTTIME_EPOCH_DAYS);
    CHECK_EQ(certtime_unix(2000, 3, 1, 0, 0, 0) - certtime_unix(2000, 2, 28, 0, 0, 0), 2 * 86400);
    CHECK_EQ(certtime_unix(2100, 3, 1, 0, 0, 0) - certtime_unix(2100, 2, 28, 0, 0, 0), 86400);
    certtime_to_bearssl(0, &days, &secs);
    CHECK_EQ(days, 719528);
    CHECK_EQ(secs, 0);
    certtime_to_bearssl(TEST_NOW, &days, &secs);
    CHECK_EQ(secs, 12 * 3600);
    certtime_date(TEST_NOW, d);
    CHECK(strcmp(d, "2026-03-01") == 0);
    certtime_date(-1, d);
    CHECK(strcmp(d, "1969-12-31") == 0);
    certtime_date(certtime_unix(2000, 2, 29, 23, 59, 59), d);
    CHECK(strcmp(d, "2000-02-29") == 0);
}

static void certificate_times_accept_only_der_forms(void)
{
    struct der_tlv t = { .tag = DER_UTC_TIME };
    int64_t u;
    t.p = (const uint8_t *)"491231235959Z";
    t.len = 13;
    CHECK_EQ(certtime_parse(&t, &u), 0);
    CHECK_EQ(u, certtime_unix(2049, 12, 31, 23, 59, 59));
    t.p = (const uint8_t *)"500101000000Z";
    CHECK_EQ(certtime_parse(&t, &u), 0);
    CHECK_EQ(u, certtime_unix(1950, 1, 1, 0, 0, 0));
    t.p = (const uint8_t *)"230229000000Z";               /* no 29 February in 2023 */
    CHECK_EQ(certtime_parse(&t, &u), TLS_EDER);
    t.p = (const uint8_t *)"2401010000+0100";
    t.len = 15;
    CHECK_EQ(certtime_parse(&t, &u), TLS_EDER);
    t.tag = DER_GENERALIZED_TIME;
    t.p = (const uint8_t *)"20600101000000Z";
    CHECK_EQ(certtime_parse(&t, &u), 0);
    CHECK_EQ(u, 2840140800LL);
    t.p = (const uint8_t *)"2060010100000Z ";
    CHECK_EQ(certtime_parse(&t, &u), TLS_EDER);
}

static void ipv6_addresses_print_compressed(void)
{
    static const uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1 };
    static const uint8_t b[16] = { 0 };
    static const uint8_t c[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6 };
    char ip[X509_IP_TEXT_MAX];
    CHECK(strcmp(x509_ip_text(a, 16, ip, sizeof ip), "2001:db8::1:0:0:1") == 0);
    CHECK(strcmp(x509_ip_text(b, 16, ip, sizeof ip), "::") == 0);
    CHECK(strcmp(x509_ip_text(c, 16, ip, sizeof ip), "2001:db8:1:2:3:4:5:6") == 0);
}

TLS_TEST_MAIN(
    { "leaf_shows_names_dates_key_and_sans", leaf_shows_names_dates_key_and_sans },
    { "fingerprint_matches_openssl", fingerprint_matches_openssl },
    { "root_is_a_self_issued_ca_valid_past_2050", root_is_a_self_issued_ca_valid_past_2050 },
    { "ip_certificate_lists_its_addresses", ip_certificate_lists_its_addresses },
    { "certificate_without_san_says_so", certificate_without_san_says_so },
    { "every_truncation_and_every_flipped_length_byte_is_refused_cleanly",
      every_truncation_and_every_flipped_length_byte_is_refused_cleanly },
    { "dn_text_escapes_what_a_terminal_must_not_see", dn_text_escapes_what_a_terminal_must_not_see },
    { "calendar_matches_bearssl_epoch_and_leap_years",
      calendar_matches_bearssl_epoch_and_leap_years },
    { "certificate_times_accept_only_der_forms", certificate_times_accept_only_der_forms },
    { "ipv6_addresses_print_compressed", ipv6_addresses_print_compressed })
