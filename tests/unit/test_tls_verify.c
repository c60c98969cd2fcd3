/* The certificate failure matrix, offline: what the trust store holds, what the server
 * sends, the name the mapping expects, and the one-line verdict the operator reads. The
 * chain runs through the same X.509 engine a handshake uses (tls_verify_chain), at the fixed
 * test time 2026-03-01. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bearssl.h"
#include "hostname.h"
#include "test_tls_util.h"
#include "tls_err.h"
#include "trust.h"
#include "verdict.h"
#include "verify.h"

#define ANCHORS 8
static br_x509_trust_anchor ta[ANCHORS];
static uint8_t arena[ANCHORS * TRUST_ARENA_PER_ANCHOR];
static struct trust_store store;
static uint8_t ders[16][4096];
static size_t nders;
static struct tls_verify ver;
static struct tls_chain chain;
static char verdict[VERDICT_MAX];

static uint8_t *load_der(const char *name, size_t *len)
{
    char file[64];
    snprintf(file, sizeof file, "%s.der", name);
    uint8_t *p = ders[nders++ % 16];
    *len = pki_load(file, p, sizeof ders[0]);
    return p;
}

/* The trust store: a space-separated list of PKI names. */
static int stored(const char *names)
{
    char buf[128], *save = NULL;
    snprintf(buf, sizeof buf, "%s", names);
    trust_init(&store, ta, ANCHORS, arena, sizeof arena);
    for (char *n = strtok_r(buf, " ", &save); n; n = strtok_r(NULL, " ", &save)) {
        size_t len;
        const uint8_t *der = load_der(n, &len);
        if (len == 0 || trust_add_der(&store, der, len) < 0) {
            return -1;
        }
    }
    return 0;
}

/* What the server sends (space-separated names, leaf first), the host the mapping expects,
 * at time now: returns the verifier's result and leaves the verdict in verdict[]. */
static int connect_at(const char *sent, const char *host, int64_t now)
{
    br_x509_certificate certs[8];
    size_t n = 0;
    char buf[128], *save = NULL;
    snprintf(buf, sizeof buf, "%s", sent);
    for (char *s = strtok_r(buf, " ", &save); s && n < 8; s = strtok_r(NULL, " ", &save)) {
        size_t len;
        const uint8_t *der = load_der(s, &len);
        certs[n].data = (unsigned char *)(uintptr_t)der;
        certs[n].data_len = len;
        n++;
    }
    tls_verify_init(&ver, store.ta, store.count, host, now, &chain);
    int r = tls_verify_chain(&ver, certs, n);
    verdict_chain(&ver, verdict, sizeof verdict);
    return r;
}

static int connect_to(const char *sent, const char *host)
{
    return connect_at(sent, host, TEST_NOW);
}

#define CHECK_VERDICT(want) do { \
        if (strcmp(verdict, want) != 0) { \
            fprintf(stderr, "verdict: %s\nwanted:  %s\n", verdict, want); \
        } \
        CHECK(strcmp(verdict, want) == 0); \
    } while (0)

static void valid_chain_with_root_in_store_is_accepted(void)
{
    CHECK_EQ(stored("root"), 0);
    CHECK_EQ(connect_to("leaf-ec inter", "mail.example.test"), 0);
    CHECK_VERDICT("ok: chain anchored at \"CN=Lab Root CA, O=Gateway Test Lab\"");
    CHECK_EQ(connect_to("leaf-rsa inter", "mail.example.test"), 0);
    /* The second SAN of the same certificate, and any case. */
    CHECK_EQ(connect_to("leaf-ec inter", "IMAP.Example.Test"), 0);
}

static void server_sends_only_leaf_and_intermediate_is_in_store_is_accepted(void)
{
    CHECK_EQ(stored("root inter"), 0);
    CHECK_EQ(connect_to("leaf-ec", "mail.example.test"), 0);
    CHECK_VERDICT("ok: chain anchored at \"CN=Lab Intermediate CA, O=Gateway Test Lab\"");
    /* Only the intermediate, without its root, is enough too. */
    CHECK_EQ(stored("inter"), 0);
    CHECK_EQ(connect_to("leaf-rsa", "mail.example.test"), 0);
}

static void server_sends_only_leaf_and_only_root_is_stored_names_missing_issuer(void)
{
    CHECK_EQ(stored("root"), 0);
    CHECK_EQ(connect_to("leaf-ec", "mail.example.test"), BR_ERR_X509_NOT_TRUSTED);
    CHECK_VERDICT("unknown issuer \"CN=Lab Intermediate CA, O=Gateway Test Lab\" "
                  "(not in trust store)");
}

