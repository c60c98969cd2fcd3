/* lwIP architecture glue for every board: types come from the C library (musl or glibc),
 * diagnostics and assertions go through the firmware log so a failed check names itself. */
#ifndef GW_ARCH_CC_H
#define GW_ARCH_CC_H

#include <stdint.h>
#include <stdlib.h>

/* The C library has errno; lwIP need not define its own values (no socket API here). */
#define LWIP_ERRNO_STDINCLUDE 1

void gw_lwip_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gw_lwip_assert(const char *msg, const char *file, int line) __attribute__((noreturn));
uint32_t gw_lwip_rand(void);

#define LWIP_PLATFORM_DIAG(x) do { gw_lwip_diag x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) gw_lwip_assert((x), __FILE__, __LINE__)
#define LWIP_RAND() gw_lwip_rand()

#endif
