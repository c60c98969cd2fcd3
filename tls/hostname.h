/* Does a server certificate name the host we meant to reach? RFC 6125 rules, our own
 * implementation (BearSSL's minimal validator matches DNS names only):
 *
 *   - A host that is an IP literal (IPv4 dotted quad, IPv6) matches only SAN iPAddress
 *     entries, byte for byte; never a DNS name, never the CN.
 *   - A DNS host matches SAN dNSName entries, ASCII case-insensitively, a trailing dot on
 *     either side ignored. A wildcard is allowed only as the whole left-most label ("*.b.c"),
 *     stands for exactly one non-empty label, and needs at least two labels after it
 *     ("*.test" and "f*.b.c" never match).
 *   - The subject CN is consulted only when the certificate has no SAN extension at all
 *     (legacy certificates), with the same DNS rules: a SAN of other kinds only (an e-mail
 *     address, a URI) still rules the CN out.
 * Nothing here allocates; certificate bytes are read within their bounds only. */
#ifndef GW_HOSTNAME_H
#define GW_HOSTNAME_H

#include <stddef.h>
#include <stdint.h>

#include "x509_info.h"

#define HOST_NAME_MAX_LEN 253   /* longest DNS name accepted as the expected host */

/* An IP literal: returns 4 or 16 with the address in addr, or 0 for anything else. */
int host_parse_ip(const char *host, uint8_t addr[16]);

/* 1 when a certificate DNS name (pattern, len bytes, possibly "*.") matches the DNS host. */
int host_match_dns(const uint8_t *pattern, size_t len, const char *host);

/* Checks the leaf: returns 1 (match), 0 (no match) or TLS_EDER (the certificate's names
 * are malformed). On no match, have receives the names the certificate does carry, for
 * the verdict ("other.example.test, 192.0.2.7"), cut with "..." when long. */
int host_check_cert(const struct x509_parts *x, const char *host, char *have, size_t have_len);

#endif
