/* lwIP's hooks: time and SNTP (handed in, lwip_port.h), diagnostics and assertions (the
 * log), randomness (the DRBG). */
#include <stdarg.h>
#include <stdio.h>

#include "arch/cc.h"
#include "log.h"
#include "lwip/netif.h"
#include "lwip/sys.h"
#include "lwip_port.h"
#include "random.h"

static uint32_t (*clock_ms)(void);
static void (*sntp_sink)(uint32_t unix_seconds);

/* see lwip_port.h */
void lwip_port_init(uint32_t (*now_ms)(void), void (*sntp_time)(uint32_t unix_seconds))
{
    clock_ms = now_ms;
    sntp_sink = sntp_time;
}

/* see lwip_port.h */
void lwip_port_sntp_time(uint32_t unix_seconds)
{
    if (sntp_sink != NULL) {
        sntp_sink(unix_seconds);
    }
}

u32_t sys_now(void)
{
    return clock_ms != NULL ? clock_ms() : 0;
}

void gw_lwip_diag(const char *fmt, ...)
{
    char buf[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_debug("lwip: %s", buf);
}

void gw_lwip_assert(const char *msg, const char *file, int line)
{
    log_err("lwip: assertion \"%s\" failed at %s:%d", msg, file, line);
    __builtin_trap();
}

uint32_t gw_lwip_rand(void)
{
    return rng_u32();
}

/* see lwip_port.h */
int lwip_port_loopback_pending(void)
{
    struct netif *n;
    NETIF_FOREACH(n) {
        if (n->loop_first != NULL) {
            return 1;
        }
    }
    return 0;
}
