/* `trust import` and `tunnel cert import`: what an operator pastes, and what the gateway
 * makes of it. Every refusal names the block and says what is wrong with it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pem.h"
#include "test_tls_util.h"
#include "tls_err.h"

#define TEXT_MAX 32768

static uint8_t text[TEXT_MAX], text2[2 * TEXT_MAX];
static uint8_t der[4][4096];
static size_t der_len[4];
static uint8_t out[16384];
static struct pem_cert certs[8];
static struct pem_decoder dec;
static char msg[PEM_MSG_MAX];

/* The leaf and intermediate a server would send, as PEM text and as DER. */
static size_t load_chain(void)
{
    der_len[0] = pki_load("leaf-ec.der", der[0], sizeof der[0]);
    der_len[1] = pki_load("inter.der", der[1], sizeof der[1]);
    return pki_load("chain-ec.pem", text, sizeof text);
}

static int decode(const uint8_t *p, size_t len)
{
    int n = pem_decode_certs(&dec, p, len, out, sizeof out, certs, 8);
    pem_describe(&dec, msg, sizeof msg);
    return n;
}

static size_t append(uint8_t *dst, size_t at, const char *s)
{
    size_t n = strlen(s);
    memcpy(dst + at, s, n);
    return at + n;
}

static void chain_pasted_from_a_mail_with_crlf_and_indent_imports_both(void)
{
    size_t len = load_chain();
    CHECK(len > 0);
    /* What a mail client makes of it: a greeting, CRLF, every line indented. */
    size_t n = append(text2, 0, "Hi, here is the chain:\r\n\r\n");
    int line_start = 1;
    for (size_t i = 0; i < len; i++) {
        if (line_start) {
            n = append(text2, n, "  \t");
        }
        if (text[i] == '\n') {
            text2[n++] = '\r';
        }
        text2[n++] = text[i];
        line_start = text[i] == '\n';
    }
    n = append(text2, n, "\r\nRegards, Lab\r\n");
    CHECK_EQ(decode(text2, n), 2);
    CHECK(strcmp(msg, "2 certificates") == 0);
    CHECK_EQ(certs[0].len, der_len[0]);
    CHECK(memcmp(certs[0].der, der[0], der_len[0]) == 0);
    CHECK_EQ(certs[1].len, der_len[1]);
    CHECK(memcmp(certs[1].der, der[1], der_len[1]) == 0);
}

static void text_arriving_a_byte_at_a_time_decodes_the_same(void)
{
    size_t len = load_chain();
    CHECK(len > 0);
    pem_init(&dec, out, sizeof out, certs, 8);
    for (size_t i = 0; i < len; i++) {
        CHECK_EQ(pem_push(&dec, text + i, 1), 0);
    }
    CHECK_EQ(pem_finish(&dec), 2);
    CHECK(memcmp(certs[1].der, der[1], der_len[1]) == 0);
}

static void last_line_without_newline_still_counts(void)
{
    size_t len = load_chain();
    CHECK(len > 0 && text[len - 1] == '\n');
    CHECK_EQ(decode(text, len - 1), 2);
}

static void openssl_showcerts_output_with_text_around_blocks_imports(void)
{
    size_t len = load_chain();
    size_t n = append(text2, 0, "subject=O = Gateway Test Lab, CN = mail.example.test\n"
                                "issuer=O = Gateway Test Lab, CN = Lab Intermediate CA\n");
    memcpy(text2 + n, text, len);
    n += len;
    n = append(text2, n, "---\nServer certificate\n");
    CHECK_EQ(decode(text2, n), 2);
}

static void private_key_pasted_by_mistake_is_refused_before_it_is_decoded(void)
{
    size_t len = load_chain();
    size_t klen = pki_load("leaf-ec.key", text + len, sizeof text - len);
    CHECK(klen > 0);
    CHECK_EQ(decode(text, len + klen), TLS_EPEM_PRIVKEY);
    CHECK(strstr(msg, "block 3") != NULL);
    CHECK(strstr(msg, "is a private key (PRIVATE KEY)") != NULL);
    /* Not one byte of the key reached the caller's buffer. */
    CHECK_EQ(dec.used, der_len[0] + der_len[1]);
    /* The older spelling, anywhere in the paste, is refused the same way. */
    const char *ec = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\n";
    CHECK_EQ(decode((const uint8_t *)ec, strlen(ec)), TLS_EPEM_PRIVKEY);
    CHECK(strcmp(msg, "block 1 (line 1) is a private key (EC PRIVATE KEY): "
                      "paste certificates only") == 0);
}

static void certificate_request_instead_of_certificate_is_named(void)
{
    size_t len = pki_load("leaf-ec.csr", text, sizeof text);
    CHECK(len > 0);
    CHECK_EQ(decode(text, len), TLS_EPEM_TYPE);
    CHECK(strcmp(msg, "block 1 (line 1) is a \"CERTIFICATE REQUEST\", not a certificate") == 0);
}

static void paste_cut_short_says_so_wherever_it_stops(void)
{
    size_t len = load_chain();
    /* Anywhere inside the second block: from its BEGIN line to just before its END. */
    const uint8_t *second = (const uint8_t *)strstr((const char *)text + 10, "-----BEGIN");
    const uint8_t *end2 = (const uint8_t *)strstr((const char *)second, "-----END");
    CHECK(second && end2);
    for (const uint8_t *cut = second + 28; cut < end2; cut++) {
        int n = decode(text, (size_t)(cut - text));
        if (n != TLS_EPEM_TRUNC) {
            fprintf(stderr, "cut at %zu: %s\n", (size_t)(cut - text), msg);
        }
        CHECK_EQ(n, TLS_EPEM_TRUNC);
        CHECK(strstr(msg, "block 2") != NULL);
    }
    CHECK(strstr(msg, "has no END line") != NULL);
    (void)len;
}

