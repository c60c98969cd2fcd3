/* Signatures of SOCKS5 method 0x80's tokens (tls/jws): the issuer's key from a PEM public
 * key or certificate, and only the algorithm that key allows. Keys and tokens below were
 * made once with openssl (genpkey, req -x509) and tests/sapmail/mint.mjs (node:crypto);
 * their private halves were not kept. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jws.h"
#include "jwt.h"

static const char ec_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBPSP1fGiLmqPyBe155w4VLysYf+z\n"
    "6LsEf6IgjQr5kIBwujsRjccuJxfa/W7khO3ieBUmBn0C8hEFiOC0hFqvFw==\n"
    "-----END PUBLIC KEY-----\n";

static const char ec_crt[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBdzCCAR2gAwIBAgIUXBRMwuoeiid17oehdWrGlIBlAcgwCgYIKoZIzj0EAwIw\n"
    "ETEPMA0GA1UEAwwGaXNzdWVyMB4XDTI2MTIwNjA4NDIwNloXDTM2MTIwMzA4NDIw\n"
    "NlowETEPMA0GA1UEAwwGaXNzdWVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n"
    "BPSP1fGiLmqPyBe155w4VLysYf+z6LsEf6IgjQr5kIBwujsRjccuJxfa/W7khO3i\n"
    "eBUmBn0C8hEFiOC0hFqvF6NTMFEwHQYDVR0OBBYEFIPvOlkr+tXS+dFtxdd1l/A8\n"
    "B5qKMB8GA1UdIwQYMBaAFIPvOlkr+tXS+dFtxdd1l/A8B5qKMA8GA1UdEwEB/wQF\n"
    "MAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgB0G8WQQTkRNbEWnK5wdUJmWoK1TRFJrR\n"
    "y6on+RYt5PYCIQCyI0Hs5HO8rTvD29qk17HkZXkfLceDFGbbL7eePbLPkw==\n"
    "-----END CERTIFICATE-----\n";

static const char rsa_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAiI4py13PueKFgPx+LGd4\n"
    "xinHenoxah7L0s6B8/CEeIpx7ASh3vhGAmpkJghJODFo0sz0zMliHUh36/eGro19\n"
    "0aO6LlFRkfTuiDtNiGanrUXKpDBDQWThtyKAXAfh/GM9OLk+6DEM9at1Zpi6VBk+\n"
    "2hvVWOB1DkI4NJkuKx3DycxHbViuiinGgmgOvey/9sIL9QCByr+gJ+3N6yVDV6Dh\n"
    "qzczcaFPXTZcSUZFriy5ePaVjViLO6TKmIxU//AenNNeJp45Zo+/gwREVobckuqk\n"
    "pC29/MfFh+Y8nnOhti8Ifpaxil7Y1dnzH2n8qNEzkf87TB39rHxvoHPqO35HKLTP\n"
    "dQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

/* rsa_pub's modulus with e = 1, and rsa_pub with the modulus's last bit flipped (even). */
static const char rsa_e1_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIDANBgkqhkiG9w0BAQEFAAOCAQ0AMIIBCAKCAQEAiI4py13PueKFgPx+LGd4\n"
    "xinHenoxah7L0s6B8/CEeIpx7ASh3vhGAmpkJghJODFo0sz0zMliHUh36/eGro19\n"
    "0aO6LlFRkfTuiDtNiGanrUXKpDBDQWThtyKAXAfh/GM9OLk+6DEM9at1Zpi6VBk+\n"
    "2hvVWOB1DkI4NJkuKx3DycxHbViuiinGgmgOvey/9sIL9QCByr+gJ+3N6yVDV6Dh\n"
    "qzczcaFPXTZcSUZFriy5ePaVjViLO6TKmIxU//AenNNeJp45Zo+/gwREVobckuqk\n"
    "pC29/MfFh+Y8nnOhti8Ifpaxil7Y1dnzH2n8qNEzkf87TB39rHxvoHPqO35HKLTP\n"
    "dQIBAQ==\n"
    "-----END PUBLIC KEY-----\n";

