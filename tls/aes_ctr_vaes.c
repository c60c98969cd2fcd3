/* see aes_ctr_vaes.h
 *
 * CTR as GCM uses it (NIST SP 800-38D, inc32): block j of a run is E(K, IV || cc + j), the
 * counter a 32-bit big-endian word after the 12-byte IV, wrapping mod 2^32. The counters
 * live in a register as IV bytes 0..11 and the counter in host order in bytes 12..15 of each
 * 128-bit lane; one add steps both lanes, one byte shuffle turns them into blocks. */
#include <stdint.h>
#include <string.h>

#include "aes_ctr_vaes.h"
#include "cpu_x86.h"

static int widest = 512;          /* tests: the widest registers it may use, in bits */

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

#define TARGET __attribute__((target("vaes,avx2,aes")))

static void ctr_init(const br_block_ctr_class **ctx, const void *key, size_t len);
static uint32_t ctr_run(const br_block_ctr_class *const *ctx, const void *iv, uint32_t cc,
                        void *data, size_t len);

static const br_block_ctr_class vaes_ctr_class = {
    sizeof(br_aes_x86ni_ctr_keys), 16, 4, ctr_init, ctr_run,
};

/* BearSSL's key schedule, then the class whose run uses it. */
static void keys_init(const br_block_ctr_class **ctx, const void *key, size_t len,
                      const br_block_ctr_class *cls)
{
    br_aes_x86ni_ctr_keys *k = (br_aes_x86ni_ctr_keys *)(void *)ctx;
    br_aes_x86ni_ctr_init(k, key, len);
    k->vtable = cls;
}

static void ctr_init(const br_block_ctr_class **ctx, const void *key, size_t len)
{
    keys_init(ctx, key, len, &vaes_ctr_class);
}

/* Eight blocks of key stream for counters c (lanes: cc, cc+1) .. c + 6, in registers
 * throughout (an array here went through memory at every round). */
TARGET static inline void keystream8(__m256i out[4], __m256i c, const __m256i *rk,
                                     unsigned rounds)
{
    const __m256i to_block = _mm256_set_epi8(12, 13, 14, 15, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2,
                                             1, 0, 12, 13, 14, 15, 11, 10, 9, 8, 7, 6, 5, 4,
                                             3, 2, 1, 0);
    const __m256i two = _mm256_set_epi32(2, 0, 0, 0, 2, 0, 0, 0);
    __m256i c1 = _mm256_add_epi32(c, two), c2 = _mm256_add_epi32(c1, two);
    __m256i c3 = _mm256_add_epi32(c2, two);
    __m256i x0 = _mm256_xor_si256(_mm256_shuffle_epi8(c, to_block), rk[0]);
    __m256i x1 = _mm256_xor_si256(_mm256_shuffle_epi8(c1, to_block), rk[0]);
    __m256i x2 = _mm256_xor_si256(_mm256_shuffle_epi8(c2, to_block), rk[0]);
    __m256i x3 = _mm256_xor_si256(_mm256_shuffle_epi8(c3, to_block), rk[0]);
    for (unsigned r = 1; r < rounds; r++) {
        __m256i k = rk[r];
        x0 = _mm256_aesenc_epi128(x0, k);
        x1 = _mm256_aesenc_epi128(x1, k);
        x2 = _mm256_aesenc_epi128(x2, k);
        x3 = _mm256_aesenc_epi128(x3, k);
    }
    out[0] = _mm256_aesenclast_epi128(x0, rk[rounds]);
    out[1] = _mm256_aesenclast_epi128(x1, rk[rounds]);
    out[2] = _mm256_aesenclast_epi128(x2, rk[rounds]);
    out[3] = _mm256_aesenclast_epi128(x3, rk[rounds]);
}

TARGET static uint32_t ctr_run(const br_block_ctr_class *const *ctx, const void *iv,
                               uint32_t cc, void *data, size_t len)
{
    const br_aes_x86ni_ctr_keys *k = (const br_aes_x86ni_ctr_keys *)(const void *)ctx;
    unsigned rounds = k->num_rounds;
    __m256i rk[15];
    for (unsigned r = 0; r <= rounds; r++) {
        rk[r] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(k->skey.skni
                                                                              + 16 * r)));
    }
    uint8_t base[16];
    memcpy(base, iv, 12);
    memcpy(base + 12, &cc, 4);                   /* host order: the shuffle reverses it */
    __m256i c = _mm256_add_epi32(_mm256_broadcastsi128_si256(_mm_loadu_si128(
                                     (const __m128i *)base)),
                                 _mm256_set_epi32(1, 0, 0, 0, 0, 0, 0, 0));
    const __m256i eight = _mm256_set_epi32(8, 0, 0, 0, 8, 0, 0, 0);
    uint8_t *p = data;
    __m256i ks[4];
    for (; len >= 128; len -= 128, p += 128, cc += 8) {
        keystream8(ks, c, rk, rounds);
        c = _mm256_add_epi32(c, eight);
        for (int i = 0; i < 4; i++) {
            __m256i *q = (__m256i *)(void *)(p + 32 * i);
            _mm256_storeu_si256(q, _mm256_xor_si256(_mm256_loadu_si256(q), ks[i]));
        }
    }
    if (len > 0) {                               /* the last 1..127 bytes */
        uint8_t tail[128];
        keystream8(ks, c, rk, rounds);
        for (int i = 0; i < 4; i++) {
            _mm256_storeu_si256((__m256i *)(void *)(tail + 32 * i), ks[i]);
        }
        for (size_t i = 0; i < len; i++) {
            p[i] ^= tail[i];
        }
        cc += (uint32_t)(len >> 4);            /* whole blocks only, as BearSSL counts */
    }
    return cc;
}

