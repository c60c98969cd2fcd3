/* The wall clock: an ARM PL031 RTC (DDI 0224). RTCDR counts Unix seconds (32 bits: it ends
 * in 2106); QEMU starts it from the host's clock (-rtc base=...). Writing RTCLR sets it, so
 * a time learnt by SNTP survives a reset as it would on a board with a battery. */
#include "aarch64_cpu.h"
#include "virt.h"

#define RTC_DR 0x000
#define RTC_LR 0x008
#define RTC_CR 0x00c
#define RTC_PERIPH_ID0 0xfe0

static uintptr_t rtc;

/* see virt.h */
int pl031_init(uintptr_t base)
{
    /* A PL031 says so in its peripheral ID (0x031); anything else is not one. */
    if (base == 0 || (mmio_read32(base + RTC_PERIPH_ID0) & 0xff) != 0x31) {
        return -1;
    }
    rtc = base;
    mmio_write32(rtc + RTC_CR, 1);   /* started (QEMU's always is; real parts need it) */
    return 0;
}

/* see virt.h */
int pl031_present(void)
{
    return rtc != 0;
}

/* see virt.h */
uint32_t pl031_read(void)
{
    return rtc ? mmio_read32(rtc + RTC_DR) : 0;
}

/* see virt.h */
void pl031_write(uint32_t unix_seconds)
{
    if (rtc) {
        mmio_write32(rtc + RTC_LR, unix_seconds);
    }
}