static void chain_to_a_root_not_in_store_names_that_root(void)
{
    CHECK_EQ(stored("other-root"), 0);
    CHECK_EQ(connect_to("leaf-ec inter", "mail.example.test"), BR_ERR_X509_NOT_TRUSTED);
    CHECK_VERDICT("unknown issuer \"CN=Lab Root CA, O=Gateway Test Lab\" (not in trust store)");
    /* An empty store says the same: nothing is trusted by default. */
    CHECK_EQ(stored(""), 0);
    CHECK_EQ(connect_to("leaf-ec inter", "mail.example.test"), BR_ERR_X509_NOT_TRUSTED);
}

static void expired_leaf_says_when(void)
{
    CHECK_EQ(stored("root"), 0);
    CHECK_EQ(connect_to("expired inter", "mail.example.test"), BR_ERR_X509_EXPIRED);
    CHECK_VERDICT("expired 2021-01-01");
}

static void not_yet_valid_leaf_says_from_when(void)
{
    CHECK_EQ(stored("root"), 0);
    CHECK_EQ(connect_to("notyet inter", "mail.example.test"), BR_ERR_X509_EXPIRED);
    CHECK_VERDICT("not yet valid until 2030-01-01");
}

static void wrong_host_name_says_what_the_certificate_has(void)
{
    CHECK_EQ(stored("root"), 0);
    CHECK_EQ(connect_to("wrongname inter", "mail.example.test"), BR_ERR_X509_BAD_SERVER_NAME);
    CHECK_VERDICT("name mismatch: wanted mail.example.test, certificate has other.example.test");
    CHECK_EQ(connect_to("leaf-ec inter", "smtp.example.test"), BR_ERR_X509_BAD_SERVER_NAME);
    CHECK_VERDICT("name mismatch: wanted smtp.example.test, certificate has mail.example.test, "
                  "imap.example.test");
}

static void self_signed_leaf_not_in_store_is_named(void)
{
    CHECK_EQ(stored("root inter"), 0);
    CHECK_EQ(connect_to("selfsigned", "mail.example.test"), BR_ERR_X509_NOT_TRUSTED);
    CHECK_VERDICT("self-signed certificate \"CN=mail.example.test, O=Gateway Test Lab\" "
                  "(not in trust store)");
}

static void self_signed_leaf_imported_into_store_is_pinned(void)
{
    CHECK_EQ(stored("selfsigned"), 0);
    CHECK_EQ(ta[0].flags & BR_X509_TA_CA, 0);          /* trusted directly, not as a CA */
    CHECK_EQ(connect_to("selfsigned", "mail.example.test"), 0);
    /* Pinning the key does not pin the name. */
    CHECK_EQ(connect_to("selfsigned", "other.example.test"), BR_ERR_X509_BAD_SERVER_NAME);
}

static void ip_address_names_match_only_san_ip_entries(void)
{
    CHECK_EQ(stored("root"), 0);
    CHECK_EQ(connect_to("ip inter", "127.0.0.1"), 0);
    CHECK_EQ(connect_to("ip inter", "::1"), 0);
    CHECK_EQ(connect_to("ip inter", "0:0:0:0:0:0:0:1"), 0);
    CHECK_EQ(connect_to("ip inter", "127.0.0.2"), BR_ERR_X509_BAD_SERVER_NAME);
    CHECK_VERDICT("name mismatch: wanted 127.0.0.2, certificate has 127.0.0.1, ::1");
    /* A DNS certificate never matches an address, nor an address certificate a name. */
    CHECK_EQ(connect_to("leaf-ec inter", "127.0.0.1"), BR_ERR_X509_BAD_SERVER_NAME);
    CHECK_EQ(connect_to("ip inter", "localhost"), BR_ERR_X509_BAD_SERVER_NAME);
}

static void wildcard_covers_exactly_one_label(void)
{
    CHECK_EQ(stored("root"), 0);
    CHECK_EQ(connect_to("wild inter", "mail.example.test"), 0);
    CHECK_EQ(connect_to("wild inter", "example.test"), BR_ERR_X509_BAD_SERVER_NAME);
    CHECK_EQ(connect_to("wild inter", "a.b.example.test"), BR_ERR_X509_BAD_SERVER_NAME);
    CHECK_VERDICT("name mismatch: wanted a.b.example.test, certificate has *.example.test");
}

