/* Time: the ARM generic timer's EL1 virtual counter and timer (ARM ARM D11). The frequency
 * is read from CNTFRQ_EL0, never assumed: 62.5 MHz on QEMU 7.2's machine types, 1 GHz on
 * 9.1 and later. The timer interrupt only wakes the loop's wfi: its handler masks the
 * timer until board_wait arms it again. Trap context: no C library calls. */
#include "aarch64_cpu.h"
#include "virt.h"

#define CTL_ENABLE (1u << 0)
#define CTL_IMASK (1u << 1)

static uint64_t freq;
static uint64_t boot_ticks;

/* see virt.h */
uint64_t timer_ticks(void)
{
    isb();    /* the counter read is not reordered before earlier instructions */
    return sysreg_read(cntvct_el0) - boot_ticks;
}

/* see virt.h */
uint64_t timer_freq(void)
{
    return freq;
}

static uint64_t ticks_to(uint64_t ticks, uint64_t unit)
{
    return ticks / freq * unit + ticks % freq * unit / freq;
}

/* see virt.h */
uint64_t timer_ms(void)
{
    return ticks_to(timer_ticks(), 1000);
}

/* see virt.h */
uint64_t timer_ns(void)
{
    return ticks_to(timer_ticks(), 1000000000);
}

static void timer_irq(void *arg)
{
    (void)arg;
    sysreg_write(cntv_ctl_el0, CTL_ENABLE | CTL_IMASK);
}

/* see virt.h */
uint64_t timer_ns_to_ticks(uint64_t ns)
{
    /* rounded up: a sleep is never shorter than asked */
    return ns / 1000000000u * freq + (ns % 1000000000u * freq + 999999999u) / 1000000000u;
}

/* see virt.h */
void timer_wake_at_ticks(uint64_t ticks)
{
    sysreg_write(cntv_cval_el0, ticks + boot_ticks);
    sysreg_write(cntv_ctl_el0, CTL_ENABLE);
    isb();
}

/* see virt.h */
void timer_wake_at_ms(uint64_t ms)
{
    timer_wake_at_ticks(timer_ns_to_ticks(ms * 1000000u));
}

/* see virt.h */
void timer_init(uint32_t irq)
{
    freq = sysreg_read(cntfrq_el0);
    if (freq == 0) {
        virt_panic("CNTFRQ_EL0 reads 0: the generic timer has no frequency", 0, 0);
    }
    boot_ticks = sysreg_read(cntvct_el0);
    sysreg_write(cntv_ctl_el0, CTL_IMASK);
    if (irq != 0) {
        gic_attach(irq, 0, timer_irq, 0);
    }
}
