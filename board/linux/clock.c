/* Linux board: clocks. Monotonic time for lwIP's timers; for wall time the host's clock, or
 * (--clock) the clock of a board without an RTC, which reads 1970 at boot until SNTP sets
 * it, or the host's clock skewed by an offset (a box whose RTC drifted, for tests). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "board_linux.h"

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
/* --clock offsets beyond a century are typing errors, not drift. */
#define CLOCK_OFFSET_MAX (100LL * 366 * 86400)

static enum {
    CLOCK_HOST,       /* the host's CLOCK_REALTIME plus offset; valid when plausible */
    CLOCK_COUNTING,   /* no RTC: epoch + monotonic time since it was set (or since boot) */
} clock_mode;
static int64_t clock_offset;     /* CLOCK_HOST: seconds added to the host's clock */
static int64_t clock_epoch;      /* CLOCK_COUNTING: the wall time at clock_epoch_ms */
static uint64_t clock_epoch_ms;  /* CLOCK_COUNTING: mono_ms() when it was set */
static int clock_set;            /* CLOCK_COUNTING: set by board_set_wallclock() */

/* see board_linux.h */
int linux_clock_init(const char *spec)
{
    clock_mode = CLOCK_HOST;
    clock_offset = 0;
    clock_set = 0;
    if (spec == NULL || strcmp(spec, "host") == 0) {
        return BOARD_OK;
    }
    if (strcmp(spec, "unset") == 0) {
        clock_mode = CLOCK_COUNTING;
        clock_epoch = 0;
        clock_epoch_ms = mono_ms();
        log_info("board: wall clock unset (no RTC): 1970 until SNTP sets it");
        return BOARD_OK;
    }
    char *end = NULL;
    errno = 0;
    long long off = strtoll(spec, &end, 10);
    if (errno != 0 || end == spec || *end != '\0' || off > CLOCK_OFFSET_MAX ||
        off < -CLOCK_OFFSET_MAX) {
        linux_err("board: --clock %s: expected host, unset or an offset in seconds", spec);
        return BOARD_EINVAL;
    }
    clock_offset = off;
    log_info("board: wall clock is the host's %+lld s", off);
    return BOARD_OK;
}

/* see board.h */
int board_wallclock(int64_t *unix_seconds)
{
    if (clock_mode == CLOCK_COUNTING) {
        *unix_seconds = clock_epoch + (int64_t)((mono_ms() - clock_epoch_ms) / 1000u);
        return clock_set;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *unix_seconds = (int64_t)ts.tv_sec + clock_offset;
    return *unix_seconds >= CLOCK_PLAUSIBLE_AFTER;
}

/* see board.h */
void board_set_wallclock(int64_t unix_seconds)
{
    /* From now on the board counts like an RTC would: monotonic time from the value set,
     * immune to steps of the host's clock. */
    clock_mode = CLOCK_COUNTING;
    clock_epoch = unix_seconds;
    clock_epoch_ms = mono_ms();
    clock_set = 1;
}
