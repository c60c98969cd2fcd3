/* AArch64 at EL1: system registers, barriers, interrupt masking and MMIO accessors for the
 * virt board. Everything is inline and uses general registers only, so the exception-level
 * code (built with -mgeneral-regs-only) can include it. */
#ifndef GW_AARCH64_CPU_H
#define GW_AARCH64_CPU_H

#include <stdint.h>

#define sysreg_read(reg) ({ \
        uint64_t v_; \
        __asm__ volatile("mrs %0, " #reg : "=r"(v_)); \
        v_; \
    })
#define sysreg_write(reg, v) __asm__ volatile("msr " #reg ", %0" : : "r"((uint64_t)(v)))

static inline void isb(void) { __asm__ volatile("isb" : : : "memory"); }
/* Ordering between normal memory (rings) and the device: descriptors before the index the
 * device reads, the index before the doorbell register write. */
static inline void dmb_ishst(void) { __asm__ volatile("dmb ishst" : : : "memory"); }
static inline void dmb_ishld(void) { __asm__ volatile("dmb ishld" : : : "memory"); }
static inline void dmb_ish(void) { __asm__ volatile("dmb ish" : : : "memory"); }
static inline void dsb_st(void) { __asm__ volatile("dsb st" : : : "memory"); }
static inline void dsb_sy(void) { __asm__ volatile("dsb sy" : : : "memory"); }
static inline void wfi(void) { __asm__ volatile("wfi" : : : "memory"); }

/* IRQ masking (PSTATE.I): masked around the check-then-sleep in board_wait, so an interrupt
 * between the check and wfi still wakes the wfi (it stays pending) instead of being lost. */
static inline void irq_mask(void) { __asm__ volatile("msr daifset, #2" : : : "memory"); }
static inline void irq_unmask(void) { __asm__ volatile("msr daifclr, #2" : : : "memory"); }
/* Mask IRQs and return the previous DAIF, for sections that may run either way. */
static inline uint64_t irq_save(void)
{
    uint64_t daif = sysreg_read(daif);
    irq_mask();
    return daif;
}
static inline void irq_restore(uint64_t daif) { sysreg_write(daif, daif); }

static inline uint32_t mmio_read32(uintptr_t addr)
{
    uint32_t v;
    __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static inline void mmio_write32(uintptr_t addr, uint32_t v)
{
    __asm__ volatile("str %w0, [%1]" : : "r"(v), "r"(addr) : "memory");
}

static inline uint8_t mmio_read8(uintptr_t addr)
{
    uint8_t v;
    __asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

#endif
