/* `tunnel csr`: a PKCS#10 certificate request (RFC 2986) for the device key, subject
 * "CN=<Location ID>", signed ECDSA-SHA256 with that key, built by our own DER writer and
 * printed as PEM ("-----BEGIN CERTIFICATE REQUEST-----", 64-column lines). No attributes,
 * no extensions: the CA decides the certificate's contents. `openssl req -verify` accepts it
 * (the unit test checks). Signatures are deterministic (RFC 6979): the same key and name
 * give the same request. */
#ifndef GW_CSR_H
#define GW_CSR_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define CSR_CN_MAX 64            /* X.520 ub-common-name */
#define CSR_DER_MAX 320          /* enough for a 64-byte CN */
#define CSR_PEM_MAX 520          /* PEM of CSR_DER_MAX bytes, NUL included */

/* The request as DER: returns its length, TLS_ENAME (cn empty, longer than CSR_CN_MAX or
 * not printable ASCII), or TLS_ENOSPC. */
int csr_build_der(const struct device_key *k, const char *cn, uint8_t *out, size_t cap);
/* The request as PEM text, NUL-terminated: returns its length (without the NUL) or an
 * error as above. */
int csr_build_pem(const struct device_key *k, const char *cn, char *out, size_t cap);

#endif
