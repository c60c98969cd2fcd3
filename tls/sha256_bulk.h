/* SHA-256 of message bodies (issue 21): BearSSL's br_sha256 context and result, with its
 * whole 64-byte blocks compressed by the CPU's SHA instructions where it has them (x86_64
 * with SHA-NI, checked once at run time), else by BearSSL's portable code. A mail's body is
 * hashed on the gateway (delivery trailer) and again on the relay (the check): with
 * BearSSL's code alone that was a third of the gateway's CPU and half the relay's in the
 * mail bench. The context is BearSSL's: init and out are br_sha256_init and br_sha256_out,
 * and both kinds of update may be mixed on one context. */
#ifndef GW_SHA256_BULK_H
#define GW_SHA256_BULK_H

#include <stddef.h>

#include "bearssl.h"

/* br_sha256_update, faster on long inputs. */
void sha256_bulk_update(br_sha256_context *cc, const void *data, size_t len);
/* The compression in use: "x86 SHA-NI" or "portable" (for logs and tests). */
const char *sha256_bulk_impl(void);
/* Tests: 0 makes sha256_bulk_update use the portable code only, 1 the CPU's where it has
 * it (the default). */
void sha256_bulk_allow_cpu(int allow);

#endif
