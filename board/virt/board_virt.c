/* The board HAL (board.h) on QEMU's virt machine without an operating system: start-up of
 * the devices virt_boot did not need, the console, and the loop's one sleep.
 *
 * board_wait sleeps in wfi until an interrupt: a received frame (virtio-net), a console
 * byte (PL011) or the generic timer at lwIP's next deadline. The check for work and the
 * wfi run with interrupts masked, so an interrupt that comes between them stays pending
 * and ends the wfi at once instead of being lost until the next timer; an idle box costs
 * the host nothing. */
#include <string.h>

#include "aarch64_cpu.h"
#include "board.h"
#include "log.h"
#include "virt.h"
#include "virt_clock.h"
#include "virt_net.h"

static volatile int stop_requested;

/* see board.h */
const char *board_name(void)
{
    return "virt-aarch64";
}

/* see board.h */
int board_init(const struct board_options *opt)
{
    irq_unmask();
    log_info("board: QEMU virt, %u MiB RAM, timer %llu Hz, %s", (unsigned)(virt_hw.ram_size >> 20),
             (unsigned long long)timer_freq(),
             pl031_present() ? "PL031 RTC" : "no RTC (1970 until SNTP)");
    if (opt->clock != NULL && strcmp(opt->clock, "unset") == 0) {
        virt_clock_unset();
        log_info("board: wall clock unset (as without an RTC): 1970 until SNTP sets it");
    }
    if (!virt_rng_present()) {
        log_err("board: no entropy source (no virtio-rng device, no RNDR): refusing to start");
        return BOARD_ENOENTROPY;
    }
    log_info("board: entropy from %s", virt_entropy_source());
    int err = virt_flash_open();
    if (err) {
        return err;
    }
    if (opt->net != NULL) {
        err = virt_net_init(opt->mac);
        if (err) {
            return err;
        }
    }
    return BOARD_OK;
}

/* see board.h */
void board_shutdown(void)
{
    virt_net_stop();
}

/* see board.h */
long board_console_read(void *buf, size_t len)
{
    return (long)pl011_read(buf, len);   /* a serial line never closes */
}

/* see board.h */
void board_console_write(const void *buf, size_t len)
{
    pl011_write(buf, len);
}

/* see board.h */
int board_console_interactive(void)
{
    return 1;   /* a serial terminal */
}

/* see board.h */
void board_reboot(void)
{
    board_shutdown();
    virt_ram_report();
    psci_system_reset();
}

/* see board.h: the box's RAM is all its own; nothing to give back. */
void board_mem_discard(void *p, size_t len)
{
    (void)p;
    (void)len;
}

/* see board.h */
void board_request_stop(void)
{
    stop_requested = 1;
}

/* see board.h */
void board_stop_taken(void)
{
    stop_requested = 0;
}

/* see board.h */
unsigned board_wait(uint32_t timeout_ms)
{
    uint64_t deadline = timer_ms() + timeout_ms;
    for (;;) {
        irq_mask();
        if (stop_requested || virt_net_rx_pending() || pl011_rx_pending() ||
            timer_ms() >= deadline) {
            irq_unmask();
            break;
        }
        timer_wake_at_ms(deadline);
        wfi();
        irq_unmask();   /* the handler of whatever woke us runs here */
    }
    virt_net_poll();
    unsigned events = 0;
    if (pl011_rx_pending()) {
        events |= BOARD_EV_CONSOLE;
    }
    if (stop_requested) {
        events |= BOARD_EV_STOP;
    }
    return events;
}
