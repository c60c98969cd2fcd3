/* From _reset to musl's _start (aarch64_start.S calls virt_boot with the MMU on, on the
 * exception stack), and the way out (virt_exit).
 *
 * virt_boot reads the device tree QEMU left at the start of RAM, starts the console's
 * output, the interrupt controller, the timer, the RTC and the heap, and builds the first
 * stack as Linux would hand it to a static program: argc, argv (argv[0] "gateway", then the
 * words of /chosen/bootargs, which QEMU's -append sets), an empty environment, and the
 * auxiliary vector musl reads (AT_PAGESZ; AT_RANDOM, 16 bytes the stack protector and
 * malloc take their secrets from). It sits at the very top of the stack region, as Linux
 * puts it. The C library is not initialised yet: nothing here may touch errno or locale
 * (those live in thread data that _start sets up). */
#include <elf.h>

#include "aarch64_cpu.h"
#include "virt.h"
#include "virt_clock.h"

/* QEMU's virt machine promises RAM at 1 GiB and puts the tree at its start. */
#define VIRT_DTB ((const void *)0x40000000)
#define ARGV_MAX 16
/* The least heap a box starts with (musl's stdio and malloc bookkeeping). */
#define VIRT_HEAP_MIN (256u * 1024)

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* AT_RANDOM: from the entropy source when there is one, else the tree's rng-seed (from
 * the host's RNG) mixed with the counter: it guards the stack canary and malloc's pointer
 * checks only, TLS keys come from board_entropy, which has no such fallback. */
static void at_random(uint8_t out[16])
{
    if (virt_rng_read(out, 16) == 0) {
        return;
    }
    uint64_t s = sysreg_read(cntvct_el0);
    for (unsigned i = 0; i + 8 <= virt_hw.seed_len; i += 8) {
        uint64_t w = 0;
        for (unsigned j = 0; j < 8; j++) {
            w = w << 8 | virt_hw.seed[i + j];
        }
        s ^= splitmix(&w);
    }
    for (unsigned i = 0; i < 16; i += 8) {
        uint64_t r = splitmix(&s);
        for (unsigned j = 0; j < 8; j++) {
            out[i + j] = (uint8_t)(r >> (8 * j));
        }
    }
}

/* Copy the bootargs' words below top; argv[] gets their addresses. Returns the new top. */
static char *args_words(char *top, char **argv, int *argc)
{
    static char name[] = "gateway";
    size_t n = 0;
    while (virt_hw.bootargs[n] != '\0') {
        n++;
    }
    char *s = top - (n + 1);
    for (size_t i = 0; i <= n; i++) {
        s[i] = virt_hw.bootargs[i] == ' ' ? '\0' : virt_hw.bootargs[i];
    }
    *argc = 0;
    argv[(*argc)++] = name;
    for (size_t i = 0; i < n && *argc < ARGV_MAX; i++) {
        if (s[i] != '\0' && (i == 0 || s[i - 1] == '\0')) {
            argv[(*argc)++] = s + i;
        }
    }
    return s;
}

static uintptr_t first_stack(void)
{
    uint8_t *rnd = (uint8_t *)(LINKER_ADDR(__stack_top) - 16);
    at_random(rnd);
    char *argv[ARGV_MAX];
    int argc;
    char *strings = args_words((char *)rnd, argv, &argc);
    /* argc, argv..., NULL, (no environment) NULL, auxv pairs, AT_NULL */
    size_t words = 1 + (size_t)argc + 1 + 1 + 2 * 4;
    uint64_t *sp = (uint64_t *)(((uintptr_t)strings - words * 8) & ~(uintptr_t)15);
    uint64_t *p = sp;
    *p++ = (uint64_t)argc;
    for (int i = 0; i < argc; i++) {
        *p++ = (uint64_t)(uintptr_t)argv[i];
    }
    *p++ = 0;
    *p++ = 0;
    *p++ = AT_PAGESZ;
    *p++ = VIRT_HEAP_PAGE;
    *p++ = AT_RANDOM;
    *p++ = (uint64_t)(uintptr_t)rnd;
    *p++ = AT_EXECFN;
    *p++ = (uint64_t)(uintptr_t)argv[0];
    *p++ = AT_NULL;
    *p++ = 0;
    /* Paint the rest, so the peak use can be measured (virt_stack_peak). */
    for (volatile uint64_t *q = (uint64_t *)LINKER_ADDR(__stack_bottom); q < sp; q++) {
        *q = VIRT_STACK_PAINT;
    }
    return (uintptr_t)sp;
}

/* see virt.h: before .bss is cleared (virt_hw and the console's address live in .data) */
void virt_early(void)
{
    uintptr_t ram = (uintptr_t)VIRT_DTB;
    const char *why;
    if (virt_hw_from_fdt(&virt_hw, VIRT_DTB, (size_t)(LINKER_ADDR(__image_start) - ram),
                         &why) != 0) {
        if (virt_hw.uart.size != 0) {
            pl011_init((uintptr_t)virt_hw.uart.base);
            virt_puts("board: cannot start: ");
            virt_puts(why);
            virt_puts("\n");
            psci_system_off();
        }
        /* No console to say it on: stop where a debugger will find it. */
        for (;;) {
            __asm__ volatile("wfe");
        }
    }
    pl011_init((uintptr_t)virt_hw.uart.base);
    uintptr_t ram_end = (uintptr_t)(virt_hw.ram_base + virt_hw.ram_size);
    if (LINKER_ADDR(__heap_start) + VIRT_HEAP_MIN > ram_end) {
        virt_puts("board: ");
        virt_putdec(virt_hw.ram_size >> 20);
        virt_puts(" MiB of RAM do not hold the image, its stack and a heap (");
        virt_putdec((LINKER_ADDR(__heap_start) + VIRT_HEAP_MIN - virt_hw.ram_base + 0xfffff) >> 20);
        virt_puts(" MiB at least: give QEMU more -m): power off\n");
        psci_system_off();
    }
}

/* see virt.h */
uintptr_t virt_boot(void)
{
    uintptr_t ram_end = (uintptr_t)(virt_hw.ram_base + virt_hw.ram_size);
    virt_heap_init(&virt_heap, LINKER_ADDR(__heap_start), ram_end);
    gic_init(virt_hw.gicd_base, virt_hw.gicc_base);
    timer_init(virt_hw.timer_irq);
    if (virt_hw.rtc.size != 0) {
        (void)pl031_init((uintptr_t)virt_hw.rtc.base);
    }
    virt_clock_init();
    (void)virt_entropy_init();   /* none: board_init says so, and TLS will not start */
    pl011_start_rx(virt_hw.uart.irq);
    return first_stack();
}