static void missing_end_line_between_two_blocks_names_the_first(void)
{
    size_t len = load_chain();
    char *end1 = strstr((char *)text, "-----END CERTIFICATE-----\n");
    CHECK(end1 != NULL);
    size_t cut = (size_t)(end1 - (char *)text), skip = strlen("-----END CERTIFICATE-----\n");
    memcpy(text2, text, cut);
    memcpy(text2 + cut, text + cut + skip, len - cut - skip);
    CHECK_EQ(decode(text2, len - skip), TLS_EPEM_TRUNC);
    CHECK(strcmp(msg, "block 1 (line 1) has no END line: the paste is cut short") == 0);
}

static void text_without_any_block_is_refused(void)
{
    const char *s = "MIIBszCCAVmgAwIBAgICEAAwCgYIKoZIzj0EAwIwOzEZMBcGA1UECgwQ\n";
    CHECK_EQ(decode((const uint8_t *)s, strlen(s)), TLS_EPEM_NONE);
    CHECK(strcmp(msg, "no \"-----BEGIN CERTIFICATE-----\" block found") == 0);
    CHECK_EQ(decode((const uint8_t *)"", 0), TLS_EPEM_NONE);
    /* Binary noise, NULs included. */
    for (size_t i = 0; i < 4096; i++) {
        text[i] = (uint8_t)(i * 7919u >> 3);
    }
    CHECK(decode(text, 4096) < 0);
}

static void bad_base64_names_the_line(void)
{
    size_t len = load_chain();
    char *l3 = strchr(strchr((char *)text, '\n') + 1, '\n') + 1;   /* line 3 */
    l3[5] = '!';
    CHECK_EQ(decode(text, len), TLS_EPEM_BASE64);
    CHECK(strcmp(msg, "block 1 (line 1): bad Base64 at line 3") == 0);
}

static void block_that_is_not_a_der_certificate_is_refused(void)
{
    /* "hello world" and an empty block. */
    const char *s = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    CHECK_EQ(decode((const uint8_t *)s, strlen(s)), TLS_EPEM_NOTDER);
    CHECK(strcmp(msg, "block 1 (line 1) does not hold a DER certificate") == 0);
    const char *e = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
    CHECK_EQ(decode((const uint8_t *)e, strlen(e)), TLS_EPEM_NOTDER);
}

static void more_certificates_than_room_is_refused_whole(void)
{
    size_t len = load_chain();
    CHECK_EQ(pem_decode_certs(&dec, text, len, out, sizeof out, certs, 1), TLS_EPEM_TOOMANY);
    pem_describe(&dec, msg, sizeof msg);
    CHECK(strncmp(msg, "block 2 (line ", 14) == 0);
    CHECK(strstr(msg, "): more than 1 certificates") != NULL);
    CHECK_EQ(pem_decode_certs(&dec, text, len, out, der_len[0] + 10, certs, 8), TLS_ENOSPC);
    pem_describe(&dec, msg, sizeof msg);
    CHECK(strstr(msg, "block 2") != NULL && strstr(msg, "no room") != NULL);
}

static void oversized_certificate_is_refused(void)
{
    /* A block decoding to more than PEM_CERT_MAX bytes: 'A' * n is zero bytes. */
    size_t n = append(text2, 0, "-----BEGIN CERTIFICATE-----\n");
    for (size_t i = 0; i < (PEM_CERT_MAX / 48 + 2); i++) {
        n = append(text2, n, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
    }
    n = append(text2, n, "-----END CERTIFICATE-----\n");
    static uint8_t big[3 * PEM_CERT_MAX];
    CHECK_EQ(pem_decode_certs(&dec, text2, n, big, sizeof big, certs, 8), TLS_EPEM_TOOBIG);
}

TLS_TEST_MAIN(
    { "chain_pasted_from_a_mail_with_crlf_and_indent_imports_both",
      chain_pasted_from_a_mail_with_crlf_and_indent_imports_both },
    { "text_arriving_a_byte_at_a_time_decodes_the_same",
      text_arriving_a_byte_at_a_time_decodes_the_same },
    { "last_line_without_newline_still_counts", last_line_without_newline_still_counts },
    { "openssl_showcerts_output_with_text_around_blocks_imports",
      openssl_showcerts_output_with_text_around_blocks_imports },
    { "private_key_pasted_by_mistake_is_refused_before_it_is_decoded",
      private_key_pasted_by_mistake_is_refused_before_it_is_decoded },
    { "certificate_request_instead_of_certificate_is_named",
      certificate_request_instead_of_certificate_is_named },
    { "paste_cut_short_says_so_wherever_it_stops", paste_cut_short_says_so_wherever_it_stops },
    { "missing_end_line_between_two_blocks_names_the_first",
      missing_end_line_between_two_blocks_names_the_first },
    { "text_without_any_block_is_refused", text_without_any_block_is_refused },
    { "bad_base64_names_the_line", bad_base64_names_the_line },
    { "block_that_is_not_a_der_certificate_is_refused",
      block_that_is_not_a_der_certificate_is_refused },
    { "more_certificates_than_room_is_refused_whole",
      more_certificates_than_room_is_refused_whole },
    { "oversized_certificate_is_refused", oversized_certificate_is_refused })