/* The same four at a time on 512-bit registers (AVX-512): sixteen blocks per round of
 * instructions; the last 0..255 bytes go to ctr_run. */
#define TARGET_ZMM __attribute__((target("vaes,avx512f,avx512bw,avx2,aes")))

static void ctr_init512(const br_block_ctr_class **ctx, const void *key, size_t len);
static uint32_t ctr_run512(const br_block_ctr_class *const *ctx, const void *iv, uint32_t cc,
                           void *data, size_t len);

static const br_block_ctr_class vaes512_ctr_class = {
    sizeof(br_aes_x86ni_ctr_keys), 16, 4, ctr_init512, ctr_run512,
};

static void ctr_init512(const br_block_ctr_class **ctx, const void *key, size_t len)
{
    keys_init(ctx, key, len, &vaes512_ctr_class);
}

TARGET_ZMM static uint32_t ctr_run512(const br_block_ctr_class *const *ctx, const void *iv,
                                      uint32_t cc, void *data, size_t len)
{
    const br_aes_x86ni_ctr_keys *k = (const br_aes_x86ni_ctr_keys *)(const void *)ctx;
    unsigned rounds = k->num_rounds;
    __m512i rk[15];
    for (unsigned r = 0; r <= rounds; r++) {
        rk[r] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(k->skey.skni + 16 * r)));
    }
    const __m512i to_block = _mm512_broadcast_i32x4(
        _mm_set_epi8(12, 13, 14, 15, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
    const __m512i four = _mm512_set_epi32(4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0);
    uint8_t base[16];
    memcpy(base, iv, 12);
    memcpy(base + 12, &cc, 4);                   /* host order: the shuffle reverses it */
    __m512i c = _mm512_add_epi32(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)base)),
                                 _mm512_set_epi32(3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                                                  0));
    uint8_t *p = data;
    for (; len >= 256; len -= 256, p += 256, cc += 16) {
        /* four registers by name: an array went through memory at every round */
        __m512i c1 = _mm512_add_epi32(c, four), c2 = _mm512_add_epi32(c1, four);
        __m512i c3 = _mm512_add_epi32(c2, four);
        __m512i x0 = _mm512_xor_si512(_mm512_shuffle_epi8(c, to_block), rk[0]);
        __m512i x1 = _mm512_xor_si512(_mm512_shuffle_epi8(c1, to_block), rk[0]);
        __m512i x2 = _mm512_xor_si512(_mm512_shuffle_epi8(c2, to_block), rk[0]);
        __m512i x3 = _mm512_xor_si512(_mm512_shuffle_epi8(c3, to_block), rk[0]);
        c = _mm512_add_epi32(c3, four);
        for (unsigned r = 1; r < rounds; r++) {
            __m512i key = rk[r];
            x0 = _mm512_aesenc_epi128(x0, key);
            x1 = _mm512_aesenc_epi128(x1, key);
            x2 = _mm512_aesenc_epi128(x2, key);
            x3 = _mm512_aesenc_epi128(x3, key);
        }
        __m512i *q = (__m512i *)(void *)p;
        _mm512_storeu_si512(q, _mm512_xor_si512(_mm512_loadu_si512(q),
                                                _mm512_aesenclast_epi128(x0, rk[rounds])));
        _mm512_storeu_si512(q + 1, _mm512_xor_si512(_mm512_loadu_si512(q + 1),
                                                    _mm512_aesenclast_epi128(x1, rk[rounds])));
        _mm512_storeu_si512(q + 2, _mm512_xor_si512(_mm512_loadu_si512(q + 2),
                                                    _mm512_aesenclast_epi128(x2, rk[rounds])));
        _mm512_storeu_si512(q + 3, _mm512_xor_si512(_mm512_loadu_si512(q + 3),
                                                    _mm512_aesenclast_epi128(x3, rk[rounds])));
    }
    return len > 0 ? ctr_run(ctx, iv, cc, p, len) : cc;
}

/* AES-NI (CPUID.1:ECX bit 25, and BearSSL's key schedule for it); VAES (CPUID.7.0:ECX
 * bit 9) with AVX2 (256) or AVX-512 F and BW (512). Asked once: the widest, in bits. */
static int cpu_vaes_bits(void)
{
    static int cached = -1;                       /* one store, of the final answer */
    int known = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    unsigned a, b, c, d;
    if (known >= 0) {
        return known;
    }
    known = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 25)) &&
        br_aes_x86ni_ctr_get_vtable() != NULL) {
        known = (cpu_x86_avx512_leaf7_ecx() & (1u << 9))  ? 512
                : (cpu_x86_avx2_leaf7_ecx() & (1u << 9)) ? 256
                                                         : 0;
    }
    __atomic_store_n(&cached, known, __ATOMIC_RELAXED);
    return known;
}

const br_block_ctr_class *aes_ctr_vaes_get(void)
{
    int bits = cpu_vaes_bits() < widest ? cpu_vaes_bits() : widest;
    return bits >= 512 ? &vaes512_ctr_class : bits >= 256 ? &vaes_ctr_class : NULL;
}

const char *aes_ctr_vaes_name(void)
{
    const br_block_ctr_class *c = aes_ctr_vaes_get();
    return c == NULL ? "none" : c == &vaes_ctr_class ? "aes_vaes" : "aes_vaes512";
}
#else
const br_block_ctr_class *aes_ctr_vaes_get(void)
{
    return NULL;
}

const char *aes_ctr_vaes_name(void)
{
    return "none";
}
#endif

void aes_ctr_vaes_widest(int bits)
{
    widest = bits;
}
