/* see ghash_clmul.h
 *
 * The arithmetic (GCM, NIST SP 800-38D, 6.3): Y = (Y ^ A) * H in GF(2^128) for each 16-byte
 * block A, with the field x^128 + x^7 + x^2 + x + 1 and GCM's bit order, where the first bit
 * of a block is the coefficient of x^0. A block byte-reversed into a register is then the
 * polynomial "reflected": x^k at bit 127 - k.
 *
 * - Product: three carry-less 64 x 64 multiplications (Karatsuba) give the 255-bit product,
 *   x^k at bit 254 - k; one bit to the left puts x^k at bit 255 - k, so the high half holds
 *   x^0..x^127 in the reflected form and the low half L holds x^128..x^255.
 * - Reduction: x^128 = x^7 + x^2 + x + 1, and multiplying by x is a shift right by one in
 *   this form, so the low half adds L * (1 + x + x^2 + x^7) = L ^ L>>1 ^ L>>2 ^ L>>7. The
 *   bits those shifts push out are x^128..x^134 again; they come back in as
 *   D = L ^ L<<127 ^ L<<126 ^ L<<121, and the result is high ^ D ^ D>>1 ^ D>>2 ^ D>>7.
 * - n blocks at a time: Y' = (Y ^ A0) H^n ^ A1 H^(n-1) ^ ... ^ A(n-1) H, the products
 *   summed before the one shift and reduction (n = 8 or 16). */
#include <stdint.h>
#include <string.h>

#include "cpu_x86.h"
#include "ghash_clmul.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

static int widest = 512;          /* tests: the widest registers ours may use, in bits */

#define TARGET __attribute__((target("pclmul,ssse3")))
#define INLINE __attribute__((always_inline)) inline

struct product {
    __m128i lo, hi, mid;         /* a0 b0, a1 b1, (a0 ^ a1)(b0 ^ b1): summed over blocks */
};

TARGET static INLINE __m128i load_reflected(const void *p)
{
    const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), rev);
}

TARGET static INLINE void store_reflected(void *p, __m128i v)
{
    const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    _mm_storeu_si128((__m128i *)p, _mm_shuffle_epi8(v, rev));
}

/* The two halves of v xored, in its low 64 bits: Karatsuba's middle operand. */
TARGET static INLINE __m128i halves(__m128i v)
{
    return _mm_xor_si128(v, _mm_shuffle_epi32(v, 0x4E));
}

/* acc += a * b, b's middle operand given (bx = halves(b)). */
TARGET static INLINE void mul_add(struct product *acc, __m128i a, __m128i b, __m128i bx)
{
    acc->lo = _mm_xor_si128(acc->lo, _mm_clmulepi64_si128(a, b, 0x00));
    acc->hi = _mm_xor_si128(acc->hi, _mm_clmulepi64_si128(a, b, 0x11));
    acc->mid = _mm_xor_si128(acc->mid, _mm_clmulepi64_si128(halves(a), bx, 0x00));
}

/* 128-bit shifts of a register (SSE shifts 64-bit lanes, or whole bytes). */
TARGET static INLINE __m128i shr128(__m128i v, int n)
{
    return _mm_or_si128(_mm_srli_epi64(v, n), _mm_srli_si128(_mm_slli_epi64(v, 64 - n), 8));
}

TARGET static INLINE __m128i shl128_1(__m128i v)
{
    return _mm_or_si128(_mm_slli_epi64(v, 1), _mm_slli_si128(_mm_srli_epi64(v, 63), 8));
}

/* The summed product, reduced to one field element (the comment at the top). */
TARGET static INLINE __m128i reduce(const struct product *p)
{
    __m128i mid = _mm_xor_si128(p->mid, _mm_xor_si128(p->lo, p->hi));
    __m128i high = _mm_xor_si128(p->hi, _mm_srli_si128(mid, 8));
    __m128i low = _mm_xor_si128(p->lo, _mm_slli_si128(mid, 8));
    high = _mm_or_si128(shl128_1(high), _mm_srli_si128(_mm_srli_epi64(low, 63), 8));
    low = shl128_1(low);
    __m128i up = _mm_slli_si128(low, 8);           /* L's low 64 bits, moved to the top */
    __m128i d = _mm_xor_si128(low, _mm_xor_si128(_mm_slli_epi64(up, 63),
                                                 _mm_xor_si128(_mm_slli_epi64(up, 62),
                                                               _mm_slli_epi64(up, 57))));
    d = _mm_xor_si128(d, _mm_xor_si128(shr128(d, 1), _mm_xor_si128(shr128(d, 2),
                                                                  shr128(d, 7))));
    return _mm_xor_si128(high, d);
}

TARGET static INLINE __m128i gf_mul(__m128i a, __m128i b)
{
    struct product p = { _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128() };
    mul_add(&p, a, b, halves(b));
    return reduce(&p);
}

/* Below this, BearSSL's 4-block code wins: ours computes H^2..H^n at every call. */
#define GHASH_OURS_MIN 2048

