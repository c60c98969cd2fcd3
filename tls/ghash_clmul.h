/* GHASH (the GCM authenticator) with the CPU's carry-less multiply, many blocks per
 * reduction, for the tunnel's AES-128-GCM records (issue 21).
 *
 * BearSSL's br_ghash_pclmul folds four blocks per reduction, and each reduction sits in the
 * chain from one fold to the next, so its speed is that chain's latency: 5.0 GB/s on the
 * bench machine (x86_64, Zen 5) against 10.5 GB/s for AES-CTR with AES-NI. A record's GHASH
 * took twice its encryption: 14 % of the gateway's CPU in a one-stream upload.
 * - ghash_clmul8: PCLMULQDQ, eight blocks per reduction (6.3 GB/s there);
 * - ghash_vclmul16: VPCLMULQDQ on 256-bit registers (AVX2), two blocks per instruction and
 *   sixteen per reduction (11 GB/s there); x86 CPUs since Ice Lake, Tremont and Zen 3;
 * - ghash_vclmul32: VPCLMULQDQ on 512-bit registers (AVX-512), four blocks per instruction
 *   and 32 per reduction (19 GB/s there); Ice Lake, Zen 4 and later.
 * All compute the powers of H at every call, so below 2 KiB (control records, a record's
 * header and lengths) they hand over to BearSSL's code, faster there.
 * Same interface (br_ghash) and the same result as BearSSL's, bit for bit (test_gcm_x86);
 * constant time like it (no table, no branch on data). */
#ifndef GW_GHASH_CLMUL_H
#define GW_GHASH_CLMUL_H

#include "bearssl.h"

/* The fastest of the three this CPU runs, for br_ssl_engine_set_ghash(); NULL without
 * PCLMULQDQ and SSSE3 (and on other architectures): then BearSSL's own choice stays. */
br_ghash ghash_clmul_get(void);
/* Its name ("ghash_vclmul32", "ghash_vclmul16", "ghash_clmul8"), or "none", for
 * `show status` and the bench. */
const char *ghash_clmul_name(void);
/* Tests: the widest registers the code may use, 512 (the default), 256 or 128 bits. */
void ghash_clmul_widest(int bits);

#endif
