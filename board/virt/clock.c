/* see virt_clock.h. The RTC counts whole seconds, so it is read once at boot; from then on
 * the wall clock is that reading plus the generic timer's time since, like Linux keeps its
 * clock after reading the RTC. A box whose RTC reads earlier than 2025 was never set (no
 * battery, or a fresh board): its time is a guess until SNTP sets it, and certificates are
 * not checked against a guess (board.h). */
#include "board.h"
#include "virt.h"
#include "virt_clock.h"

#define CLOCK_PLAUSIBLE_AFTER 1735689600 /* 2025-01-01T00:00:00Z, as board/linux */

static int64_t epoch;          /* wall seconds at epoch_ms */
static uint64_t epoch_ms;      /* timer_ms() when the epoch was read or set */
static int believed;

/* see virt_clock.h */
void virt_clock_init(void)
{
    epoch_ms = timer_ms();
    epoch = pl031_present() ? (int64_t)pl031_read() : 0;
    believed = epoch >= CLOCK_PLAUSIBLE_AFTER;
}

/* see virt_clock.h */
void virt_clock_unset(void)
{
    epoch = 0;
    epoch_ms = timer_ms();
    believed = 0;
}

/* see virt_clock.h */
int64_t virt_clock_realtime(uint64_t *ns)
{
    uint64_t since = timer_ns() - epoch_ms * 1000000u;
    *ns = since % 1000000000u;
    return epoch + (int64_t)(since / 1000000000u);
}

/* see board.h */
uint32_t board_now_ms(void)
{
    return (uint32_t)(timer_ms() + 1);   /* never 0 at boot, as on Linux */
}

/* see board.h */
int board_wallclock(int64_t *unix_seconds)
{
    uint64_t ns;
    *unix_seconds = virt_clock_realtime(&ns);
    return believed;
}

/* see board.h */
void board_set_wallclock(int64_t unix_seconds)
{
    epoch = unix_seconds;
    epoch_ms = timer_ms();
    believed = 1;
    if (unix_seconds >= 0 && unix_seconds <= (int64_t)UINT32_MAX) {
        pl031_write((uint32_t)unix_seconds);   /* kept across a reset, like a battery RTC */
    }
}
