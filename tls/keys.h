/* The device key: an ECDSA P-256 key made on the device with BearSSL (br_ec_keygen fed by
 * tls/random's HMAC-DRBG, reseeded from the board first), kept in flash as a short record,
 * never shown. Its public half goes into the CSR and must be in the imported certificate.
 *
 * Stored form (KEY_STORED_LEN bytes): format 0x01, curve 0x17 (BearSSL's BR_EC_secp256r1,
 * the TLS NamedCurve number), then the 32-byte private scalar, big-endian. The public key
 * is recomputed on load. (docs/flash-format.md names the record that holds it.)
 *
 * A struct device_key points into itself (BearSSL's key structs reference the byte
 * arrays): initialise it in place with key_generate() or key_load(), never copy it. Wipe
 * it with key_wipe() when done. RAM: sizeof(struct device_key), about 280 bytes. */
#ifndef GW_KEYS_H
#define GW_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "bearssl.h"

#define KEY_STORED_LEN 34
#define KEY_FORMAT_P256 0x01
#define KEY_SPKI_LEN 91          /* SubjectPublicKeyInfo DER of a P-256 key */
#define KEY_SIG_MAX 72           /* ECDSA P-256 signature, DER */

struct device_key {
    br_ec_private_key sk;        /* .x points into priv */
    br_ec_public_key pk;         /* .q points into pub */
    uint8_t priv[BR_EC_KBUF_PRIV_MAX_SIZE];
    uint8_t pub[BR_EC_KBUF_PUB_MAX_SIZE];
};

/* Make a new key. Returns 0, or TLS_ENORANDOM when the board has no entropy. */
int key_generate(struct device_key *k);
/* The stored form into out: returns KEY_STORED_LEN, or TLS_ENOSPC. */
int key_store(const struct device_key *k, uint8_t *out, size_t cap);
/* A key from its stored form: returns 0, or TLS_EKEY (wrong length, format or curve, or a
 * scalar outside 1..n-1). */
int key_load(struct device_key *k, const uint8_t *p, size_t len);
void key_wipe(struct device_key *k);

/* The public key as SubjectPublicKeyInfo DER: returns KEY_SPKI_LEN, or TLS_ENOSPC. */
int key_spki(const struct device_key *k, uint8_t *out, size_t cap);
/* ECDSA-SHA256 signature (DER, RFC 6979 deterministic) over data: returns its length, or
 * TLS_ENOSPC when cap < KEY_SIG_MAX. */
int key_sign_sha256(const struct device_key *k, const void *data, size_t len,
                    uint8_t *sig, size_t cap);

/* Is this DER certificate for this key? Returns 0 (yes), TLS_EKEY_MISMATCH, or TLS_ECERT
 * (BearSSL cannot decode it). `tunnel cert import` refuses anything but 0. */
int key_matches_cert(const struct device_key *k, const uint8_t *der, size_t len);

#endif
