/* Linux board: clocks. Monotonic time for lwIP's timers, the host's clock for wall time. */
#include <time.h>

#include "board.h"

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The board "boots" when the process starts; the first call happens during start-up. */
static uint64_t boot_ms;

/* see board.h */
uint32_t board_now_ms(void)
{
    if (boot_ms == 0) {
        boot_ms = mono_ms() - 1; /* never 0 again */
    }
    return (uint32_t)(mono_ms() - boot_ms);
}

/* A Linux host whose clock reads earlier than this was never set (no RTC, no NTP yet):
 * the firmware must treat it as unknown rather than validate certificates against 1970. */
#define CLOCK_PLAUSIBLE_AFTER 1735689600 /* 2025-01-01T00:00:00Z */

/* see board.h */
int board_wallclock(int64_t *unix_seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *unix_seconds = ts.tv_sec;
    return ts.tv_sec >= CLOCK_PLAUSIBLE_AFTER;
}
