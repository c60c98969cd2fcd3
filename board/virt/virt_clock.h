/* The virt board's clocks: monotonic time from the generic timer, the wall clock from the
 * PL031 RTC (set by SNTP through board_set_wallclock when it was not believed). Trap
 * context safe: the shim's clock_gettime reads them. */
#ifndef GW_VIRT_CLOCK_H
#define GW_VIRT_CLOCK_H

#include <stdint.h>

/* After timer_init and pl031_init: read the RTC once. */
void virt_clock_init(void);
/* Forget the RTC's time: the box runs as one without an RTC (--clock unset). */
void virt_clock_unset(void);
/* Wall-clock seconds now and the nanoseconds into the second. */
int64_t virt_clock_realtime(uint64_t *ns);

#endif
