/* The x86 CPU features the vector code of AES-GCM needs beyond CPUID leaf 1 (ghash_clmul.c,
 * aes_ctr_vaes.c): 256- or 512-bit registers that the system saves (OSXSAVE, XCR0) and
 * AVX2, or AVX-512 F and BW. */
#ifndef GW_CPU_X86_H
#define GW_CPU_X86_H

/* CPUID.7.0:ECX (VAES bit 9, VPCLMULQDQ bit 10) when the CPU has AVX2 and the system
 * saves AVX state; else 0 (also on other architectures). */
unsigned cpu_x86_avx2_leaf7_ecx(void);
/* The same when the CPU also has AVX-512 F and BW and the system saves the 512-bit
 * registers; else 0. */
unsigned cpu_x86_avx512_leaf7_ecx(void);

#endif