/* pw[i] = H^(i+1) for i < n (n a power of two): each round doubles the powers known, and
 * its products are independent, so the chain is log2(n) multiplications long, not n. */
TARGET static INLINE void powers(__m128i *pw, __m128i h1, int n)
{
    pw[0] = h1;
    for (int k = 1; k < n; k *= 2) {
        for (int i = 0; i < k; i++) {
            pw[k + i] = gf_mul(pw[i], pw[k - 1]);
        }
    }
}

TARGET static void ghash_clmul8(void *y, const void *h, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len < GHASH_OURS_MIN) {
        br_ghash_pclmul(y, h, data, len);        /* the same CPU check as ours */
        return;
    }
    __m128i acc = load_reflected(y);
    __m128i h1 = load_reflected(h);
    if (len >= 128) {
        __m128i pw[8], px[8];                      /* pw[i] = H^(i+1), px its halves */
        powers(pw, h1, 8);
        for (int i = 0; i < 8; i++) {
            px[i] = halves(pw[i]);
        }
        for (; len >= 128; len -= 128, p += 128) {
            struct product s = { _mm_setzero_si128(), _mm_setzero_si128(),
                                 _mm_setzero_si128() };
            mul_add(&s, _mm_xor_si128(acc, load_reflected(p)), pw[7], px[7]);
#pragma GCC unroll 7
            for (int i = 1; i < 8; i++) {
                mul_add(&s, load_reflected(p + 16 * i), pw[7 - i], px[7 - i]);
            }
            acc = reduce(&s);
        }
    }
    for (; len >= 16; len -= 16, p += 16) {
        acc = gf_mul(_mm_xor_si128(acc, load_reflected(p)), h1);
    }
    if (len > 0) {
        uint8_t last[16] = { 0 };                  /* the last block, zero-padded */
        memcpy(last, p, len);
        acc = gf_mul(_mm_xor_si128(acc, load_reflected(last)), h1);
    }
    store_reflected(y, acc);
}

/* Two blocks per instruction (VPCLMULQDQ on 256-bit registers, AVX2): eight multiplications
 * of block pairs by pairs of powers, the two lanes' sums folded into one before the
 * reduction, one reduction per 16 blocks. The rest (under 256 bytes) goes to ghash_clmul8. */
#define TARGET_YMM __attribute__((target("vpclmulqdq,avx2,pclmul,ssse3")))

TARGET_YMM static INLINE void mul_add2(__m256i *lo, __m256i *hi, __m256i *mid, __m256i a,
                                       __m256i b, __m256i bx)
{
    *lo = _mm256_xor_si256(*lo, _mm256_clmulepi64_epi128(a, b, 0x00));
    *hi = _mm256_xor_si256(*hi, _mm256_clmulepi64_epi128(a, b, 0x11));
    *mid = _mm256_xor_si256(*mid, _mm256_clmulepi64_epi128(
                                      _mm256_xor_si256(a, _mm256_shuffle_epi32(a, 0x4E)), bx,
                                      0x00));
}

TARGET_YMM static INLINE __m128i fold(__m256i v)
{
    return _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

TARGET_YMM static void ghash_vclmul16(void *y, const void *h, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len < GHASH_OURS_MIN) {
        br_ghash_pclmul(y, h, data, len);
        return;
    }
    {
        const __m256i rev = _mm256_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                            15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                            14, 15);
        __m128i pw[16];
        __m256i k[8], kx[8];                       /* k[j]: H^(16-2j) low lane, H^(15-2j) */
        powers(pw, load_reflected(h), 16);
        for (int j = 0; j < 8; j++) {
            k[j] = _mm256_set_m128i(pw[14 - 2 * j], pw[15 - 2 * j]);
            kx[j] = _mm256_xor_si256(k[j], _mm256_shuffle_epi32(k[j], 0x4E));
        }
        __m128i acc = load_reflected(y);
        for (; len >= 256; len -= 256, p += 256) {
            __m256i lo = _mm256_setzero_si256(), hi = lo, mid = lo;
            __m256i a = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)p), rev);
            mul_add2(&lo, &hi, &mid, _mm256_xor_si256(a, _mm256_zextsi128_si256(acc)), k[0],
                     kx[0]);
#pragma GCC unroll 7
            for (int j = 1; j < 8; j++) {
                a = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(p + 32 * j)), rev);
                mul_add2(&lo, &hi, &mid, a, k[j], kx[j]);
            }
            struct product s = { fold(lo), fold(hi), fold(mid) };
            acc = reduce(&s);
        }
        store_reflected(y, acc);
    }
    if (len > 0) {
        br_ghash_pclmul(y, h, p, len);           /* the last 0..255 bytes */
    }
}

/* Four blocks per instruction (VPCLMULQDQ on 512-bit registers, AVX-512): 32 blocks per
 * reduction, the four lanes folded into one before it; H^1..H^32 by doubling (powers()).
 * Sixteen blocks per reduction on these registers gained a fifth over ghash_vclmul16: the
 * chain from one reduction to the next is what takes the time. The rest (under 512 bytes)
 * goes to BearSSL's code. */