static void legacy_certificate_without_san_matches_its_cn(void)
{
    CHECK_EQ(stored("root"), 0);
    CHECK_EQ(connect_to("cnonly inter", "legacy.example.test"), 0);
    CHECK_EQ(connect_to("cnonly inter", "mail.example.test"), BR_ERR_X509_BAD_SERVER_NAME);
    CHECK_VERDICT("name mismatch: wanted mail.example.test, certificate has legacy.example.test");
    /* With a SAN, the CN is not consulted: leaf-ec's CN is also its SAN, so use wildcard. */
    CHECK_EQ(connect_to("wild inter", "*.example.test"), BR_ERR_X509_BAD_SERVER_NAME);
}

static void a_san_of_any_kind_rules_out_the_cn(void)
{
    CHECK_EQ(stored("root"), 0);
    CHECK_EQ(connect_to("emailsan inter", "legacy.example.test"), BR_ERR_X509_BAD_SERVER_NAME);
    CHECK_VERDICT("name mismatch: wanted legacy.example.test, certificate has no names");
}

static void a_client_certificate_never_vouches_for_a_server(void)
{
    CHECK_EQ(stored("root"), 0);
    CHECK_EQ(connect_to("clientonly inter", "mail.example.test"),
             BR_ERR_X509_FORBIDDEN_KEY_USAGE);
    CHECK_VERDICT("server certificate is not for server authentication (its extended key "
                  "usage lacks serverAuth)");
    CHECK_EQ(connect_to("leaf-ec inter", "mail.example.test"), 0);   /* serverAuth, clientAuth */
    CHECK_EQ(connect_to("cnonly inter", "legacy.example.test"), 0);  /* serverAuth only */
}

static void clock_at_1970_fails_closed_whatever_the_chain(void)
{
    CHECK_EQ(stored("root"), 0);
    CHECK_EQ(connect_at("leaf-ec inter", "mail.example.test", 0), BR_ERR_X509_TIME_UNKNOWN);
    CHECK_VERDICT("clock not set (1970-01-01): certificates cannot be checked yet");
    CHECK_EQ(connect_at("leaf-ec inter", "mail.example.test", VERIFY_TIME_MIN - 1),
             BR_ERR_X509_TIME_UNKNOWN);
}

static void server_sending_no_certificate_is_named(void)
{
    CHECK_EQ(stored("root"), 0);
    CHECK_EQ(connect_to("", "mail.example.test"), BR_ERR_X509_EMPTY_CHAIN);
    CHECK_VERDICT("server sent no certificate");
}

static void chain_in_the_wrong_order_or_with_a_stranger_is_broken(void)
{
    CHECK_EQ(stored("root"), 0);
    CHECK_EQ(connect_to("leaf-ec other-root", "mail.example.test"), BR_ERR_X509_DN_MISMATCH);
    CHECK_VERDICT("broken chain: \"CN=mail.example.test, O=Gateway Test Lab\" is followed by "
                  "\"CN=Other Root CA, O=Elsewhere\", not by its issuer");
}

static void tampered_leaf_signature_is_caught(void)
{
    size_t len, ilen;
    CHECK_EQ(stored("root"), 0);
    uint8_t *leaf = load_der("leaf-ec", &len);
    uint8_t *inter = load_der("inter", &ilen);
    CHECK(len > 0 && ilen > 0);
    leaf[len - 5] ^= 0x01;                        /* inside the ECDSA signature's s */
    br_x509_certificate certs[2] = { { leaf, len }, { inter, ilen } };
    tls_verify_init(&ver, store.ta, store.count, "mail.example.test", TEST_NOW, NULL);
    CHECK_EQ(tls_verify_chain(&ver, certs, 2), BR_ERR_X509_BAD_SIGNATURE);
    verdict_chain(&ver, verdict, sizeof verdict);
    CHECK_VERDICT("bad signature on \"CN=mail.example.test, O=Gateway Test Lab\" "
                  "(issuer \"CN=Lab Intermediate CA, O=Gateway Test Lab\")");
}

static void the_chain_the_server_sent_is_captured_for_probe(void)
{
    CHECK_EQ(stored("other-root"), 0);
    CHECK_EQ(connect_to("leaf-rsa inter", "mail.example.test"), BR_ERR_X509_NOT_TRUSTED);
    CHECK_EQ(chain.count, 2);
    CHECK(strcmp(chain.cert[0].subject, "CN=mail.example.test, O=Gateway Test Lab") == 0);
    CHECK(strcmp(chain.cert[0].issuer, "CN=Lab Intermediate CA, O=Gateway Test Lab") == 0);
    CHECK(strcmp(chain.cert[0].key_text, "RSA-2048") == 0);
    CHECK(strcmp(chain.cert[1].subject, "CN=Lab Intermediate CA, O=Gateway Test Lab") == 0);
    CHECK(strcmp(chain.cert[1].issuer, "CN=Lab Root CA, O=Gateway Test Lab") == 0);
    CHECK_EQ(chain.cert[1].is_ca, 1);
    CHECK_EQ(chain.cert[1].not_after, 2208988800LL);     /* 2040-01-01 */
}