static const char rsa_even_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAiI4py13PueKFgPx+LGd4\n"
    "xinHenoxah7L0s6B8/CEeIpx7ASh3vhGAmpkJghJODFo0sz0zMliHUh36/eGro19\n"
    "0aO6LlFRkfTuiDtNiGanrUXKpDBDQWThtyKAXAfh/GM9OLk+6DEM9at1Zpi6VBk+\n"
    "2hvVWOB1DkI4NJkuKx3DycxHbViuiinGgmgOvey/9sIL9QCByr+gJ+3N6yVDV6Dh\n"
    "qzczcaFPXTZcSUZFriy5ePaVjViLO6TKmIxU//AenNNeJp45Zo+/gwREVobckuqk\n"
    "pC29/MfFh+Y8nnOhti8Ifpaxil7Y1dnzH2n8qNEzkf87TB39rHxvoHPqO35HKLTP\n"
    "dAIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char rsa1024_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC7REcMQ4mo7f/CW61FHVgegGvu\n"
    "Z/y3ovRu/mUCmIk10MfuV7UvqEeJsXTdP5wutKya7i3QpDIb7kZ0woDehLQT2FjL\n"
    "9dFqjX1nAXoCrJGCH3phiXevbR2V++cN9i2IdAW5bf+cTuJNZCayHCm3CRHyzsdM\n"
    "39EwaQe46imKAEfFmQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char ec384_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEC0kWl1/H+jnCjrFjWd4fK52TR9rZfvDI\n"
    "ZWJ9yHf7dHQc/AAYygcbvcm1Oh02iux3AJHmrRrgit48b7o7pVbn8oQFmzevj5UU\n"
    "59/Kx4Pz4lEPxMyd9sOvpxS6iF3Tijcg\n"
    "-----END PUBLIC KEY-----\n";

static const char tok_es256[] =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL3VhYS50"
    "ZXN0IiwiZXhwIjoyMDAwMDAwMDAwLCJpYXQiOjE3MDAwMDAwMDAsImxvY2F0aW9ucyI6WyJsb2MxIiwi"
    "bG9jMiJdfQ.IRjTyCXjdIZJXS6v3fCRQF6MKXi4UfFuavEPxWm2wFVXnbs11HB5WBFUXa0xXhKMnqC1_"
    "HU_khETt9U54aST8w"
    ;
static const char tok_rs256[] =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL3VhYS50"
    "ZXN0IiwiZXhwIjoyMDAwMDAwMDAwLCJpYXQiOjE3MDAwMDAwMDAsImxvY2F0aW9ucyI6WyJsb2MxIiwi"
    "bG9jMiJdfQ.GZWKNZIzFvsSvxZmhIOoyR_JkzEUGb284raVSdC-37NQohsWiJCYW3_qfd_7QPUnu6cRX"
    "Gom0vmg-m35yDsDfXAHnAWX7gCFzgJGkqeX4svIVe-ezq0HOiSEc2nQm9HTpsnCVk4DS1unt7QDCsUq1"
    "QnlhwXkUj1mVMciAmKxVhzXh8pGZyxfCyUc_qGc7B41bFA53SRijSyrr5OGgstXnlO5V60KoRHWnvGbw"
    "qMcVXUAQhXZFGXYUFE3VrFqsCzxT9_tRmIKoltrfDILI8i3BlFLfdpfF-b0B1s0hxtTRwr-cU_iVJMDW"
    "6IFryBCcw09JVgkREvZa2CaaxT76bTFdg"
    ;
/* A private key pasted where the issuer's public key belongs (the block is refused by its
 * name, before a byte of it is decoded). */
