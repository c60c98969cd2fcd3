/* Internals shared by the files of the virt board (QEMU -M virt, aarch64, no OS); the
 * firmware sees only board.h. Everything a trap handler can reach (marked "trap context")
 * uses general registers only and no C library function: the interrupted code's FP/SIMD
 * registers are not saved. */
#ifndef GW_VIRT_H
#define GW_VIRT_H

#include <stddef.h>
#include <stdint.h>

#include "virt_hw.h"

/* The hardware as the device tree described it (boot.c). */
extern struct virt_hw virt_hw;

/* ---- boot (aarch64_start.S, aarch64_mmu.c, boot.c) ---- */
void virt_mmu_init(void);
int virt_mmu_is_guard(uint64_t addr);
void virt_early(void);
uintptr_t virt_boot(void);
/* Bytes of the main stack used so far (its unused part still holds the boot's paint). */
#define VIRT_STACK_PAINT 0x5354414b5354414bull
size_t virt_stack_peak(void);
/* Linker-script symbols, and their addresses as plain numbers (the compiler must not see
 * them as arrays of unknown size: pointer arithmetic from them is not "out of bounds"). */
extern char __image_start[], __bss_end[], __stack_bottom[], __stack_top[], __heap_start[];
#define LINKER_ADDR(sym) ({ uintptr_t a_; __asm__("" : "=r"(a_) : "0"(sym)); a_; })

/* ---- traps (trap.c): the frame aarch64_start.S saves ---- */
struct trap_frame {
    uint64_t x[31];
    uint64_t elr, spsr, pad;
};
void virt_trap(struct trap_frame *tf, unsigned kind);
/* Print (polled, trap-context safe) and reset the box. */
void virt_panic(const char *what, uint64_t a, uint64_t b) __attribute__((noreturn));
/* Polled console output for trap context: text, a hex number. */
void virt_puts(const char *s);
void virt_puthex(uint64_t v);
void virt_putdec(uint64_t v);

/* ---- the syscall shim (syscall.c), trap context ---- */
void virt_syscall(struct trap_frame *tf);
/* The RAM the image, the stack and the heap have used, on the console (at power-off and
 * reboot: the stack's high-water mark is only known from its untouched paint). */
void virt_ram_report(void);
/* Exit status of the firmware: power off (0) or reset (anything else). */
void virt_exit(int status) __attribute__((noreturn));

/* ---- PSCI (psci.c) ---- */
void psci_system_off(void) __attribute__((noreturn));
void psci_system_reset(void) __attribute__((noreturn));
uint64_t virt_psci_hvc(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3);
uint64_t virt_psci_smc(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3);

/* ---- PL011 UART (pl011.c): polled output, interrupt-driven receive into a ring ---- */
void pl011_init(uintptr_t base);
void pl011_write(const void *buf, size_t len);       /* "\n" leaves as CR LF, like a tty */
void pl011_start_rx(uint32_t irq);                   /* after gic_init */
size_t pl011_read(void *buf, size_t len);            /* what the ring holds, 0 if nothing */
int pl011_rx_pending(void);

/* ---- GICv2 (gicv2.c) ---- */
void gic_init(uint64_t gicd, uint64_t gicc);
/* Route irq to fn (trap context) and enable it; edge or level as the tree says. */
int gic_attach(uint32_t irq, int edge, void (*fn)(void *), void *arg);
void gic_dispatch(void);

/* ---- generic timer (aarch64_timer.c) ---- */
void timer_init(uint32_t irq);
uint64_t timer_ticks(void);
uint64_t timer_freq(void);
uint64_t timer_ms(void);
uint64_t timer_ns(void);
/* The timer interrupt fires when the counter reaches `ms` (milliseconds since boot). */
void timer_wake_at_ms(uint64_t ms);
void timer_wake_at_ticks(uint64_t ticks);
uint64_t timer_ns_to_ticks(uint64_t ns);

/* ---- PL031 RTC (pl031.c) ---- */
int pl031_init(uintptr_t base);         /* 0, or -1 when absent */
int pl031_present(void);
uint32_t pl031_read(void);
void pl031_write(uint32_t unix_seconds);

/* ---- entropy (entropy.c: virtio-rng, else the CPU's RNDR; virtio_rng.c) ---- */
/* Find the source; 0, or -1 when there is none (TLS will refuse to start). */
int virt_entropy_init(void);
const char *virt_entropy_source(void);   /* "virtio-rng", "RNDR" or NULL */
/* Fill buf; 0, or -1 when there is no source or it failed. Safe in trap context
 * (getrandom) and in the firmware's. */
int virt_rng_read(void *buf, size_t len);
int virt_rng_present(void);
int vrng_init(void);
int vrng_present(void);
int vrng_read(void *buf, size_t len);

/* ---- configuration flash (flash_virt.c) ---- */
int virt_flash_open(void);

/* ---- the heap behind brk and mmap (heap.c) ---- */
#include "virt_heap.h"
extern struct virt_heap virt_heap;

#endif