static void dns_name_rules(void)
{
    static const struct { const char *pattern, *host; int match; } t[] = {
        { "mail.example.test", "mail.example.test", 1 },
        { "MAIL.example.TEST", "mail.Example.test", 1 },
        { "mail.example.test.", "mail.example.test", 1 },
        { "mail.example.test", "mail.example.test.", 1 },
        { "mail.example.test", "mail.example.tes", 0 },
        { "mail.example.test", "xmail.example.test", 0 },
        { "*.example.test", "mail.example.test", 1 },
        { "*.example.test", "example.test", 0 },
        { "*.example.test", ".example.test", 0 },
        { "*.example.test", "a.b.example.test", 0 },
        { "*.test", "example.test", 0 },
        { "*", "test", 0 },
        { "m*.example.test", "mail.example.test", 0 },
        { "*mail.example.test", "mail.example.test", 0 },
        { "mail.*.test", "mail.example.test", 0 },
        { "**.example.test", "a.example.test", 0 },
        { "mail.example.test", "", 0 },
        { "", "mail.example.test", 0 },
        { "mail example.test", "mail example.test", 0 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int m = host_match_dns((const uint8_t *)t[i].pattern, strlen(t[i].pattern), t[i].host);
        if (m != t[i].match) {
            fprintf(stderr, "pattern %s host %s: %d\n", t[i].pattern, t[i].host, m);
        }
        CHECK_EQ(m, t[i].match);
    }
    /* A NUL inside a certificate name never matches a prefix of it. */
    CHECK_EQ(host_match_dns((const uint8_t *)"mail.example.test\0.evil", 23,
                            "mail.example.test"), 0);
}

static void ip_literal_rules(void)
{
    uint8_t a[16];
    static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    CHECK_EQ(host_parse_ip("192.0.2.1", a), 4);
    CHECK(a[0] == 192 && a[3] == 1);
    CHECK_EQ(host_parse_ip("2001:db8::1", a), 16);
    CHECK(memcmp(a, v6, 16) == 0);
    CHECK_EQ(host_parse_ip("::ffff:192.0.2.1", a), 16);
    CHECK(a[10] == 0xff && a[12] == 192 && a[15] == 1);
    CHECK_EQ(host_parse_ip("::", a), 16);
    static const char *bad[] = { "192.0.2", "192.0.2.1.5", "256.0.0.1", "01.2.3.4", "1.2.3.4 ",
                                 "1:2:3:4:5:6:7:8:9", "1::2::3", ":1::", "12345::", "1:2:3:4:5:6:7",
                                 "mail.example.test", "", "::1::" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (host_parse_ip(bad[i], a) != 0) {
            fprintf(stderr, "accepted %s\n", bad[i]);
        }
        CHECK_EQ(host_parse_ip(bad[i], a), 0);
    }
}

static void trust_store_reuses_duplicates_and_reports_full(void)
{
    size_t len, rlen;
    trust_init(&store, ta, 2, arena, sizeof arena);
    const uint8_t *root = load_der("root", &rlen);
    CHECK_EQ(trust_add_der(&store, root, rlen), 0);
    size_t used = store.used;
    CHECK_EQ(trust_add_der(&store, root, rlen), 0);
    CHECK_EQ(store.used, used);
    CHECK(ta[0].flags & BR_X509_TA_CA);
    const uint8_t *inter = load_der("inter", &len);
    CHECK_EQ(trust_add_der(&store, inter, len), 1);
    const uint8_t *other = load_der("other-root", &len);
    CHECK_EQ(trust_add_der(&store, other, len), TLS_ETRUST_FULL);
    printf("RAM per anchor: %zu bytes slot + %zu bytes (RSA-2048 root), %zu bytes (P-256 CA)\n",
           sizeof(br_x509_trust_anchor), used, store.used - used);
    /* A section is a store of its own in the same table: the CA is added again, once. */
    inter = load_der("inter", &len);
    trust_init(&store, ta, 3, arena, sizeof arena);
    CHECK_EQ(trust_add_der(&store, inter, len), 0);
    trust_section(&store);
    CHECK_EQ(trust_add_der(&store, inter, len), 1);
    CHECK_EQ(trust_add_der(&store, inter, len), 1);
    CHECK_EQ(store.count, 2);
    /* A small arena: refused, and nothing half-added. */
    static uint8_t small[100];
    trust_init(&store, ta, 2, small, sizeof small);
    CHECK_EQ(trust_add_der(&store, root, rlen), TLS_ETRUST_FULL);
    CHECK_EQ(store.count, 0);
    CHECK_EQ(store.used, 0);
    /* Garbage is not a certificate. */
    trust_init(&store, ta, 2, arena, sizeof arena);
    CHECK_EQ(trust_add_der(&store, (const uint8_t *)"\x30\x03\x02\x01\x00", 5), TLS_ECERT);
}

static void bearssl_errors_and_alerts_have_names(void)
{
    CHECK(strcmp(verdict_br_err_name(BR_ERR_X509_EXPIRED), "BR_ERR_X509_EXPIRED") == 0);
    CHECK(strcmp(verdict_br_err_name(BR_ERR_BAD_MAC), "BR_ERR_BAD_MAC") == 0);
    CHECK(verdict_br_err_name(999) == NULL);
    verdict_handshake(BR_ERR_RECV_FATAL_ALERT + 40, NULL, verdict, sizeof verdict);
    CHECK_VERDICT("handshake failed: server sent fatal alert 40 (handshake_failure)");
    verdict_handshake(BR_ERR_UNKNOWN_TYPE, NULL, verdict, sizeof verdict);
    CHECK_VERDICT("handshake failed: BearSSL error 9 (BR_ERR_UNKNOWN_TYPE)");
    verdict_handshake(77, NULL, verdict, sizeof verdict);
    CHECK_VERDICT("handshake failed: BearSSL error 77 (unknown)");
    printf("RAM for the verifier: %zu bytes (x509_minimal %zu, certificate buffer %u)\n",
           sizeof(struct tls_verify), sizeof(br_x509_minimal_context), (unsigned)VERIFY_CERT_MAX);
}

TLS_TEST_MAIN(
    { "valid_chain_with_root_in_store_is_accepted", valid_chain_with_root_in_store_is_accepted },
    { "server_sends_only_leaf_and_intermediate_is_in_store_is_accepted",
      server_sends_only_leaf_and_intermediate_is_in_store_is_accepted },
    { "server_sends_only_leaf_and_only_root_is_stored_names_missing_issuer",
      server_sends_only_leaf_and_only_root_is_stored_names_missing_issuer },
    { "chain_to_a_root_not_in_store_names_that_root",
      chain_to_a_root_not_in_store_names_that_root },
    { "expired_leaf_says_when", expired_leaf_says_when },
    { "not_yet_valid_leaf_says_from_when", not_yet_valid_leaf_says_from_when },
    { "wrong_host_name_says_what_the_certificate_has",
      wrong_host_name_says_what_the_certificate_has },
    { "self_signed_leaf_not_in_store_is_named", self_signed_leaf_not_in_store_is_named },
    { "self_signed_leaf_imported_into_store_is_pinned",
      self_signed_leaf_imported_into_store_is_pinned },
    { "ip_address_names_match_only_san_ip_entries", ip_address_names_match_only_san_ip_entries },
    { "wildcard_covers_exactly_one_label", wildcard_covers_exactly_one_label },
    { "legacy_certificate_without_san_matches_its_cn",
      legacy_certificate_without_san_matches_its_cn },
    { "a_san_of_any_kind_rules_out_the_cn", a_san_of_any_kind_rules_out_the_cn },
    { "a_client_certificate_never_vouches_for_a_server",
      a_client_certificate_never_vouches_for_a_server },
    { "clock_at_1970_fails_closed_whatever_the_chain",
      clock_at_1970_fails_closed_whatever_the_chain },
    { "server_sending_no_certificate_is_named", server_sending_no_certificate_is_named },
    { "chain_in_the_wrong_order_or_with_a_stranger_is_broken",
      chain_in_the_wrong_order_or_with_a_stranger_is_broken },
    { "tampered_leaf_signature_is_caught", tampered_leaf_signature_is_caught },
    { "the_chain_the_server_sent_is_captured_for_probe",
      the_chain_the_server_sent_is_captured_for_probe },
    { "dns_name_rules", dns_name_rules },
    { "ip_literal_rules", ip_literal_rules },
    { "trust_store_reuses_duplicates_and_reports_full",
      trust_store_reuses_duplicates_and_reports_full },
    { "bearssl_errors_and_alerts_have_names", bearssl_errors_and_alerts_have_names })
