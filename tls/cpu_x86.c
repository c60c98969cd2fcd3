/* see cpu_x86.h */
#include "cpu_x86.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <stddef.h>

/* CPUID.1:ECX OSXSAVE bit 27; XCR0 bits 1 and 2 (SSE and AVX state); CPUID.7.0:EBX AVX2
 * bit 5. The xgetbv only after OSXSAVE: without it the instruction faults. */
unsigned cpu_x86_avx2_leaf7_ecx(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27)) ||
        __get_cpuid_max(0, NULL) < 7) {
        return 0;
    }
    unsigned xlo, xhi;
    __asm__ __volatile__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    __cpuid_count(7, 0, a, b, c, d);
    return (xlo & 6u) == 6u && (b & (1u << 5)) ? c : 0;
}

/* XCR0 bits 5-7 (the opmask and both halves of the ZMM state) beside SSE and AVX;
 * CPUID.7.0:EBX AVX512F bit 16, AVX512BW bit 30 (byte shuffles on 512-bit registers). */
unsigned cpu_x86_avx512_leaf7_ecx(void)
{
    unsigned c = cpu_x86_avx2_leaf7_ecx(), a, b, d, e;
    if (c == 0) {
        return 0;
    }
    unsigned xlo, xhi;
    __asm__ __volatile__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    __cpuid_count(7, 0, a, b, e, d);
    return (xlo & 0xe6u) == 0xe6u && (b & (1u << 16)) && (b & (1u << 30)) ? c : 0;
}
#else
unsigned cpu_x86_avx2_leaf7_ecx(void)
{
    return 0;
}

unsigned cpu_x86_avx512_leaf7_ecx(void)
{
    return 0;
}
#endif
