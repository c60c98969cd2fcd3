/* AES-GCM's two halves on x86 vector instructions (ghash_clmul, aes_ctr_vaes): GCM's known
 * answers, and BearSSL's result bit for bit for every length, any alignment, any key and
 * counter, in each implementation this CPU has. */
#include <stdio.h>
#include <string.h>

#include "aes_ctr_vaes.h"
#include "bearssl.h"
#include "check.h"
#include "ghash_clmul.h"

static uint32_t rnd_state = 2463534242u;

static uint8_t rnd(void)
{
    rnd_state ^= rnd_state << 13, rnd_state ^= rnd_state >> 17, rnd_state ^= rnd_state << 5;
    return (uint8_t)rnd_state;
}

static void unhex(const char *s, uint8_t *out)
{
    for (size_t i = 0; s[2 * i] != '\0'; i++) {
        unsigned v;
        CHECK(sscanf(s + 2 * i, "%2x", &v) == 1);
        out[i] = (uint8_t)v;
    }
}

/* AES-128-GCM with this GHASH (BearSSL's br_gcm, its portable AES): the tag of McGrew and
 * Viega's test cases 2 and 4 (the GCM specification, also NIST's gcmEncryptExtIV128). */
static void gcm_tag(br_ghash gh, const char *key, const char *iv, const char *aad,
                    const char *plain, const char *cipher, const char *tag)
{
    uint8_t k[16], n[12], a[64], p[64], c[64], t[16], out[16];
    size_t alen = strlen(aad) / 2, plen = strlen(plain) / 2;
    unhex(key, k);
    unhex(iv, n);
    unhex(aad, a);
    unhex(plain, p);
    unhex(cipher, c);
    unhex(tag, t);
    br_aes_ct_ctr_keys aes;
    br_aes_ct_ctr_init(&aes, k, sizeof k);
    br_gcm_context g;
    br_gcm_init(&g, &aes.vtable, gh);
    br_gcm_reset(&g, n, sizeof n);
    br_gcm_aad_inject(&g, a, alen);
    br_gcm_flip(&g);
    br_gcm_run(&g, 1, p, plen);
    br_gcm_get_tag(&g, out);
    CHECK(memcmp(p, c, plen) == 0);
    CHECK(memcmp(out, t, 16) == 0);
}

static void known_answers_with(br_ghash gh)
{
    gcm_tag(gh, "00000000000000000000000000000000", "000000000000000000000000", "",
            "00000000000000000000000000000000", "0388dace60b6a392f328c2b971b2fe78",
            "ab6e47d42cec13bdf53a67b21257bddf");
    gcm_tag(gh, "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
            "feedfacedeadbeeffeedfacedeadbeefabaddad2",
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
            "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
            "5bc94fbc3221a5db94fae95ae7121a47");
}

/* Every length up to 1100 (BearSSL's code, which ours hands short inputs to) and from 2040
 * to 3400 (ours: the 16-block, 8-block, single-block and partial paths and their joins),
 * the data at any alignment, random keys and starting values: the same as BearSSL's
 * constant-time code, which shares nothing with ours. */
static void same_as_bearssl_with(br_ghash gh)
{
    static uint8_t buf[16 + 17000];
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = rnd();
    }
    for (size_t len = 0; len <= 3400; len = len == 1100 ? 2040 : len + 1) {
        uint8_t y1[16], y2[16], h[16];
        size_t off = rnd() % 16;
        for (int i = 0; i < 16; i++) {
            h[i] = rnd();
            y1[i] = y2[i] = rnd();
        }
        gh(y1, h, buf + off, len);
        br_ghash_ctmul64(y2, h, buf + off, len);
        CHECK(memcmp(y1, y2, 16) == 0);
    }
    /* a record as the tunnel sends it, and its neighbours */
    const size_t big[] = { 16384, 16384 + 13, 16384 - 1, 16384 + 255, 16384 + 511 };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        uint8_t y1[16] = { 0 }, y2[16] = { 0 }, h[16];
        for (int j = 0; j < 16; j++) {
            h[j] = rnd();
        }
        gh(y1, h, buf + 1, big[i]);
        br_ghash_ctmul64(y2, h, buf + 1, big[i]);
        CHECK(memcmp(y1, y2, 16) == 0);
    }
}

static void each_implementation(void (*test)(br_ghash))
{
    for (int bits = 512; bits >= 128; bits /= 2) {
        ghash_clmul_widest(bits);
        br_ghash gh = ghash_clmul_get();
        printf("ghash: %s (at most %d-bit registers)\n", ghash_clmul_name(), bits);
        if (gh == NULL) {
            printf("ghash: no carry-less multiply on this CPU: BearSSL's code runs\n");
            CHECK(strcmp(ghash_clmul_name(), "none") == 0);
            break;
        }
        test(gh);
    }
    ghash_clmul_widest(512);
}

/* The feature checks agree with the compiler's own view of this CPU (which also asks the
 * system for the AVX state), so a wrong CPUID bit cannot hide behind the fallback. */
