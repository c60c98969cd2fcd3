/* lwIP's hooks into the board and the firmware: time, diagnostics, assertions, randomness. */
#include <stdarg.h>
#include <stdio.h>

#include "arch/cc.h"
#include "board.h"
#include "log.h"
#include "lwip/sys.h"
#include "random.h"

u32_t sys_now(void)
{
    return board_now_ms();
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
