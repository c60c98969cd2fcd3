/* Fuzz the certificate import path: PEM text (trust import, tunnel cert import) or one DER
 * certificate, then everything the gateway does with what came out: the summary
 * (x509_info), trust anchors (trust), and a chain check with our host-name matching
 * (verify + verdict), the decoded certificates serving as both chain and anchors.
 * First byte: bit 0 picks PEM (1) or DER (0); bit 1 picks an IP host over a DNS one. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pem.h"
#include "trust.h"
#include "verdict.h"
#include "verify.h"
#include "x509_info.h"

#define CERTS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[CERTS * PEM_CERT_MAX];
    static struct pem_decoder dec;
    static struct x509_info xi;
    static br_x509_trust_anchor ta[CERTS];
    static uint8_t arena[CERTS * 2048];
    static struct tls_verify v;
    static struct tls_chain chain;
    struct pem_cert certs[CERTS];
    br_x509_certificate chain_in[CERTS];
    struct trust_store ts;
    char msg[VERDICT_MAX];
    int n;

    if (size < 1) {
        return 0;
    }
    uint8_t mode = data[0];
    data++;
    size--;
    if (mode & 1) {
        n = pem_decode_certs(&dec, data, size, out, sizeof out, certs, CERTS);
        pem_describe(&dec, msg, sizeof msg);
        if (strlen(msg) >= sizeof msg) {
            abort();
        }
        if (n < 0) {
            return 0;
        }
    } else {
        /* libFuzzer hands an exact-size buffer: a read past the end is caught. */
        certs[0].der = data;
        certs[0].len = size;
        n = 1;
    }

    trust_init(&ts, ta, CERTS, arena, sizeof arena);
    for (int i = 0; i < n; i++) {
        if (x509_info_parse(&xi, certs[i].der, certs[i].len) == 0
            && (strlen(xi.subject) >= sizeof xi.subject || strlen(xi.fingerprint) != 64)) {
            abort();
        }
        trust_add_der(&ts, certs[i].der, certs[i].len);
        chain_in[i].data = (unsigned char *)(uintptr_t)certs[i].der;
        chain_in[i].data_len = certs[i].len;
    }
    tls_verify_init(&v, ts.ta, ts.count, (mode & 2) ? "192.0.2.1" : "mail.example.test",
                    1772366400, &chain);
    tls_verify_chain(&v, chain_in, (size_t)n);
    verdict_chain(&v, msg, sizeof msg);
    if (strlen(msg) >= sizeof msg) {
        abort();
    }
    return 0;
}
