/* Exceptions at EL1 (aarch64_start.S saves the frame and calls virt_trap): system calls go
 * to the shim, interrupts to the GIC's handlers, anything else is a fault that the box
 * reports on the console and answers with a reset, as a kernel would kill the process and
 * /init restart it. Trap context: no C library calls. */
#include "aarch64_cpu.h"
#include "virt.h"

#define EC_SVC64 0x15
#define EC_IABT_CUR 0x21
#define EC_DABT_CUR 0x25
#define EC_SP_ALIGN 0x26
#define EC_BRK 0x3c

/* The board's state that trap context reads; boot.c fills it in. The hardware description
 * is read before .bss is cleared, so it lives in .data. */
struct virt_hw virt_hw __attribute__((section(".data.virt_early")));
struct virt_heap virt_heap;

enum { KIND_SYNC = 0, KIND_IRQ = 1, KIND_SYNC_SPX = 4, KIND_IRQ_SPX = 5 };

/* see virt.h */
void virt_puts(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    pl011_write(s, n);
}

/* see virt.h */
void virt_puthex(uint64_t v)
{
    char buf[19];
    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < 16; i++) {
        unsigned d = (unsigned)(v >> (60 - 4 * i)) & 0xf;
        buf[2 + i] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    }
    buf[18] = '\0';
    virt_puts(buf);
}

/* see virt.h */
void virt_putdec(uint64_t v)
{
    char buf[21];
    int i = 20;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && i > 0);
    virt_puts(buf + i);
}

/* A box that fails while running is restarted, as a kernel would restart a crashed
 * process under /init; one that fails within its first seconds would only fail again (a
 * missing device, too little RAM), so it is powered off instead of looping. */
#define RESTART_AFTER_MS 10000

static void restart_or_stop(void) __attribute__((noreturn));
static void restart_or_stop(void)
{
    if (timer_freq() != 0 && timer_ms() >= RESTART_AFTER_MS) {
        virt_puts("board: reset\n");
        psci_system_reset();
    }
    virt_puts("board: this happened during start-up: power off instead of a reset loop\n");
    psci_system_off();
}

/* see virt.h */
void virt_panic(const char *what, uint64_t a, uint64_t b)
{
    irq_mask();
    virt_puts("\npanic: ");
    virt_puts(what);
    virt_puts(" (");
    virt_puthex(a);
    virt_puts(", ");
    virt_puthex(b);
    virt_puts(")\n");
    restart_or_stop();
}

static void fault(struct trap_frame *tf, unsigned kind, uint64_t esr)
{
    uint64_t ec = esr >> 26, far = sysreg_read(far_el1);
    irq_mask();
    if (ec == EC_DABT_CUR && virt_mmu_is_guard(far)) {
        virt_puts("\npanic: stack overflow (the main stack ran into its guard page)");
    } else if (ec == EC_BRK) {
        virt_puts("\npanic: trap instruction (a failed assertion: see the log line above)");
    } else {
        virt_puts("\npanic: unexpected exception");
    }
    virt_puts("\n  kind ");
    virt_putdec(kind);
    virt_puts(" esr ");
    virt_puthex(esr);
    virt_puts(" far ");
    virt_puthex(far);
    virt_puts("\n  pc ");
    virt_puthex(tf->elr);
    virt_puts(" lr ");
    virt_puthex(tf->x[30]);
    virt_puts(" sp_el0 ");
    virt_puthex(sysreg_read(sp_el0));
    virt_puts("\n  x0 ");
    virt_puthex(tf->x[0]);
    virt_puts(" x1 ");
    virt_puthex(tf->x[1]);
    virt_puts(" x2 ");
    virt_puthex(tf->x[2]);
    virt_puts("\n");
    restart_or_stop();
}

/* see virt.h */
void virt_trap(struct trap_frame *tf, unsigned kind)
{
    if (kind == KIND_IRQ || kind == KIND_IRQ_SPX) {
        gic_dispatch();
        return;
    }
    uint64_t esr = sysreg_read(esr_el1);
    if (kind == KIND_SYNC && (esr >> 26) == EC_SVC64) {
        virt_syscall(tf);
        return;
    }
    fault(tf, kind, esr);
}

/* see virt.h: the bytes of the main stack the firmware has touched so far. */
size_t virt_stack_peak(void)
{
    const uint64_t *q = (const uint64_t *)LINKER_ADDR(__stack_bottom);
    uintptr_t top = LINKER_ADDR(__stack_top);
    while ((uintptr_t)q < top && *q == VIRT_STACK_PAINT) {
        q++;
    }
    return (size_t)(top - (uintptr_t)q);
}

/* see virt.h */
void virt_ram_report(void)
{
    virt_puts("board: peak RAM use: static ");
    virt_putdec((LINKER_ADDR(__bss_end) - LINKER_ADDR(__image_start)) / 1024);
    virt_puts(" KiB (image and .bss), stack ");
    virt_putdec(virt_stack_peak() / 1024);
    virt_puts(" KiB, heap ");
    virt_putdec(virt_heap.peak / 1024);
    virt_puts(" KiB\n");
}

/* see virt.h: from exit_group, in trap context. */
void virt_exit(int status)
{
    irq_mask();
    virt_ram_report();
    if (status == 0) {
        virt_puts("board: gateway stopped; power off\n");
        psci_system_off();
    }
    virt_puts("board: gateway exited with status ");
    virt_putdec((uint64_t)(unsigned)status);
    virt_puts("\n");
    restart_or_stop();
}
