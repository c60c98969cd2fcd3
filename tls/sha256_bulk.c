/* see sha256_bulk.h */
#include <stdint.h>

#include "sha256_bulk.h"

static int allow_cpu = 1;

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

/* FIPS 180-4, 4.2.2 */
static const uint32_t K[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

/* n blocks of 64 bytes into val (A..H, as BearSSL keeps them). The instructions work on
 * the state as two halves, ABEF and CDGH (lanes high to low), two rounds per
 * sha256rnds2, and make the message schedule four words at a time:
 * W[i] = msg2(msg1(W[i-4], W[i-3]) + (W[i-2]:W[i-1] shifted one word), W[i-1]). */
__attribute__((target("sha,sse4.1,ssse3")))
static void blocks_ni(uint32_t val[8], const uint8_t *p, size_t n)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&val[0]), 0xB1); /* CDAB */
    __m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&val[4]), 0x1B); /* EFGH */
    __m128i s0 = _mm_alignr_epi8(t, s1, 8);                                        /* ABEF */
    s1 = _mm_blend_epi16(s1, t, 0xF0);                                             /* CDGH */
    for (; n > 0; n--, p += 64) {
        __m128i abef = s0, cdgh = s1, w[4];
        for (int i = 0; i < 16; i++) {
            if (i < 4) {
                w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
            } else {
                __m128i x = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
                w[i & 3] = _mm_sha256msg2_epu32(x, w[(i + 3) & 3]);
            }
            __m128i m = _mm_add_epi32(w[i & 3], _mm_load_si128((const __m128i *)&K[4 * i]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, m);       /* (the halves swap roles) */
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
        }
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
    }
    t = _mm_shuffle_epi32(s0, 0x1B);                                               /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1);                                              /* DCHG */
    _mm_storeu_si128((__m128i *)&val[0], _mm_blend_epi16(t, s1, 0xF0));            /* DCBA */
    _mm_storeu_si128((__m128i *)&val[4], _mm_alignr_epi8(s1, t, 8));               /* HGFE */
}

/* SHA (CPUID.7.0:EBX bit 29), SSE4.1 and SSSE3 (CPUID.1:ECX bits 19 and 9); asked once. */
static int cpu_has_sha(void)
{
    static int known = -1;
    unsigned a, b, c, d;
    if (known < 0) {
        known = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 19)) && (c & (1u << 9)) &&
                __get_cpuid_max(0, NULL) >= 7;
        if (known) {
            __cpuid_count(7, 0, a, b, c, d);
            known = (b & (1u << 29)) != 0;
        }
    }
    return known;
}
#else
static int cpu_has_sha(void)
{
    return 0;
}

static void blocks_ni(uint32_t val[8], const uint8_t *p, size_t n)
{
    (void)val, (void)p, (void)n;
}
#endif

/* see sha256_bulk.h */
void sha256_bulk_update(br_sha256_context *cc, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (!allow_cpu || !cpu_has_sha()) {
        br_sha256_update(cc, data, len);
        return;
    }
    size_t ptr = (size_t)cc->count & 63;
    if (ptr != 0) {                  /* BearSSL's buffer first: it completes a block or all */
        size_t k = 64 - ptr < len ? 64 - ptr : len;
        br_sha256_update(cc, p, k);
        p += k;
        len -= k;
    }
    size_t whole = len & ~(size_t)63;
    if (whole) {                     /* (here the buffer is empty) */
        blocks_ni(cc->val, p, whole / 64);
        cc->count += whole;
        p += whole;
        len -= whole;
    }
    if (len) {
        br_sha256_update(cc, p, len);
    }
}

/* see sha256_bulk.h */
const char *sha256_bulk_impl(void)
{
    static const char *const names[] = { "portable", "x86 SHA-NI" };   /* names, not verdicts */
    return names[allow_cpu && cpu_has_sha()];
}

/* see sha256_bulk.h */
void sha256_bulk_allow_cpu(int allow)
{
    allow_cpu = allow;
}