static void detection_matches_the_cpu(void)
{
#if defined(__x86_64__) && defined(__clang__)
    printf("cpu: not checked (clang 14 has no names for VAES and VPCLMULQDQ)\n");
#elif defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    int ymm = __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("avx2");
    int zmm = ymm && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    int xmm = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("ssse3");
    const char *want = zmm && xmm   ? "ghash_vclmul32"
                       : ymm && xmm ? "ghash_vclmul16"
                       : xmm        ? "ghash_clmul8"
                                    : "none";
    printf("cpu: vpclmulqdq+avx512f+bw %d, vpclmulqdq+avx2 %d, pclmul+ssse3 %d, "
           "vaes+avx2+aes %d\n", zmm, ymm, xmm,
           __builtin_cpu_supports("vaes") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("aes"));
    CHECK(strcmp(ghash_clmul_name(), want) == 0);
    int vaes = __builtin_cpu_supports("vaes") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("aes");
    int vaes512 = vaes && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    CHECK((aes_ctr_vaes_get() != NULL) == vaes);
    CHECK(strcmp(aes_ctr_vaes_name(), vaes512 ? "aes_vaes512" : vaes ? "aes_vaes" : "none") == 0);
#else
    CHECK(ghash_clmul_get() == NULL && aes_ctr_vaes_get() == NULL);
#endif
}

static void known_answers(void)
{
    known_answers_with(br_ghash_ctmul64);       /* the check itself is right */
    each_implementation(known_answers_with);
}

static void same_as_bearssl(void)
{
    each_implementation(same_as_bearssl_with);
}

/* AES-CTR: the known answers through br_gcm with aes_ctr_vaes, then every length up to
 * 1100 at any alignment, 128- and 256-bit keys, and counters that wrap past 2^32 - 1, the
 * same as BearSSL's constant-time AES (which shares nothing with ours). */
static void ctr_same_as_bearssl(void)
{
    const br_block_ctr_class *vaes = aes_ctr_vaes_get();
    if (vaes == NULL) {
        printf("aes: no VAES on this CPU: BearSSL's code runs\n");
        return;
    }
    uint8_t k[16] = { 0 }, n[12] = { 0 }, p[16] = { 0 }, t[16];
    br_aes_x86ni_ctr_keys ours;
    vaes->init(&ours.vtable, k, sizeof k);
    CHECK(ours.vtable == vaes);
    br_gcm_context g;
    br_gcm_init(&g, &ours.vtable, br_ghash_ctmul64);
    br_gcm_reset(&g, n, sizeof n);
    br_gcm_flip(&g);
    br_gcm_run(&g, 1, p, sizeof p);
    br_gcm_get_tag(&g, t);
    uint8_t c2[16], t2[16];
    unhex("0388dace60b6a392f328c2b971b2fe78", c2);
    unhex("ab6e47d42cec13bdf53a67b21257bddf", t2);
    CHECK(memcmp(p, c2, 16) == 0 && memcmp(t, t2, 16) == 0);

    static uint8_t a[16 + 1200], b[16 + 1200];
    const uint32_t counters[] = { 1, 2, 0x7fffffffu, 0xfffffff0u, 0xfffffffeu, 0xffffffffu };
    for (size_t keylen = 16; keylen <= 32; keylen += 8) {       /* AES-128, -192, -256 */
        uint8_t key[32], iv[12];
        for (size_t i = 0; i < sizeof key; i++) {
            key[i] = rnd();
        }
        br_aes_x86ni_ctr_keys mine;
        br_aes_ct64_ctr_keys ref;
        vaes->init(&mine.vtable, key, keylen);
        br_aes_ct64_ctr_init(&ref, key, keylen);
        for (size_t len = 0; len <= 1100; len++) {
            size_t off = rnd() % 16;
            uint32_t cc = counters[len % (sizeof counters / sizeof counters[0])];
            for (size_t i = 0; i < sizeof iv; i++) {
                iv[i] = rnd();
            }
            for (size_t i = 0; i < len; i++) {
                a[off + i] = b[off + i] = rnd();
            }
            a[off + len] = b[off + len] = 0xa5;           /* nothing after len is touched */
            uint32_t ca = vaes->run(&mine.vtable, iv, cc, a + off, len);
            uint32_t cb = br_aes_ct64_ctr_run(&ref, iv, cc, b + off, len);
            CHECK_EQ(ca, cb);
            CHECK(memcmp(a + off, b + off, len) == 0);
            CHECK(a[off + len] == 0xa5);
        }
    }
    aes_ctr_vaes_widest(0);
    CHECK(aes_ctr_vaes_get() == NULL && strcmp(aes_ctr_vaes_name(), "none") == 0);
    aes_ctr_vaes_widest(512);
}

/* Each width this CPU runs: the 512-bit code's 256-byte steps and its hand-over to the
 * 256-bit code for the rest, the counter wrapping inside a step. */
static void ctr_each_width(void)
{
    for (int bits = 512; bits >= 256; bits /= 2) {
        aes_ctr_vaes_widest(bits);
        printf("aes: %s (at most %d-bit registers)\n", aes_ctr_vaes_name(), bits);
        ctr_same_as_bearssl();
    }
    aes_ctr_vaes_widest(512);
}

CHECK_MAIN(
    { "detection_matches_the_cpu", detection_matches_the_cpu },
    { "known_answers", known_answers },
    { "same_as_bearssl", same_as_bearssl },
    { "ctr_same_as_bearssl", ctr_same_as_bearssl },
    { "ctr_each_width", ctr_each_width })
