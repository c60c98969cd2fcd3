/* The identity map, switched on first thing at boot (aarch64_start.S calls virt_mmu_init
 * with the MMU still off: this file is built with -mstrict-align, since with the MMU off
 * all memory is Device memory and an unaligned access faults).
 *
 * Why first: with the MMU off every access is Device-nGnRnE, so newer QEMUs fault musl's
 * unaligned memcpy, and under KVM the virtio device would see data the guest's caches still
 * hold. With RAM mapped Normal write-back, virtio DMA is coherent (the tree says
 * dma-coherent) and no cache maintenance is needed anywhere else.
 *
 *   0x0000_0000 .. 0x3fff_ffff  Device-nGnRE, never executable: flash, GIC, UART, RTC,
 *                               virtio-mmio (the tree's devices all live below 1 GiB)
 *   0x4000_0000 .. 0xffff_ffff  Normal write-back, inner shareable: RAM (QEMU's -m up to
 *                               3 GiB), in 2 MiB blocks for the first GiB so that the page
 *                               below the main stack can be left unmapped: a stack overflow
 *                               faults (and says so) instead of overwriting .bss.
 * 4 KiB granule, 39-bit addresses (walks start at level 1). */
#include <stdint.h>

#include "aarch64_cpu.h"
#include "virt.h"

#define DESC_BLOCK 0x1ull          /* level 1 and 2 */
#define DESC_TABLE 0x3ull          /* level 1 and 2 */
#define DESC_PAGE 0x3ull           /* level 3 */
#define DESC_ATTR(i) ((uint64_t)(i) << 2)
#define DESC_SH_INNER (3ull << 8)
#define DESC_AF (1ull << 10)
#define DESC_PXN (1ull << 53)
#define DESC_UXN (1ull << 54)

/* MAIR_EL1: attribute 0 Device-nGnRE, attribute 1 Normal inner/outer write-back RW-allocate. */
#define MAIR_VALUE 0xff04ull
#define ATTR_DEVICE 0
#define ATTR_NORMAL 1

#define NORMAL (DESC_ATTR(ATTR_NORMAL) | DESC_SH_INNER | DESC_AF | DESC_UXN)
#define DEVICE (DESC_ATTR(ATTR_DEVICE) | DESC_AF | DESC_PXN | DESC_UXN)

/* TCR_EL1: T0SZ 25 (39-bit), table walks cacheable write-back and inner shareable, 4 KiB
 * granule, TTBR1 walks disabled (EPD1), 36-bit physical addresses. */
#define TCR_VALUE ((25ull << 0) | (1ull << 8) | (1ull << 10) | (3ull << 12) | (0ull << 14) | \
                   (25ull << 16) | (1ull << 23) | (1ull << 32))

#define SCTLR_M (1ull << 0)
#define SCTLR_A (1ull << 1)
#define SCTLR_C (1ull << 2)
#define SCTLR_I (1ull << 12)
#define SCTLR_WXN (1ull << 19)

#define GIB (1ull << 30)
#define MIB2 (1ull << 21)
#define PAGE 4096ull

static uint64_t l1[512] __attribute__((aligned(4096), section(".pagetables")));
static uint64_t l2[512] __attribute__((aligned(4096), section(".pagetables")));
static uint64_t l3[512] __attribute__((aligned(4096), section(".pagetables")));

extern char __stack_guard[];

/* see virt.h */
void virt_mmu_init(void)
{
    uint64_t guard = (uint64_t)(uintptr_t)__stack_guard;
    uint64_t guard_2m = guard & ~(MIB2 - 1);
    for (unsigned i = 0; i < 512; i++) {
        uint64_t page = guard_2m + i * PAGE;
        l3[i] = page == guard ? 0 : page | NORMAL | DESC_PAGE;
    }
    for (unsigned i = 0; i < 512; i++) {
        uint64_t block = GIB + i * MIB2;
        l2[i] = block == guard_2m ? (uint64_t)(uintptr_t)l3 | DESC_TABLE
                                  : block | NORMAL | DESC_BLOCK;
    }
    for (unsigned i = 0; i < 512; i++) {
        l1[i] = 0;
    }
    l1[0] = 0 | DEVICE | DESC_BLOCK;
    l1[1] = (uint64_t)(uintptr_t)l2 | DESC_TABLE;
    l1[2] = 2 * GIB | NORMAL | DESC_BLOCK;
    l1[3] = 3 * GIB | NORMAL | DESC_BLOCK;
    dsb_sy();

    sysreg_write(mair_el1, MAIR_VALUE);
    sysreg_write(tcr_el1, TCR_VALUE);
    sysreg_write(ttbr0_el1, (uint64_t)(uintptr_t)l1);
    isb();
    __asm__ volatile("tlbi vmalle1\n\tdsb nsh" : : : "memory");
    isb();
    uint64_t sctlr = sysreg_read(sctlr_el1);
    sctlr |= SCTLR_M | SCTLR_C | SCTLR_I;
    sctlr &= ~(SCTLR_A | SCTLR_WXN);
    sysreg_write(sctlr_el1, sctlr);
    isb();
}

/* see virt.h */
int virt_mmu_is_guard(uint64_t addr)
{
    uint64_t guard = (uint64_t)(uintptr_t)__stack_guard;
    return addr >= guard && addr < guard + PAGE;
}
