/* AES-CTR several blocks per instruction (VAES), for the tunnel's AES-GCM records (issue
 * 21): BearSSL's br_aes_x86ni runs AES-NI on four single blocks at a time (10.5 GB/s on the
 * bench machine, x86_64 Zen 5); on 256-bit registers this runs eight, as four pairs (x86
 * CPUs since Ice Lake and Zen 3), on 512-bit ones sixteen, as four quads (AVX-512: Ice
 * Lake, Zen 4). The key schedule is BearSSL's (br_aes_x86ni_ctr_init), the context its
 * br_aes_x86ni_ctr_keys, the result the same bit for bit (test_gcm_x86). */
#ifndef GW_AES_CTR_VAES_H
#define GW_AES_CTR_VAES_H

#include "bearssl.h"

/* The class for br_ssl_engine_set_aes_ctr() on a CPU with VAES and AES-NI, and AVX-512 F
 * and BW (sixteen blocks at a time, "aes_vaes512") or AVX2 (eight, "aes_vaes"); else NULL
 * (BearSSL's own choice stays). */
const br_block_ctr_class *aes_ctr_vaes_get(void);
/* Its name, or "none", for `show status` and the bench. */
const char *aes_ctr_vaes_name(void);
/* Tests: the widest registers it may use, 512 (the default), 256, or 0 (NULL above). */
void aes_ctr_vaes_widest(int bits);

#endif
