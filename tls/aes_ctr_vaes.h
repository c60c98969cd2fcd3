/* AES-CTR two blocks per instruction (VAES on 256-bit registers, AVX2), for the tunnel's
 * AES-GCM records (issue 21): BearSSL's br_aes_x86ni runs AES-NI on four single blocks at a
 * time (10.5 GB/s on the bench machine, x86_64 Zen 5); this runs eight, as four pairs. The
 * key schedule is BearSSL's (br_aes_x86ni_ctr_init), the context its br_aes_x86ni_ctr_keys,
 * the result the same bit for bit (test_gcm_x86). x86 CPUs since Ice Lake and Zen 3. */
#ifndef GW_AES_CTR_VAES_H
#define GW_AES_CTR_VAES_H

#include "bearssl.h"

/* The class for br_ssl_engine_set_aes_ctr() on a CPU with VAES, AVX2 and AES-NI; else NULL
 * (BearSSL's own choice stays). */
const br_block_ctr_class *aes_ctr_vaes_get(void);
/* Tests: 0 makes aes_ctr_vaes_get() return NULL (the default is 1). */
void aes_ctr_vaes_allow(int allow);

#endif