#define TARGET_ZMM __attribute__((target("vpclmulqdq,avx512f,avx512bw,avx2,pclmul,ssse3")))

TARGET_ZMM static INLINE void mul_add4(__m512i *lo, __m512i *hi, __m512i *mid, __m512i a,
                                       __m512i b, __m512i bx)
{
    *lo = _mm512_xor_si512(*lo, _mm512_clmulepi64_epi128(a, b, 0x00));
    *hi = _mm512_xor_si512(*hi, _mm512_clmulepi64_epi128(a, b, 0x11));
    *mid = _mm512_xor_si512(*mid, _mm512_clmulepi64_epi128(
                                      _mm512_xor_si512(a, _mm512_shuffle_epi32(a, 0x4E)), bx,
                                      0x00));
}

TARGET_ZMM static INLINE __m128i fold4(__m512i v)
{
    __m256i x = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    return _mm_xor_si128(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
}

TARGET_ZMM static void ghash_vclmul32(void *y, const void *h, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len < GHASH_OURS_MIN) {
        br_ghash_pclmul(y, h, data, len);
        return;
    }
    {
        const __m512i rev = _mm512_broadcast_i32x4(
            _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
        __m128i pw[32];
        __m512i k[8], kx[8];            /* k[j]: lanes 0..3 H^(32-4j) .. H^(29-4j) */
        powers(pw, load_reflected(h), 32);
        for (int j = 0; j < 8; j++) {
            __m256i low = _mm256_set_m128i(pw[30 - 4 * j], pw[31 - 4 * j]);
            __m256i high = _mm256_set_m128i(pw[28 - 4 * j], pw[29 - 4 * j]);
            k[j] = _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
            kx[j] = _mm512_xor_si512(k[j], _mm512_shuffle_epi32(k[j], 0x4E));
        }
        __m128i acc = load_reflected(y);
        for (; len >= 512; len -= 512, p += 512) {
            __m512i lo = _mm512_setzero_si512(), hi = lo, mid = lo;
            __m512i a = _mm512_shuffle_epi8(_mm512_loadu_si512((const void *)p), rev);
            mul_add4(&lo, &hi, &mid, _mm512_xor_si512(a, _mm512_zextsi128_si512(acc)), k[0],
                     kx[0]);
#pragma GCC unroll 7
            for (int j = 1; j < 8; j++) {
                a = _mm512_shuffle_epi8(_mm512_loadu_si512((const void *)(p + 64 * j)), rev);
                mul_add4(&lo, &hi, &mid, a, k[j], kx[j]);
            }
            struct product s = { fold4(lo), fold4(hi), fold4(mid) };
            acc = reduce(&s);
        }
        store_reflected(y, acc);
    }
    if (len > 0) {
        br_ghash_pclmul(y, h, p, len);           /* the last 0..511 bytes */
    }
}

/* CPUID.1:ECX PCLMULQDQ bit 1, SSSE3 bit 9; VPCLMULQDQ (CPUID.7.0:ECX bit 10) with AVX2, or
 * with AVX-512 F and BW. */
enum { CLMUL_NONE, CLMUL_XMM, CLMUL_YMM, CLMUL_ZMM };

static int cpu_clmul(void)
{
    static int cached = -1;                       /* one store, of the final answer */
    int known = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    unsigned a, b, c, d;
    if (known >= 0) {
        return known;
    }
    known = CLMUL_NONE;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 1)) && (c & (1u << 9))) {
        known = (cpu_x86_avx512_leaf7_ecx() & (1u << 10))  ? CLMUL_ZMM
                : (cpu_x86_avx2_leaf7_ecx() & (1u << 10)) ? CLMUL_YMM
                                                          : CLMUL_XMM;
    }
    __atomic_store_n(&cached, known, __ATOMIC_RELAXED);
    return known;
}

static int level(void)
{
    int l = cpu_clmul(), cap = widest >= 512 ? CLMUL_ZMM : widest >= 256 ? CLMUL_YMM : CLMUL_XMM;
    return l < cap ? l : cap;
}

br_ghash ghash_clmul_get(void)
{
    switch (level()) {
    case CLMUL_ZMM:
        return ghash_vclmul32;
    case CLMUL_YMM:
        return ghash_vclmul16;
    case CLMUL_XMM:
        return ghash_clmul8;
    default:
        return NULL;
    }
}

const char *ghash_clmul_name(void)
{
    static const char *const names[] = { "none", "ghash_clmul8", "ghash_vclmul16",
                                         "ghash_vclmul32" };
    return names[level()];
}

void ghash_clmul_widest(int bits)
{
    widest = bits;
}
#else
br_ghash ghash_clmul_get(void)
{
    return NULL;
}

const char *ghash_clmul_name(void)
{
    return "none";
}

void ghash_clmul_widest(int bits)
{
    (void)bits;
}
#endif
