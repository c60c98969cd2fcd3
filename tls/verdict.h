/* One line for the log and the console about how a TLS handshake or a chain check ended:
 *
 *   ok: chain anchored at "CN=Lab Root CA, O=Gateway Test Lab"
 *   unknown issuer "CN=Lab Intermediate CA, O=Gateway Test Lab" (not in trust store)
 *   self-signed certificate "CN=mail.example.test, O=..." (not in trust store)
 *   expired 2021-01-01                          not yet valid until 2030-01-01
 *   name mismatch: wanted mail.example.test, certificate has other.example.test
 *   server sent no certificate                  clock not set (1970-01-01): ...
 *   handshake failed: server sent fatal alert 40 (handshake_failure)
 *   handshake failed: BearSSL error 9 (BR_ERR_UNKNOWN_TYPE)
 *
 * Verdicts fit in VERDICT_MAX bytes (long names are cut with "..."), are printable ASCII,
 * and never contain secrets. */
#ifndef GW_VERDICT_H
#define GW_VERDICT_H

#include <stddef.h>

#include "verify.h"

#define VERDICT_MAX 240

/* "BR_ERR_X509_EXPIRED" for BearSSL's error codes (SSL and X.509); NULL when unknown. */
const char *verdict_br_err_name(int err);
/* "handshake_failure" for a TLS alert number; NULL when unknown. */
const char *verdict_alert_name(int alert);

/* The verdict of a chain check (after tls_verify_chain() or a handshake's certificate
 * step). Returns buf. */
char *verdict_chain(const struct tls_verify *v, char *buf, size_t len);

/* The verdict of a handshake from br_ssl_engine_last_error() and the verifier used (may be
 * NULL). X.509 errors defer to verdict_chain(). Returns buf. */
char *verdict_handshake(int engine_err, const struct tls_verify *v, char *buf, size_t len);

#endif