static const char a_private_key[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "AAAA\n"
    "-----END EC PRIVATE KEY-----\n";

static int load(struct jws_key *k, const char *pem, char *why)
{
    return jws_key_load(k, (const uint8_t *)pem, strlen(pem), why, 160);
}

static void issuer_keys_load_from_public_keys_and_certificates(void)
{
    static struct jws_key k, k2;
    char why[160];
    CHECK_EQ(load(&k, ec_pub, why), 0);
    CHECK_EQ(k.alg, JWS_ES256);
    CHECK_EQ(k.bits, 256);
    CHECK_EQ(load(&k2, ec_crt, why), 0);             /* the same key, in a certificate */
    CHECK_EQ(k2.alg, JWS_ES256);
    CHECK(memcmp(k.id, k2.id, 32) == 0);
    CHECK_EQ(load(&k, rsa_pub, why), 0);
    CHECK_EQ(k.alg, JWS_RS256);
    CHECK_EQ(k.bits, 2048);
    CHECK(memcmp(k.id, k2.id, 32) != 0);
    CHECK_EQ(load(&k, rsa1024_pub, why), -1);
    CHECK(strstr(why, "1024 bits") != NULL);
    /* e = 1: the signature would be the padded hash itself, which anyone can write. */
    CHECK_EQ(load(&k, rsa_e1_pub, why), -1);
    CHECK(strstr(why, "exponent") != NULL);
    CHECK_EQ(load(&k, rsa_even_pub, why), -1);
    CHECK(strstr(why, "even modulus") != NULL);
    CHECK_EQ(load(&k, ec384_pub, why), -1);
    CHECK(strstr(why, "P-256") != NULL);
    CHECK_EQ(load(&k, a_private_key, why), -1);
    CHECK(strstr(why, "private key") != NULL);
    CHECK_EQ(load(&k, "no pem here", why), -1);
    CHECK_EQ(load(&k, "-----BEGIN PUBLIC KEY-----\nMFkw\n", why), -1);
    CHECK_EQ(k.alg, 0);                               /* a failed load leaves no key */
}

/* Verify tok (as mint.mjs made it) with key: 1 good. */
static int verify(const struct jws_key *k, const char *tok, int flip)
{
    static struct jwt j;
    size_t len = strlen(tok);
    uint8_t *c = malloc(len);
    memcpy(c, tok, len);
    if (flip >= 0) {
        c[flip] ^= 1;                                 /* 'A' <-> '@' ... a changed byte */
    }
    int r = jwt_parse(&j, c, len) == 0
            && jws_verify(k, j.signing_input, j.signing_input_len, j.sig, j.sig_len);
    free(c);
    return r;
}

static void a_signature_verifies_only_unchanged_and_with_its_key(void)
{
    static struct jws_key ec, rsa;
    char why[160];
    CHECK_EQ(load(&ec, ec_pub, why), 0);
    CHECK_EQ(load(&rsa, rsa_pub, why), 0);
    CHECK_EQ(verify(&ec, tok_es256, -1), 1);
    CHECK_EQ(verify(&rsa, tok_rs256, -1), 1);
    CHECK_EQ(verify(&rsa, tok_es256, -1), 0);         /* the other key (and algorithm) */
    CHECK_EQ(verify(&ec, tok_rs256, -1), 0);
    /* A byte changed in the claims ("exp" -> ...), or in the signature's middle. */
    const char *dot = strchr(tok_es256, '.');
    CHECK_EQ(verify(&ec, tok_es256, (int)(dot - tok_es256) + 5), 0);
    CHECK_EQ(verify(&ec, tok_es256, (int)strlen(tok_es256) - 20), 0);
    CHECK_EQ(verify(&rsa, tok_rs256, (int)strlen(tok_rs256) - 20), 0);
    /* Signatures of the wrong length are not even tried. */
    uint8_t sig[64] = { 0 };
    CHECK_EQ(jws_verify(&ec, (const uint8_t *)"x", 1, sig, 63), 0);
    CHECK_EQ(jws_verify(&ec, (const uint8_t *)"x", 1, sig, 64), 0);
    CHECK_EQ(jws_verify(&rsa, (const uint8_t *)"x", 1, sig, 64), 0);
}

static void only_es256_and_rs256_are_named(void)
{
    CHECK_EQ(jws_alg_named("ES256"), JWS_ES256);
    CHECK_EQ(jws_alg_named("RS256"), JWS_RS256);
    const char *no[] = { "none", "None", "HS256", "HS512", "PS256", "ES384", "es256", "" };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        CHECK_EQ(jws_alg_named(no[i]), 0);
    }
}

CHECK_MAIN(
    { "issuer_keys_load_from_public_keys_and_certificates",
      issuer_keys_load_from_public_keys_and_certificates },
    { "a_signature_verifies_only_unchanged_and_with_its_key",
      a_signature_verifies_only_unchanged_and_with_its_key },
    { "only_es256_and_rs256_are_named", only_es256_and_rs256_are_named })
