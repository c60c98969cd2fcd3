/* bench_suites: the speed of the tunnel's two AEADs as BearSSL runs them on this CPU, on
 * full 16 KiB records (what the gateway sends), so the suite the gateway prefers
 * (tls_engine.c: ChaCha20-Poly1305 first where AES-GCM has no hardware) can be checked.
 *
 *   bench_suites [SECONDS_EACH]      (default 0.5)
 *
 * For AES-128-GCM and ChaCha20-Poly1305: the implementation BearSSL's engine picks here
 * (br_ssl_engine_set_default_aes_gcm / _chapol), and where that is hardware or SSE2 code
 * also the portable constant-time one, which is what a CPU without the instructions gets.
 * One line each: "SUITE IMPL MB/s", then the ratio ChaCha20-Poly1305 / AES-128-GCM of the
 * chosen ones. Under qemu-user (aarch64 from x86_64) only the ratio means anything. Record
 * encryption only (sealing and opening cost the same in both). No project code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aes_ctr_vaes.h"
#include "bearssl.h"
#include "ghash_clmul.h"

#define RECORD 16384

static uint8_t rec[RECORD], aad[13], tag[16];
static const uint8_t key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seals records for secs seconds; returns MB/s (10^6 bytes). */
static double gcm_speed(const br_block_ctr_class *ctr, br_ghash gh, double secs)
{
    union {
        const br_block_ctr_class *vt;
        br_aes_ct_ctr_keys ct;
        br_aes_ct64_ctr_keys ct64;
        br_aes_x86ni_ctr_keys x86ni;
        br_aes_pwr8_ctr_keys pwr8;
    } k;
    br_gcm_context gc;
    uint8_t iv[12] = { 0 };
    ctr->init(&k.vt, key, 16);
    br_gcm_init(&gc, &k.vt, gh);
    double t0 = now_s(), t;
    unsigned long n = 0;
    do {
        for (int i = 0; i < 16; i++, n++) {
            memcpy(iv + 4, &n, sizeof n < 8 ? sizeof n : 8);
            br_gcm_reset(&gc, iv, sizeof iv);
            br_gcm_aad_inject(&gc, aad, sizeof aad);
            br_gcm_flip(&gc);
            br_gcm_run(&gc, 1, rec, sizeof rec);
            br_gcm_get_tag(&gc, tag);
        }
        t = now_s() - t0;
    } while (t < secs);
    return (double)n * RECORD / t / 1e6;
}

static double chapol_speed(br_chacha20_run cc, br_poly1305_run pr, double secs)
{
    uint8_t iv[12] = { 0 };
    double t0 = now_s(), t;
    unsigned long n = 0;
    do {
        for (int i = 0; i < 16; i++, n++) {
            memcpy(iv + 4, &n, sizeof n < 8 ? sizeof n : 8);
            pr(key, iv, rec, sizeof rec, aad, sizeof aad, tag, cc, 1);
        }
        t = now_s() - t0;
    } while (t < secs);
    return (double)n * RECORD / t / 1e6;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.5;
    if (secs <= 0 || secs > 60) {
        fprintf(stderr, "usage: bench_suites [SECONDS_EACH (0..60]]\n");
        return 2;
    }
    /* BearSSL's engine order of choice (ssl_engine_default_aesgcm.c, _chapol.c) */
    const br_block_ctr_class *soft_ctr = sizeof(void *) == 8 ? &br_aes_ct64_ctr_vtable
                                                             : &br_aes_ct_ctr_vtable;
    br_ghash soft_gh = sizeof(void *) == 8 ? br_ghash_ctmul64 : br_ghash_ctmul;
    const char *soft_name = sizeof(void *) == 8 ? "aes_ct64 + ghash_ctmul64"
                                                : "aes_ct + ghash_ctmul";
    const br_block_ctr_class *ctr = br_aes_x86ni_ctr_get_vtable();
    br_ghash gh = br_ghash_pclmul_get();
    const char *name = "aes_x86ni + ghash_pclmul";
    if (ctr == NULL || gh == 0) {
        ctr = br_aes_pwr8_ctr_get_vtable();
        gh = br_ghash_pwr8_get();
        name = "aes_pwr8 + ghash_pwr8";
    }
    int hw = ctr != NULL && gh != 0;
    if (!hw) {
        ctr = soft_ctr;
        gh = soft_gh;
        name = soft_name;
    }
    br_ghash bearssl_gh = gh;                  /* BearSSL's own, where ours takes over */
    const br_block_ctr_class *bearssl_ctr = ctr;
    const char *bearssl_name = name;
    char ours_name[64];
    if (hw && ghash_clmul_get() != NULL) {     /* what tls_engine_start() sets */
        gh = ghash_clmul_get();
        ctr = aes_ctr_vaes_get() != NULL ? aes_ctr_vaes_get() : ctr;
        snprintf(ours_name, sizeof ours_name, "%s + %s",
                 ctr != bearssl_ctr ? aes_ctr_vaes_name() : "aes_x86ni", ghash_clmul_name());
        name = ours_name;
    }
    br_chacha20_run cc = br_chacha20_sse2_get();
    const char *cc_name = "chacha20_sse2";
    if (cc == 0) {
        cc = br_chacha20_ct_run;
        cc_name = "chacha20_ct";
    }
    br_poly1305_run pr = br_poly1305_ctmulq_get();
    const char *pr_name = "poly1305_ctmulq";
    if (pr == 0) {
        pr = br_poly1305_ctmul_run;
        pr_name = "poly1305_ctmul";
    }
    memset(rec, 0x5a, sizeof rec);
    double gcm = gcm_speed(ctr, gh, secs);
    printf("AES-128-GCM %s (chosen) %.0f MB/s\n", name, gcm);
    if (gh != bearssl_gh) {
        printf("AES-128-GCM %s (BearSSL's choice) %.0f MB/s\n", bearssl_name,
               gcm_speed(bearssl_ctr, bearssl_gh, secs));
    }
    if (hw) {
        printf("AES-128-GCM %s (without AES instructions) %.0f MB/s\n", soft_name,
               gcm_speed(soft_ctr, soft_gh, secs));
    }
    double cp = chapol_speed(cc, pr, secs);
    printf("ChaCha20-Poly1305 %s + %s (chosen) %.0f MB/s\n", cc_name, pr_name, cp);
    if (cc != br_chacha20_ct_run) {
        printf("ChaCha20-Poly1305 chacha20_ct + %s (portable) %.0f MB/s\n", pr_name,
               chapol_speed(br_chacha20_ct_run, pr, secs));
    }
    printf("ratio ChaCha20-Poly1305 / AES-128-GCM, as chosen: %.2f\n", cp / gcm);
    return 0;
}
